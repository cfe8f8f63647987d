"""Absolute addresses for links members and travellers open."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def absolute_url(path: str, *, request: HttpRequest | None = None) -> str:
    """The address a person opens for ``path``.

    ``SAFEPASSAGE_BASE_URL`` (by default the address the development server
    listens on). Only a development server on a wildcard address
    (``SAFEPASSAGE_ADDR=0.0.0.0:8000``), which names no host a browser can
    open, takes the host of the request being answered; that host has passed
    ``ALLOWED_HOSTS``. Production never reads a Host header here.
    """
    if request is not None and settings.SAFEPASSAGE_BASE_URL_FROM_REQUEST:
        return request.build_absolute_uri(path)
    return settings.SAFEPASSAGE_BASE_URL.rstrip("/") + path
