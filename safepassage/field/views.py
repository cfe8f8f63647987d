"""Field pages: what a cell member needs to run their own legs, and nothing else.

Made for a cheap phone over a slow, watched connection: tiny self-contained
pages, no JavaScript, nothing kept by the browser (``Cache-Control:
no-store``), and a quick-exit button on every page that ends the session and
lands on a harmless weather page.

A member sees each of their legs and the two handoffs at its ends. Never the
traveller, the case, the journey's title or any other leg: those live in
compartments their keys do not open, and these pages do not ask for them.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safepassage import roles
from safepassage.core.errors import ServiceError
from safepassage.journeys import selectors as journeys
from safepassage.journeys import services as journey_services
from safepassage.journeys.models import Handoff, Leg, LegStatus, TransportKind
from safepassage.members.models import MemberStatus
from safepassage.members.services import log_out

from .forms import HANDED_OFF, START, LegActionForm

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}


def member_zone_name(member) -> str:
    """The member's time zone name, or UTC when none (or an unknown one) is set."""
    name = getattr(member, "time_zone", "") or "UTC"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # includes no-store and private
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "field/not_found.html", status=404)


def field_view(
    *, coordinators_to_dashboard: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Guard a field page.

    - an anonymous visitor goes to the login page;
    - anyone but an approved cell member gets the field page's 404 (a
      coordinator asking for the field start page goes to the dashboard
      instead, and a member awaiting approval to the waiting page);
    - the view runs in the member's time zone, and nothing is cached.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return no_store(redirect_to_login(request.get_full_path()))
            if coordinators_to_dashboard and roles.is_coordinator(user):
                return no_store(redirect("dashboard:home"))
            if coordinators_to_dashboard and user.status == MemberStatus.AWAITING_APPROVAL:
                return no_store(redirect("members:awaiting"))
            if not roles.is_cell_member(user):
                return no_store(_not_found(request))
            zone = member_zone_name(user)
            try:
                with timezone.override(zoneinfo.ZoneInfo(zone)):
                    response = view(request, *args, **kwargs)
            except Http404:
                response = _not_found(request)
            return no_store(response)

        return wrapped

    return decorate


# --- what the pages show --------------------------------------------------------------


@dataclass
class HandoffCard:
    """One handoff as the member sees it from their leg."""

    handoff: Handoff
    # True where the member receives the traveller (the start of their leg):
    # the arriving side says the challenge, the member answers with the response.
    member_receives: bool
    readable: bool

    @property
    def heading(self) -> str:
        if self.member_receives:
            if self.handoff.is_pickup:
                return _("Pickup: where the traveller joins you")
            return _("Start: where you receive the traveller")
        if self.handoff.is_arrival:
            return _("Arrival: where the journey ends")
        return _("End: where you hand the traveller on")

    @property
    def has_photo(self) -> bool:
        return self.readable and self.handoff.photo_type in PHOTO_TYPES


@dataclass
class LegCard:
    leg: Leg
    readable: bool
    start: HandoffCard | None
    end: HandoffCard | None

    @property
    def transport_label(self) -> str:
        value = str(self.leg.transport or "") if self.readable else ""
        if value in TransportKind.values:
            return str(TransportKind(value).label)
        return value

    @property
    def can_start(self) -> bool:
        return self.leg.status == LegStatus.PLANNED

    @property
    def can_hand_off(self) -> bool:
        return self.leg.status == LegStatus.STARTED


def _handoff_at(leg: Leg, name: str) -> Handoff | None:
    try:
        return getattr(leg, name)
    except Handoff.DoesNotExist:
        return None


def _cards(request: HttpRequest, legs: list[Leg]) -> list[LegCard]:
    """Cards for ``legs``; a record whose key has not reached the member yet
    (a grant waiting for a coordinator) is shown as not yet available."""
    keyring = request.keyring  # type: ignore[attr-defined]
    ends = {
        leg.pk: (_handoff_at(leg, "start_handoff"), _handoff_at(leg, "end_handoff")) for leg in legs
    }
    compartments = {leg.compartment_id for leg in legs}
    compartments |= {h.compartment_id for pair in ends.values() for h in pair if h is not None}
    keyring.load(compartments)

    def card(handoff: Handoff | None, receives: bool) -> HandoffCard | None:
        if handoff is None:
            return None
        return HandoffCard(handoff, receives, keyring.can_open(handoff.compartment_id))

    return [
        LegCard(
            leg,
            keyring.can_open(leg.compartment_id),
            card(ends[leg.pk][0], True),
            card(ends[leg.pk][1], False),
        )
        for leg in legs
    ]


def _context(member, **extra) -> dict:
    return {"zone": member_zone_name(member), **extra}


# --- pages ------------------------------------------------------------------------------


@require_GET
@field_view(coordinators_to_dashboard=True)
def my_legs(request: HttpRequest) -> HttpResponse:
    legs = list(journeys.my_field_legs(request.user))
    return render(
        request,
        "field/my_legs.html",
        _context(request.user, cards=_cards(request, legs), title=_("My legs")),
    )


@require_http_methods(["GET", "POST"])
@field_view()
def leg_detail(request: HttpRequest, leg) -> HttpResponse:
    record = journeys.get_leg(request.user, leg)
    form = LegActionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        action = form.cleaned_data["action"]
        try:
            if action == START:
                journey_services.do_mark_leg_started(actor=request.user, leg=record)
                messages.success(request, _("Leg started. You have the traveller."))
            elif action == HANDED_OFF:
                journey_services.do_mark_leg_handed_off(actor=request.user, leg=record)
                messages.success(request, _("Handed off. Thank you: this leg is done."))
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            return redirect("field:leg", leg=record.pk)
    (card,) = _cards(request, [record])
    return render(
        request,
        "field/leg.html",
        _context(request.user, card=card, form=form, title=_("Your leg")),
    )


@require_GET
@field_view()
def handoff_photo(request: HttpRequest, handoff) -> HttpResponse:
    record = journeys.get_handoff(request.user, handoff)
    keyring = request.keyring  # type: ignore[attr-defined]
    if not keyring.can_open(record.compartment_id) or record.photo_type not in PHOTO_TYPES:
        raise Http404
    photo = record.photo
    if not photo:
        raise Http404
    response = HttpResponse(bytes(photo), content_type=record.photo_type)
    response["Content-Disposition"] = "inline"
    return response


# The quick exit must work from any page at any moment, even a page left open
# until its CSRF token went stale: a CSRF failure page would strand the member.
# Exempting it is safe: every cookie is SameSite=Strict, so a cross-site POST
# carries no session and can end nothing.
@csrf_exempt
@require_POST
def quick_exit(request: HttpRequest) -> HttpResponse:
    log_out(request)
    response = redirect("field:weather")
    # Ask the browser to drop this site's cookies, cache and storage too.
    response["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return no_store(response)


@require_GET
def weather(request: HttpRequest) -> HttpResponse:
    """A plain page with nothing of ours on it: where the quick exit lands."""
    return no_store(render(request, "field/weather.html"))
