"""Called by ``journeys.services`` where a leg is created, changed, started or
handed off, inside that service's transaction, to keep deadlines in step."""

from __future__ import annotations

from datetime import datetime

from safepassage.journeys.models import Leg

from . import deadlines
from .models import Checkin, CheckinKind, CheckinPlan, DeadlineKind


def leg_saved(*, leg: Leg) -> None:
    """A leg was added or its window, transport or status changed."""
    plan = CheckinPlan.objects.filter(leg=leg).first()
    if plan is None:
        plan = deadlines.plan_for(leg)
    elif not plan.is_custom:
        before = (plan.departed_grace, plan.interval, plan.interval_grace, plan.handed_off_grace)
        deadlines.apply_defaults(plan, deadlines.transport_of(leg))
        after = (plan.departed_grace, plan.interval, plan.interval_grace, plan.handed_off_grace)
        if before != after:
            plan.save()
    deadlines.sync(leg, plan)


def leg_started(*, leg: Leg, actor, at: datetime) -> None:
    """The cell has the traveller: departure met, the rolling check-ins begin."""
    deadlines.meet(leg, DeadlineKind.DEPARTED, at)
    Checkin.objects.create(
        leg=leg, compartment_id=leg.compartment_id, member=actor, kind=CheckinKind.STARTED, at=at
    )
    deadlines.sync(leg)


def leg_handed_off(*, leg: Leg, actor, at: datetime) -> None:
    """Handing off meets the handed-off deadline and ends the rolling one."""
    deadlines.meet(leg, DeadlineKind.HANDED_OFF, at)
    Checkin.objects.create(
        leg=leg,
        compartment_id=leg.compartment_id,
        member=actor,
        kind=CheckinKind.HANDED_OFF,
        at=at,
    )
    deadlines.sync(leg)
