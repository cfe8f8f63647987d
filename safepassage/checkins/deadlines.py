"""Keeping a leg's deadlines in step with its window, plan and progress.

Rules (each runs inside the calling service's transaction):

- departed: due at the leg's ``window_start`` while the leg is planned;
- handed off: due at ``window_end`` while the leg is planned or started;
- in transit: rolls: due ``interval`` minutes after the leg starts, then
  after each check-in (none when ``interval`` is 0);
- each alerts at due + its grace (``alert_at``).

Only pending deadlines are changed. A deadline that was met or missed is
history; when the window moves, a new pending deadline is made for the new
time, but never a second one for a time that already had one (so a missed
deadline does not alert twice because its leg was saved again).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from safepassage.journeys.models import OPEN_LEG_STATUSES, Leg, LegStatus

from .models import (
    CheckinPlan,
    Deadline,
    DeadlineKind,
    DeadlineState,
    defaults_for,
)


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("deadline changes must run inside the calling service's transaction")


def _one_at_a_time(leg: Leg) -> None:
    """Inside the calling service's transaction, hold the leg's row until it
    ends, so that changes to its deadlines (two check-ins at once, a check-in
    racing a hand-off) run one after the other and each sees what the one
    before wrote. Without it, on PostgreSQL the second would find no pending
    deadline left to meet and its new one would break the
    one-pending-deadline constraint, losing a check-in. SQLite runs one
    writing transaction at a time already (and ignores the lock)."""
    _in_transaction()
    if transaction.get_connection().features.has_select_for_update:
        list(Leg.objects.select_for_update().filter(pk=leg.pk).values_list("pk", flat=True))


def plan_for(leg: Leg) -> CheckinPlan:
    """The leg's plan, made from its transport's defaults if it has none yet."""
    plan = CheckinPlan.objects.filter(leg=leg).first()
    if plan is None:
        plan = CheckinPlan(leg=leg)
        apply_defaults(plan, transport_of(leg))
        plan.save()
    return plan


def transport_of(leg: Leg) -> str | None:
    """The leg's transport when the keys in force open it (else the fallback)."""
    from safepassage.vault.keyring import Locked

    try:
        value = leg.transport
    except Locked:
        return None
    return value if isinstance(value, str) else None


def apply_defaults(plan: CheckinPlan, transport: str | None) -> None:
    d = defaults_for(transport)
    plan.departed_grace = d.departed_grace
    plan.interval = d.interval
    plan.interval_grace = d.interval_grace
    plan.handed_off_grace = d.handed_off_grace
    plan.is_custom = False


def _organisation_id(leg: Leg):
    return leg.compartment.organisation_id


def _set_pending(leg: Leg, kind: str, due: datetime | None, grace_minutes: int) -> None:
    """Make the pending deadline of ``kind`` due at ``due`` (or cancel it when None)."""
    pending = Deadline.objects.filter(leg=leg, kind=kind, state=DeadlineState.PENDING).first()
    if due is None:
        if pending is not None:
            pending.state = DeadlineState.CANCELLED
            pending.save(update_fields=["state"])
        return
    alert_at = due + timedelta(minutes=grace_minutes)
    if pending is not None:
        if pending.due_at != due or pending.alert_at != alert_at:
            pending.due_at = due
            pending.alert_at = alert_at
            pending.save(update_fields=["due_at", "alert_at"])
        return
    if Deadline.objects.filter(leg=leg, kind=kind, due_at=due).exists():
        return  # already met, missed or cancelled for this very time
    Deadline.objects.create(
        organisation_id=_organisation_id(leg),
        leg=leg,
        kind=kind,
        due_at=due,
        alert_at=alert_at,
    )


def _last_sign_of_life(leg: Leg) -> datetime | None:
    from .models import Checkin

    last = Checkin.objects.filter(leg=leg).order_by("-at").values_list("at", flat=True).first()
    candidates = [t for t in (last, leg.started_at) if t is not None]
    return max(candidates) if candidates else None


def sync(leg: Leg, plan: CheckinPlan | None = None) -> None:
    """Bring the leg's pending deadlines in line with its window, plan and status."""
    _one_at_a_time(leg)
    plan = plan or plan_for(leg)
    if leg.status not in OPEN_LEG_STATUSES:
        _cancel_all(leg)
        return
    planned = leg.status == LegStatus.PLANNED
    _set_pending(
        leg, DeadlineKind.DEPARTED, leg.window_start if planned else None, plan.departed_grace
    )
    _set_pending(leg, DeadlineKind.HANDED_OFF, leg.window_end, plan.handed_off_grace)
    rolling_due = None
    if leg.status == LegStatus.STARTED and plan.interval:
        basis = _last_sign_of_life(leg)
        if basis is not None:
            rolling_due = basis + timedelta(minutes=plan.interval)
    _set_pending(leg, DeadlineKind.IN_TRANSIT, rolling_due, plan.interval_grace)


def meet(leg: Leg, kind: str, at: datetime) -> None:
    _one_at_a_time(leg)
    _meet(leg, kind, at)


def cancel_all(leg: Leg) -> None:
    _one_at_a_time(leg)
    _cancel_all(leg)


# The two below run where the leg's row is held already.


def _meet(leg: Leg, kind: str, at: datetime) -> None:
    Deadline.objects.filter(leg=leg, kind=kind, state=DeadlineState.PENDING).update(
        state=DeadlineState.MET, met_at=at
    )


def _cancel_all(leg: Leg) -> None:
    Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING).update(
        state=DeadlineState.CANCELLED
    )


def roll(leg: Leg, at: datetime, plan: CheckinPlan | None = None) -> datetime | None:
    """A sign of life at ``at``: the rolling deadline is met and the next one is
    due ``interval`` minutes later. Returns when the next check-in is due."""
    _one_at_a_time(leg)
    plan = plan or plan_for(leg)
    if leg.status != LegStatus.STARTED or not plan.interval:
        _meet(leg, DeadlineKind.IN_TRANSIT, at)
        return None
    due = at + timedelta(minutes=plan.interval)
    pending = Deadline.objects.filter(
        leg=leg, kind=DeadlineKind.IN_TRANSIT, state=DeadlineState.PENDING
    ).first()
    if pending is not None and pending.due_at == due:
        return due  # a second sign of life in the same instant changes nothing
    _meet(leg, DeadlineKind.IN_TRANSIT, at)
    Deadline.objects.create(
        organisation_id=_organisation_id(leg),
        leg=leg,
        kind=DeadlineKind.IN_TRANSIT,
        due_at=due,
        alert_at=due + timedelta(minutes=plan.interval_grace),
    )
    return due


def next_due(leg: Leg) -> datetime | None:
    """When the leg's cell is next expected to check in (any pending deadline)."""
    return (
        Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def pending_for(leg: Leg):
    """The leg's pending deadlines, soonest first."""
    return Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING).order_by("due_at")
