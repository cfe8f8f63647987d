"""One audit entry for every request that opened a sealed value.

``SealedField.open`` is the only place a sealed value is decrypted; it
notes the record (model label and id) in the collection this middleware
opens around the request (``vault.opened``). Once the response is built,
and before it is returned, the records are written as ``record.open``
entries in their own transaction, attributed to the member whose keys were
in force. Nothing opened, nothing written: a check-in over the API or a
page of plaintext statuses costs no entry.

Fail closed: if the entry cannot be written, the answer (which may carry
the opened values) is replaced by the error page.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.views.defaults import server_error

from safepassage.vault import opened

from . import services

log = logging.getLogger("safepassage.audit")


def _reader(request: HttpRequest):
    """The member whose keys opened the records: the request's member, or the
    keyring's owner when the request ended signed out (a logout)."""
    from safepassage.members.models import Member

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and isinstance(user, Member):
        return user
    member_id = getattr(getattr(request, "keyring", None), "member_id", None)
    if member_id is None:
        return None
    return Member.objects.filter(pk=member_id).select_related("organisation").first()


class DecryptionAuditMiddleware:
    """Sits just outside ``VaultMiddleware`` (see ``settings.MIDDLEWARE``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with opened.recording() as records:
            response = self.get_response(request)
        if not records:
            return response
        try:
            reader = _reader(request)
            if reader is None:
                raise RuntimeError("sealed values were opened by no member")
            match = getattr(request, "resolver_match", None)
            services.record_opened(
                organisation=reader.organisation,
                actor=reader,
                records=list(records),
                view=match.view_name if match is not None else None,
                method=request.method or "",
            )
        except Exception:
            log.exception("the audit entry for %d opened record(s) was not written", len(records))
            return server_error(request)
        return response
