"""Puts the logged-in member's keyring in force for the request."""

from __future__ import annotations

import logging

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from . import crypto, keyring, session

log = logging.getLogger("safepassage.vault")


class VaultMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ring = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ring = session.keyring_from_request(request)
            if ring is None:
                # A session whose key material is gone opens nothing: end it.
                logout(request)
                request._vault_cookie = session.DELETE  # type: ignore[attr-defined]
        request.keyring = ring  # type: ignore[attr-defined]
        with keyring.unlocked(ring):
            response = self.get_response(request)
        session.apply_cookie(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, crypto.SealBroken):
            # Logged by the field with ids only; the page says what happened.
            return render(
                request,
                "vault/tampered.html",
                {"title": _("This record failed its integrity check")},
                status=409,
            )
        if isinstance(exception, keyring.Locked):
            # Never confirm that a record exists to someone who cannot open it.
            log.warning("locked record requested: %s", request.path)
            return render(request, "404.html", status=404)
        return None
