"""What every coordinator page does before its own work.

- an anonymous visitor is sent to the login page;
- a member still awaiting approval sees only the awaiting-approval page;
- anyone who is not an approved coordinator gets the same 404 as a missing
  page (never a 403 that confirms the page exists);
- times are read and shown in the member's own time zone;
- pages carry decrypted records, so browsers are told not to keep them.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from safepassage import roles
from safepassage.core.errors import ServiceError

if TYPE_CHECKING:
    from safepassage.members.models import Member
    from safepassage.vault.keyring import Keyring


class MemberRequest(HttpRequest):
    """A request that passed one of the guards below: a logged-in member whose
    keyring the vault middleware has put in force."""

    user: Member  # type: ignore[assignment]
    keyring: Keyring


def member_zone(member) -> zoneinfo.ZoneInfo:
    """The member's time zone, or UTC when none (or an unknown one) is set."""
    name = getattr(member, "time_zone", "") or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def is_awaiting_approval(member) -> bool:
    from safepassage.members.models import MemberStatus

    return bool(
        getattr(member, "is_authenticated", False)
        and member.status == MemberStatus.AWAITING_APPROVAL
    )


def in_member_zone(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run ``view`` with the logged-in member's time zone active."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with timezone.override(member_zone(request.user)):
            return view(request, *args, **kwargs)

    return wrapped


def coordinator_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Guard a coordinator page (see the module docstring)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if is_awaiting_approval(user):
            return redirect("members:awaiting")
        if not roles.is_coordinator(user):
            raise Http404
        with timezone.override(member_zone(user)):
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapped


def member_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Any logged-in member (for their own account pages)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        with timezone.override(member_zone(request.user)):
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapped


def refuse(form, error: ServiceError) -> None:
    """Show a service's refusal on the form (nothing was changed)."""
    form.add_error(None, str(error))


def posted(request: HttpRequest):
    """The form data of a POST (even an empty one), or None to leave a form unbound."""
    return request.POST if request.method == "POST" else None


def posted_files(request: HttpRequest):
    return request.FILES if request.method == "POST" else None
