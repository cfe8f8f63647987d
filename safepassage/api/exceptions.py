"""Errors as JSON, with the statuses the rest of the application uses.

- ``Http404`` and ``keyring.Locked`` (the member's keys do not open the
  record): 404 ``{"detail": "Not found."}``, the same body for a missing
  record and one the member may not see;
- ``crypto.SealBroken`` (a ciphertext failed authentication): 409, like the
  pages (``vault/tampered.html``);
- ``ServiceError`` (a write refused by a service, nothing changed): 400 with
  the service's message;
- a request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's
  ``RequestDataTooBig``, which would otherwise be its HTML 400 page): 400
  ``{"detail": "The request body is too large."}``; a body nested too
  deeply is refused by ``parsers.BoundedJSONParser`` as a parse error (400);
- a request body that is not valid: 400 ``{"detail": "<field>: <first
  error>", "fields": {<field>: [<errors>]}}``, so every 400 has a ``detail``;
- anything DRF knows (401, 405, 415, ...): DRF's own answer.

Configured as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from safepassage.core.errors import ServiceError
from safepassage.vault import crypto, keyring

log = logging.getLogger("safepassage.api")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "integrity"


class Refused(exceptions.APIException):
    """A service refused the write; ``detail`` is its translated message."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "too_large"


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, crypto.SealBroken):
        # The field has logged ids and the field name; the answer says no more.
        exc = Conflict(_("This record failed its integrity check."))
    elif isinstance(exc, keyring.Locked):
        request = context.get("request")
        log.warning("locked record requested: %s", getattr(request, "path", "?"))
        exc = exceptions.NotFound()
    elif isinstance(exc, Http404):
        # Not Http404's own message: it names the model.
        exc = exceptions.NotFound()
    elif isinstance(exc, ServiceError):
        exc = Refused(str(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = TooLarge(_("The request body is too large."))
    response = drf_exception_handler(exc, context)
    if isinstance(exc, exceptions.ValidationError) and response is not None:
        response.data = {"detail": _first_error(exc.detail), "fields": response.data}
    return response


def _first_error(detail, field: str = "") -> str:
    """``"pin: This field is required."`` from a ValidationError's details."""
    if isinstance(detail, dict):
        for name, value in detail.items():
            key = name if name != "non_field_errors" else ""
            return _first_error(value, f"{field}.{key}" if field and key else key or field)
    elif isinstance(detail, list) and detail:
        return _first_error(detail[0], field)
    elif detail:
        return f"{field}: {detail}" if field else str(detail)
    return _("The request is not valid.")
