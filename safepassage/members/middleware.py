"""Pages speak the language the logged-in member chose on their preferences page.

Goes right after Django's AuthenticationMiddleware (and so after
LocaleMiddleware, whose guess from the browser it overrides for members).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from . import preferences


def member_language(user) -> str | None:
    """The language ``user`` chose, or None (anonymous, or a code no longer offered)."""
    if not getattr(user, "is_authenticated", False):
        return None
    code = getattr(user, "language", "") or ""
    return code if preferences.is_language(code) else None


class MemberLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = member_language(getattr(request, "user", None))
        if language is None:
            return self.get_response(request)
        # override() activates the language for this request and restores the
        # previous one afterwards, so it never carries over to whatever this
        # thread serves next.
        with translation.override(language):
            request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
            response = self.get_response(request)
        # LocaleMiddleware only fills this header in when it is missing.
        response.headers["Content-Language"] = language
        return response
