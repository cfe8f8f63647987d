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
from datetime import datetime

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
from safepassage.alerts import selectors as alerts
from safepassage.alerts import services as alert_services
from safepassage.alerts.models import Alert, AlertStatus
from safepassage.checkins import deadlines
from safepassage.checkins import services as checkin_services
from safepassage.core.errors import ServiceError
from safepassage.journeys import phrases
from safepassage.journeys import selectors as journeys
from safepassage.journeys import services as journey_services
from safepassage.journeys.models import (
    OPEN_LEG_STATUSES,
    Handoff,
    HandoffStatus,
    JourneyStatus,
    Leg,
    LegStatus,
    TransportKind,
)
from safepassage.members.models import MemberStatus
from safepassage.members.services import log_out

from .forms import HANDED_OFF, START, AcknowledgeForm, CheckinForm, LegActionForm, ProblemForm

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
# The last check-in's receipt, kept in the (server-side) session from the POST
# to the page it redirects to, and shown there once.
RECEIPT_KEY = "field_checkin_receipt"
# How many open alerts a cell lead sees at the top of their legs.
MAX_ALERTS_SHOWN = 10


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
    def stand_down(self) -> bool:
        return self.handoff.status == HandoffStatus.FROZEN

    @property
    def has_photo(self) -> bool:
        return self.readable and not self.stand_down and self.handoff.photo_type in PHOTO_TYPES

    # The member says the response where they receive the traveller, the
    # challenge where they hand them on; each side says its phrase in its own
    # cell's language, and reads the other's as it will be heard, with a gloss.

    @property
    def mine(self) -> phrases.Spoken | None:
        """The phrase the member says."""
        h = self.handoff
        return phrases.spoken(h.phrase_response if self.member_receives else h.phrase_challenge)

    @property
    def theirs(self) -> phrases.Spoken | None:
        """The phrase the member will hear from the other side."""
        h = self.handoff
        return phrases.spoken(h.phrase_challenge if self.member_receives else h.phrase_response)

    @property
    def their_meaning(self) -> str:
        """What the other side's phrase means, in the member's side's
        language; empty when both sides speak the same one."""
        mine, theirs = self.mine, self.theirs
        if mine is None or theirs is None:
            return ""
        return theirs.meaning(mine.language)


@dataclass
class LegCard:
    leg: Leg
    readable: bool
    start: HandoffCard | None
    end: HandoffCard | None
    # When the cell is next expected to check in (plaintext: the worker needs it).
    next_due: datetime | None = None

    @property
    def transport_label(self) -> str:
        value = str(self.leg.transport or "") if self.readable else ""
        if value in TransportKind.values:
            return str(TransportKind(value).label)
        return value

    @property
    def stand_down(self) -> bool:
        """A compromise froze the leg: its page says "Stand down" and nothing else."""
        return self.leg.status == LegStatus.FROZEN

    @property
    def can_start(self) -> bool:
        return self.leg.status == LegStatus.PLANNED

    @property
    def can_hand_off(self) -> bool:
        return self.leg.status == LegStatus.STARTED

    @property
    def is_open(self) -> bool:
        return self.leg.status in OPEN_LEG_STATUSES

    @property
    def can_check_in(self) -> bool:
        """Check-ins and problem reports are open: the leg runs and its journey
        is under way (the services refuse anything else, with a message)."""
        return self.readable and self.is_open and self.leg.journey.status == JourneyStatus.ACTIVE


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
            deadlines.next_due(leg),
        )
        for leg in legs
    ]


def _context(member, **extra) -> dict:
    return {"zone": member_zone_name(member), **extra}


# --- pages ------------------------------------------------------------------------------


@dataclass
class AlertRow:
    alert: Alert
    readable: bool
    can_acknowledge: bool


def _open_alerts(request: HttpRequest) -> list[AlertRow]:
    """Open alerts the member sees (a cell lead: those of their cell's legs;
    anyone: the problems they reported), most severe first, then newest, with
    an Acknowledge button only where they may handle it. Duress alerts never
    reach the field pages. An alert is named by its leg (number and, to a
    holder of the leg's key, its route), never by its case or journey: those
    are sealed where a cell member's keys do not reach."""
    member = request.user
    found = list(
        alerts.most_urgent_first(
            alerts.alerts_for(member).filter(status=AlertStatus.OPEN).select_related("leg")
        )[:MAX_ALERTS_SHOWN]
    )
    keyring = request.keyring  # type: ignore[attr-defined]
    keyring.load({a.compartment_id for a in found if a.compartment_id})
    return [
        AlertRow(
            alert,
            alert.compartment_id is not None and keyring.can_open(alert.compartment_id),
            alert_services.can_handle(member, alert),
        )
        for alert in found
    ]


def _render_my_legs(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    legs = list(journeys.my_field_legs(request.user))
    return render(
        request,
        "field/my_legs.html",
        _context(
            request.user,
            cards=_cards(request, legs),
            alert_rows=_open_alerts(request),
            error=error,
            title=_("My legs"),
        ),
        status=status,
    )


@require_GET
@field_view(coordinators_to_dashboard=True)
def my_legs(request: HttpRequest) -> HttpResponse:
    return _render_my_legs(request)


@require_http_methods(["GET", "POST"])
@field_view()
def acknowledge(request: HttpRequest) -> HttpResponse:
    """A cell lead acknowledges an open alert of their leg: it stops climbing."""
    if request.method != "POST":
        return redirect("field:my_legs")
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        raise Http404
    record = alerts.get_alert(request.user, form.cleaned_data["alert"])
    try:
        alert_services.do_acknowledge_alert(actor=request.user, alert=record)
    except ServiceError as error:
        return _render_my_legs(request, error=str(error))
    messages.success(request, _("Acknowledged. Your coordinators can see you are on it."))
    return redirect("field:my_legs")


def _receipt(request: HttpRequest, leg: Leg) -> dict | None:
    """The receipt of a check-in just made on ``leg``, once: the next leg page
    shown takes it out of the session, whichever leg it is for."""
    kept = request.session.pop(RECEIPT_KEY, None)
    if not kept or kept.get("leg") != str(leg.pk):
        return None
    next_due = kept.get("next_due")
    return {
        "message": kept["message"],
        "at": datetime.fromisoformat(kept["at"]),
        "next_due": datetime.fromisoformat(next_due) if next_due else None,
    }


def _stand_down(request: HttpRequest) -> HttpResponse:
    """The page of a frozen leg, whatever was asked of it: no place, time,
    vehicle or phrase, and no action."""
    return render(request, "field/stand_down.html", _context(request.user, title=_("Stand down")))


def _render_leg(
    request: HttpRequest,
    record: Leg,
    *,
    form: LegActionForm | None = None,
    checkin_form: CheckinForm | None = None,
    problem_form: ProblemForm | None = None,
) -> HttpResponse:
    (card,) = _cards(request, [record])
    return render(
        request,
        "field/leg.html",
        _context(
            request.user,
            card=card,
            form=form if form is not None else LegActionForm(),
            checkin_form=checkin_form if checkin_form is not None else CheckinForm(),
            problem_form=problem_form if problem_form is not None else ProblemForm(),
            has_pins=checkin_services.has_pins(request.user),
            receipt=_receipt(request, record) if request.method == "GET" else None,
            title=_("Your leg"),
        ),
    )


@require_http_methods(["GET", "POST"])
@field_view()
def leg_detail(request: HttpRequest, leg) -> HttpResponse:
    record = journeys.get_leg(request.user, leg)
    if record.status == LegStatus.FROZEN:
        return _stand_down(request)
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
    return _render_leg(request, record, form=form if request.method == "POST" else None)


@require_http_methods(["GET", "POST"])
@field_view()
def check_in(request: HttpRequest, leg) -> HttpResponse:
    """A check-in. A normal and a duress PIN get the very same answer: the
    same redirect to the same receipt; only the server knows the difference."""
    record = journeys.get_leg(request.user, leg)
    if request.method != "POST" or record.status == LegStatus.FROZEN:
        return redirect("field:leg", leg=record.pk)
    form = CheckinForm(request.POST)
    if form.is_valid():
        try:
            receipt = checkin_services.do_check_in(
                actor=request.user,
                leg=record,
                pin=form.cleaned_data["pin"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            request.session[RECEIPT_KEY] = {
                "leg": str(record.pk),
                "message": receipt.message,
                "at": receipt.at.isoformat(),
                "next_due": receipt.next_due_at.isoformat() if receipt.next_due_at else None,
            }
            return redirect("field:leg", leg=record.pk)
    return _render_leg(request, record, checkin_form=form)


@require_http_methods(["GET", "POST"])
@field_view()
def report_problem(request: HttpRequest, leg) -> HttpResponse:
    """A problem on the leg (an unscheduled stop, a demand for money, ...):
    an alert for the coordinators, recorded against the leg."""
    record = journeys.get_leg(request.user, leg)
    if request.method != "POST" or record.status == LegStatus.FROZEN:
        return redirect("field:leg", leg=record.pk)
    form = ProblemForm(request.POST)
    if form.is_valid():
        try:
            checkin_services.do_report_problem(
                actor=request.user,
                leg=record,
                kind=form.cleaned_data["kind"],
                details=form.cleaned_data["details"],
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Your coordinators have been alerted."))
            return redirect("field:leg", leg=record.pk)
    return _render_leg(request, record, problem_form=form)


@require_GET
@field_view()
def handoff_photo(request: HttpRequest, handoff) -> HttpResponse:
    record = journeys.get_handoff(request.user, handoff)
    keyring = request.keyring  # type: ignore[attr-defined]
    if record.status == HandoffStatus.FROZEN:
        raise Http404
    if not keyring.can_open(record.compartment_id) or record.photo_type not in PHOTO_TYPES:
        raise Http404
    photo = journey_services.do_clean_stored_photo(actor=request.user, handoff=record)
    if not photo:
        raise Http404
    response = HttpResponse(photo, content_type=record.photo_type)
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
