"""End to end: the failures rescue networks documented, each caught in time.

Time is driven by passing ``now`` to the worker's functions, never by sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from safepassage.alerts import selectors
from safepassage.alerts.models import Alert, AlertKind, AlertStatus, Severity
from safepassage.alerts.services import do_acknowledge_alert
from safepassage.alerts.worker import escalate_due, raise_overdue, tick
from safepassage.checkins.models import Deadline, DeadlineKind, DeadlineState
from safepassage.checkins.services import do_check_in, do_report_problem
from safepassage.journeys.selectors import get_journey
from safepassage.notifications.models import Notification
from safepassage.roles import Role
from safepassage.vault.keyring import Locked, unlocked
from tests.alerts.support import CHECKIN_PIN, make_lead, start_first_leg
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def told(alert) -> dict:
    return dict(Notification.objects.filter(alert=alert).values_list("member_id", "level"))


def test_unscheduled_stop_reported_by_the_cell_reaches_the_case_coordinator(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        alert = do_report_problem(
            actor=member,
            leg=leg,
            kind=AlertKind.UNSCHEDULED_STOP,
            details="Driver stopped at a petrol station with cameras",
        )
    # The case's coordinators have it in their inbox and were told at once
    # (the cell has no lead, so the empty first level is passed over).
    assert alert in selectors.inbox(world.coord)
    assert alert in selectors.inbox(world.coord2)
    assert told(alert) == {world.coord.pk: 1, world.coord2.pk: 1}
    assert alert.severity == Severity.WARNING and alert.status == AlertStatus.OPEN
    # The details are sealed in the leg's compartment: the coordinator opens them...
    with unlocked(world.coord_keyring):
        assert selectors.get_alert(world.coord, alert.pk).details.startswith("Driver stopped")
    raw = Alert.objects.filter(pk=alert.pk).values_list("details", flat=True).get()
    assert b"petrol" not in bytes(raw)
    # ...another cell's member neither sees the alert nor opens it.
    other_member, other_ring = world.member(1)
    assert not selectors.alerts_for(other_member).exists()
    with unlocked(other_ring), pytest.raises(Locked):
        _ = Alert.objects.get(pk=alert.pk).details
    # It is on the journey's timeline.
    timeline = selectors.journey_timeline(get_journey(world.coord, world.journey.pk))
    assert [e.alert.kind for e in timeline if e.is_alert] == [AlertKind.UNSCHEDULED_STOP]


def test_demand_for_more_money_is_recorded_against_the_leg_and_alerts(world):
    leg, member, ring = start_first_leg(world)
    lead, _lead_ring = make_lead(world, 0, 1)
    with unlocked(ring):
        alert = do_report_problem(
            actor=member,
            leg=leg.pk,
            kind=AlertKind.MONEY_DEMAND,
            details="Broker wants 3000 yuan more before going on",
        )
    recorded = Alert.objects.get(leg=leg, kind=AlertKind.MONEY_DEMAND)
    assert recorded.pk == alert.pk and recorded.raised_by == member
    assert recorded.case_id == world.case.pk and recorded.compartment_id == leg.compartment_id
    # A warning starts with the cell's lead, then climbs if nobody acknowledges.
    assert told(alert) == {lead.pk: 0}
    assert alert in selectors.inbox(lead)
    assert alert in selectors.inbox(world.coord)  # the case's coordinators see it meanwhile
    assert escalate_due(now=alert.raised_at + timedelta(minutes=5)) == 1
    assert told(alert) == {lead.pk: 0, world.coord.pk: 1, world.coord2.pk: 1}
    with unlocked(world.coord_keyring):
        assert "3000 yuan" in Alert.objects.get(pk=alert.pk).details


def test_critical_problem_reports_start_with_the_coordinators(world):
    leg, member, ring = start_first_leg(world)
    _lead, _ = make_lead(world, 0, 1)
    with unlocked(ring):
        alert = do_report_problem(actor=member, leg=leg, kind=AlertKind.POLICE_CHECK)
    assert alert.severity == Severity.CRITICAL and alert.escalation_level == 1
    assert set(told(alert)) == {world.coord.pk, world.coord2.pk}


def test_a_leg_that_stops_checking_in_alerts_at_its_deadline_and_escalates(world):
    leg, member, ring = start_first_leg(world)
    lead, _lead_ring = make_lead(world, 0, 1)
    third, _third_ring = make_member(world.coord, world.coord_keyring, role=Role.COORDINATOR)
    checked_at = leg.started_at + timedelta(minutes=30)
    with unlocked(ring):
        do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN, now=checked_at)
    # Then silence. Due an hour later, alerting after 15 minutes' grace.
    deadline = Deadline.objects.get(
        leg=leg, kind=DeadlineKind.IN_TRANSIT, state=DeadlineState.PENDING
    )
    alert_at = checked_at + timedelta(minutes=75)
    assert deadline.alert_at == alert_at

    assert raise_overdue(now=alert_at - timedelta(seconds=1)) == 0
    assert not Alert.objects.exists()
    assert tick(now=alert_at)["raised"] == 1
    alert = Alert.objects.get(deadline=deadline)
    assert alert.kind == AlertKind.MISSED_CHECKIN and alert.leg_id == leg.pk
    assert alert.details is None  # the worker knows nothing it could seal
    deadline.refresh_from_db()
    assert deadline.state == DeadlineState.MISSED
    # The cell's lead first...
    assert told(alert) == {lead.pk: 0}
    # ...exactly once, however often the worker looks.
    assert raise_overdue(now=alert_at + timedelta(minutes=1)) == 0
    assert Alert.objects.count() == 1

    # Nobody acknowledges: after 5 minutes the case's coordinators...
    assert escalate_due(now=alert_at + timedelta(minutes=4, seconds=59)) == 0
    assert escalate_due(now=alert_at + timedelta(minutes=5)) == 1
    assert told(alert) == {lead.pk: 0, world.coord.pk: 1, world.coord2.pk: 1}
    # ...and 10 minutes later every coordinator of the organisation.
    assert escalate_due(now=alert_at + timedelta(minutes=14)) == 0
    assert escalate_due(now=alert_at + timedelta(minutes=15)) == 1
    alert.refresh_from_db()
    assert alert.escalation_level == 2 and alert.next_escalation_at is None
    assert told(alert) == {lead.pk: 0, world.coord.pk: 1, world.coord2.pk: 1, third.pk: 2}
    # The coordinator outside the case now sees it (kind and time), not its leg's secrets.
    assert alert in selectors.inbox(third)
    assert escalate_due(now=alert_at + timedelta(hours=5)) == 0

    # The timeline shows the start, the check-in and the miss, in order.
    timeline = selectors.journey_timeline(world.journey)
    assert [(e.checkin.kind if e.checkin else e.alert.kind) for e in timeline] == [
        "started",
        "checkin",
        AlertKind.MISSED_CHECKIN,
    ]


def test_acknowledging_stops_the_escalation(world):
    leg, _member, _ring = start_first_leg(world)
    lead, lead_ring = make_lead(world, 0, 1)
    alert_at = Deadline.objects.get(leg=leg, kind=DeadlineKind.IN_TRANSIT).alert_at
    raise_overdue(now=alert_at)
    alert = Alert.objects.get()
    with unlocked(lead_ring):
        do_acknowledge_alert(actor=lead, alert=alert, now=alert_at + timedelta(minutes=1))
    assert escalate_due(now=alert_at + timedelta(hours=1)) == 0
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == lead
    assert set(told(alert)) == {lead.pk}


def test_deadlines_of_a_journey_not_started_wait_and_finished_legs_never_alert(world):
    leg = world.legs[0]
    departed = Deadline.objects.get(leg=leg, kind=DeadlineKind.DEPARTED)
    # The journey is still being planned: nothing alerts, the deadline waits.
    assert raise_overdue(now=departed.alert_at + timedelta(minutes=1)) == 0
    departed.refresh_from_db()
    assert departed.state == DeadlineState.PENDING
    # A cancelled leg's deadlines are cancelled, not alerted.
    from safepassage.journeys.models import JourneyStatus, LegStatus

    type(leg).objects.filter(pk=leg.pk).update(status=LegStatus.CANCELLED)
    type(world.journey).objects.filter(pk=world.journey.pk).update(status=JourneyStatus.ACTIVE)
    assert raise_overdue(now=departed.alert_at + timedelta(minutes=1)) == 0
    departed.refresh_from_db()
    assert departed.state == DeadlineState.CANCELLED
    assert not Alert.objects.exists()


def test_a_missed_departure_alerts_once_the_journey_is_under_way(world):
    from tests.alerts.support import start_journey

    start_journey(world)
    departed = Deadline.objects.get(leg=world.legs[0], kind=DeadlineKind.DEPARTED)
    assert raise_overdue(now=departed.alert_at) == 1
    alert = Alert.objects.get(deadline=departed)
    assert alert.kind == AlertKind.MISSED_DEPARTURE
    # No lead in the cell: straight to the case's coordinators.
    assert set(told(alert)) == {world.coord.pk, world.coord2.pk}
    assert alert.escalation_level == 1
