"""Check-ins, problem reports, PINs and check-in plans.

A check-in made with the member's duress PIN does everything a normal one
does (the same check-in row, the same rolling deadline, the same receipt)
and, in the same transaction, raises a critical duress alert that the
sender's side never shows.

Refusals (an unknown, foreign or finished leg, a wrong PIN) are written to
the audit log in their own transaction before the ServiceError is raised,
so the attempt is on record even though nothing else changes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.alerts.escalation import raise_alert
from safepassage.alerts.models import PROBLEM_KINDS, Alert, AlertKind
from safepassage.audit import services as audit
from safepassage.cells.models import CellMembership
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import OPEN_LEG_STATUSES, JourneyStatus, Leg

from . import deadlines
from .models import Checkin, CheckinKind, CheckinPlan, MemberPins

PIN_PATTERN = re.compile(r"^[0-9]{4,12}$")
MAX_NOTE = 2000
MAX_GRACE_MINUTES = 24 * 60
MIN_INTERVAL_MINUTES = 5


@dataclass(frozen=True)
class CheckinReceipt:
    """What the sender is shown. The same for a normal and a duress check-in."""

    at: datetime
    next_due_at: datetime | None
    message: str


def _refuse(*, actor, verb: str, reason: str, message: str, target=None) -> ServiceError:
    """Record the refusal durably and return the error to raise."""
    with transaction.atomic():
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb=verb,
            target=target,
            detail={"reason": reason},
        )
    return ServiceError(message)


def _field_leg(*, actor, leg, verb: str) -> Leg:
    """The leg as a member of its cell may act on it, or a recorded refusal.

    ``leg`` may be a Leg or an id (a field form or a bridge sends ids). An
    unknown leg and someone else's leg get the same message, so the answer
    does not confirm that a leg exists.
    """
    not_yours = _("This leg is not one of yours, or it does not exist.")
    if not isinstance(leg, Leg):
        try:
            leg_id = uuid.UUID(str(leg))
        except (TypeError, ValueError):
            leg_id = None
        found = (
            Leg.objects.select_related("journey").filter(pk=leg_id).first()
            if leg_id is not None
            else None
        )
        if found is None:
            raise _refuse(actor=actor, verb=verb, reason="unknown_leg", message=not_yours)
        leg = found
    same_org = leg.compartment.organisation_id == actor.organisation_id
    if (
        not same_org
        or leg.cell_id is None
        # Before its release the leg is not the cell's yet: same refusal.
        or leg.released_at is None
        or not roles.is_cell_member(actor)
        or not CellMembership.objects.filter(cell_id=leg.cell_id, member=actor).exists()
    ):
        raise _refuse(
            actor=actor,
            verb=verb,
            reason="foreign_leg",
            message=not_yours,
            target=leg if same_org else None,
        )
    if leg.status not in OPEN_LEG_STATUSES or leg.journey.status in (
        JourneyStatus.COMPLETED,
        JourneyStatus.ABORTED,
    ):
        raise _refuse(
            actor=actor,
            verb=verb,
            reason="finished_leg",
            message=_("This leg is finished: check-ins and reports are closed."),
            target=leg,
        )
    if leg.journey.status != JourneyStatus.ACTIVE:
        raise _refuse(
            actor=actor,
            verb=verb,
            reason="journey_not_started",
            message=_("This journey has not been started by its coordinators yet."),
            target=leg,
        )
    return leg


# --- check-ins -------------------------------------------------------------------------


def do_check_in(
    *, actor, leg, pin: str, note: str = "", now: datetime | None = None
) -> CheckinReceipt:
    """Record a sign of life for ``leg``. With the duress PIN, also raise a
    critical duress alert; the receipt is the same either way."""
    leg = _field_leg(actor=actor, leg=leg, verb="checkin.refused")
    if len(note) > MAX_NOTE:
        raise _refuse(
            actor=actor,
            verb="checkin.refused",
            reason="note_too_long",
            message=_("The note is too long."),
            target=leg,
        )
    pins = MemberPins.objects.filter(member=actor).first()
    if pins is None:
        raise _refuse(
            actor=actor,
            verb="checkin.refused",
            reason="no_pins",
            message=_("Set your check-in PIN before checking in."),
            target=leg,
        )
    # Both hashes are always checked, so the time taken does not tell them apart.
    normal = check_password(pin, pins.checkin_pin)
    duress = check_password(pin, pins.duress_pin)
    if not (normal or duress):
        raise _refuse(
            actor=actor,
            verb="checkin.refused",
            reason="wrong_pin",
            message=_("That PIN is not right."),
            target=leg,
        )
    now = now or timezone.now()
    with transaction.atomic():
        checkin = Checkin(
            leg=leg,
            compartment_id=leg.compartment_id,
            member=actor,
            kind=CheckinKind.CHECKIN,
            at=now,
        )
        if note.strip():
            checkin.note = note.strip()
        checkin.save()
        deadlines.roll(leg, now)
        audit.record(
            organisation=actor.organisation, actor=actor, verb="checkin.create", target=checkin
        )
        if duress and not normal:
            alert = raise_alert(
                organisation_id=actor.organisation_id,
                kind=AlertKind.DURESS,
                now=now,
                leg=leg,
                raised_by=actor,
            )
            audit.record(
                organisation=actor.organisation,
                actor=actor,
                verb="alert.raise",
                target=alert,
                detail={"kind": AlertKind.DURESS},
            )
        next_due = deadlines.next_due(leg)
    return CheckinReceipt(at=now, next_due_at=next_due, message=_("Check-in received. Thank you."))


# --- problem reports ---------------------------------------------------------------------


def do_report_problem(
    *, actor, leg, kind: str, details: str = "", now: datetime | None = None
) -> Alert:
    """A cell reports something off the plan; each kind is its own alert,
    recorded against the leg. The details are sealed in the leg's compartment."""
    leg = _field_leg(actor=actor, leg=leg, verb="alert.report_refused")
    if kind not in PROBLEM_KINDS:
        raise _refuse(
            actor=actor,
            verb="alert.report_refused",
            reason="unknown_kind",
            message=_("Choose what kind of problem this is."),
            target=leg,
        )
    details = details.strip()
    if kind == AlertKind.OTHER and not details:
        raise ServiceError(_("Say what happened."))
    if len(details) > MAX_NOTE:
        raise ServiceError(_("The details are too long."))
    now = now or timezone.now()
    with transaction.atomic():
        alert = raise_alert(
            organisation_id=actor.organisation_id,
            kind=kind,
            now=now,
            leg=leg,
            raised_by=actor,
            details=details or None,
        )
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="alert.report",
            target=alert,
            detail={"kind": kind},
        )
    return alert


# --- PINs --------------------------------------------------------------------------------


def do_set_pins(*, actor, checkin_pin: str, duress_pin: str) -> None:
    """Set the member's check-in PIN and duress PIN (4 to 12 digits, different)."""
    if not roles.is_cell_member(actor):
        raise ServiceError(_("Only a cell member checks in."))
    if not PIN_PATTERN.match(checkin_pin or "") or not PIN_PATTERN.match(duress_pin or ""):
        raise ServiceError(_("A PIN is 4 to 12 digits."))
    if checkin_pin == duress_pin:
        raise ServiceError(_("The duress PIN must differ from the check-in PIN."))
    with transaction.atomic():
        MemberPins.objects.update_or_create(
            member=actor,
            defaults={
                "checkin_pin": make_password(checkin_pin),
                "duress_pin": make_password(duress_pin),
            },
        )
        audit.record(organisation=actor.organisation, actor=actor, verb="checkin.pins")


def has_pins(member) -> bool:
    return MemberPins.objects.filter(member=member).exists()


# --- plans -------------------------------------------------------------------------------


def do_set_checkin_plan(
    *,
    actor,
    leg: Leg,
    departed_grace: int,
    interval: int,
    interval_grace: int,
    handed_off_grace: int,
) -> CheckinPlan:
    """A coordinator of the case sets the leg's expected check-ins (minutes).
    Pending deadlines follow at once."""
    roles.require_case_coordinator(actor, leg.journey.case)
    if leg.status not in OPEN_LEG_STATUSES or leg.journey.status in (
        JourneyStatus.COMPLETED,
        JourneyStatus.ABORTED,
    ):
        raise ServiceError(_("This leg is finished: its check-in plan can no longer change."))
    for value in (departed_grace, interval_grace, handed_off_grace):
        if not 0 <= value <= MAX_GRACE_MINUTES:
            raise ServiceError(_("A grace period is between 0 and 1440 minutes."))
    if interval and not MIN_INTERVAL_MINUTES <= interval <= MAX_GRACE_MINUTES:
        raise ServiceError(_("Check in every 5 to 1440 minutes, or 0 for no check-ins in transit."))
    with transaction.atomic():
        plan = deadlines.plan_for(leg)
        plan.departed_grace = departed_grace
        plan.interval = interval
        plan.interval_grace = interval_grace
        plan.handed_off_grace = handed_off_grace
        plan.is_custom = True
        plan.save()
        deadlines.sync(leg, plan)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="checkin.plan",
            target=leg,
            detail={"interval": interval},
        )
    return plan
