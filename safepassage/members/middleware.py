"""Middleware for logged-in members: the language they chose, and what their
session may reach (second factor, idle expiry)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from . import preferences, second_factor


def member_language(user) -> str | None:
    """The language ``user`` chose, or None (anonymous, or a code no longer offered)."""
    if not getattr(user, "is_authenticated", False):
        return None
    code = getattr(user, "language", "") or ""
    return code if preferences.is_language(code) else None


class MemberLanguageMiddleware:
    """Pages speak the language the logged-in member chose on their preferences page.

    Goes right after Django's AuthenticationMiddleware (and so after
    LocaleMiddleware, whose guess from the browser it overrides for members).
    """

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


# Requests that are not the member doing anything: they must not keep an
# unattended session alive (the header badge polls every 20 seconds).
PASSIVE_VIEWS = frozenset({"notifications:badge"})
# What a coordinator's session may reach before their second factor.
BEFORE_SECOND_FACTOR = frozenset({"members:second_factor", "members:logout"})


def _view_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return None


class MemberSessionMiddleware:
    """What a logged-in member's session may do, on every request.

    - A coordinator who has not yet given their authenticator code in this
      session reaches only the second-factor step and logging out; anything
      else is sent there (API calls get 401).
    - Each request renews the idle expiry (``SESSION_IDLE_MINUTES``), except
      passive ones such as the badge's polling, so an unattended page does
      not stay logged in. (``SESSION_SAVE_EVERY_REQUEST`` is off for that.)

    Goes after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        name = _view_name(request)
        if (
            second_factor.required(user)
            and not second_factor.is_verified(request)
            and name not in BEFORE_SECOND_FACTOR
            and not request.path_info.startswith(settings.STATIC_URL)
        ):
            return self._refuse(request)
        if name not in PASSIVE_VIEWS:
            request.session.modified = True
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": str(_("Enter the code from your authenticator app first."))},
                status=401,
            )
        target = reverse("members:second_factor")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(target)
