"""Deadlines follow the leg: its window, its plan, its start, check-ins and handoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from safepassage.checkins.models import CheckinPlan, Deadline, DeadlineKind, DeadlineState
from safepassage.checkins.services import do_check_in, do_set_checkin_plan
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import TransportKind
from safepassage.journeys.services import do_add_leg, do_mark_leg_handed_off, do_update_leg
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, start_first_leg

pytestmark = pytest.mark.django_db


def pending(leg, kind):
    return Deadline.objects.get(leg=leg, kind=kind, state=DeadlineState.PENDING)


def test_a_new_leg_gets_its_transport_defaults_and_window_deadlines(world):
    leg = world.legs[0]
    plan = CheckinPlan.objects.get(leg=leg)
    assert (plan.departed_grace, plan.interval, plan.interval_grace, plan.handed_off_grace) == (
        15,
        60,
        15,
        30,
    )
    assert not plan.is_custom
    departed = pending(leg, DeadlineKind.DEPARTED)
    assert departed.due_at == leg.window_start
    assert departed.alert_at == leg.window_start + timedelta(minutes=15)
    handed = pending(leg, DeadlineKind.HANDED_OFF)
    assert handed.due_at == leg.window_end
    assert handed.alert_at == leg.window_end + timedelta(minutes=30)
    assert not Deadline.objects.filter(leg=leg, kind=DeadlineKind.IN_TRANSIT).exists()


def test_boat_defaults_differ_and_a_leg_without_window_has_no_deadline(world):
    with unlocked(world.coord_keyring):
        leg = do_add_leg(
            actor=world.coord,
            journey=world.journey,
            cell=world.cells[2],
            transport=TransportKind.BOAT,
        )
    plan = CheckinPlan.objects.get(leg=leg)
    assert plan.interval == 180 and plan.interval_grace == 60
    assert not Deadline.objects.filter(leg=leg).exists()


def _update_window(world, leg, start, end, transport=TransportKind.CAR):
    with unlocked(world.coord_keyring):
        return do_update_leg(
            actor=world.coord,
            leg=leg,
            cell=leg.cell,
            window_start=start,
            window_end=end,
            transport=transport,
            route="r",
            vehicle="",
            notes="",
        )


def test_moving_the_window_moves_pending_deadlines_and_transport_redefaults(world):
    leg = world.legs[0]
    start = leg.window_start + timedelta(hours=2)
    end = leg.window_end + timedelta(hours=2)
    _update_window(world, leg, start, end, transport=TransportKind.TRAIN)
    assert pending(leg, DeadlineKind.DEPARTED).due_at == start
    assert pending(leg, DeadlineKind.HANDED_OFF).alert_at == end + timedelta(minutes=45)
    assert CheckinPlan.objects.get(leg=leg).interval == 120
    # One pending deadline per kind, always.
    assert Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING).count() == 2


def test_coordinator_sets_the_plan_and_pending_deadlines_follow(world):
    leg = world.legs[0]
    with unlocked(world.coord_keyring):
        do_set_checkin_plan(
            actor=world.coord,
            leg=leg,
            departed_grace=5,
            interval=30,
            interval_grace=10,
            handed_off_grace=20,
        )
    assert pending(leg, DeadlineKind.DEPARTED).alert_at == leg.window_start + timedelta(minutes=5)
    plan = CheckinPlan.objects.get(leg=leg)
    assert plan.is_custom
    # A custom plan survives a change of transport.
    _update_window(world, leg, leg.window_start, leg.window_end, transport=TransportKind.BOAT)
    assert CheckinPlan.objects.get(leg=leg).interval == 30


def test_only_case_coordinators_set_plans_and_values_are_checked(world):
    member, ring = world.member(0)
    with unlocked(ring), pytest.raises(ServiceError):
        do_set_checkin_plan(
            actor=member,
            leg=world.legs[0],
            departed_grace=5,
            interval=30,
            interval_grace=5,
            handed_off_grace=5,
        )
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_set_checkin_plan(
            actor=world.coord,
            leg=world.legs[0],
            departed_grace=5,
            interval=2,
            interval_grace=5,
            handed_off_grace=5,
        )


def test_start_check_in_and_handoff_roll_the_deadlines(world):
    leg, member, ring = start_first_leg(world)
    assert Deadline.objects.get(leg=leg, kind=DeadlineKind.DEPARTED).state == DeadlineState.MET
    rolling = pending(leg, DeadlineKind.IN_TRANSIT)
    assert rolling.due_at == leg.started_at + timedelta(minutes=60)

    later = timezone.now() + timedelta(minutes=40)
    with unlocked(ring):
        receipt = do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN, note="all calm", now=later)
    rolling.refresh_from_db()
    assert rolling.state == DeadlineState.MET and rolling.met_at == later
    nxt = pending(leg, DeadlineKind.IN_TRANSIT)
    assert nxt.due_at == later + timedelta(minutes=60)
    assert nxt.alert_at == later + timedelta(minutes=75)
    assert receipt.next_due_at == nxt.due_at

    with unlocked(ring):
        do_mark_leg_handed_off(actor=member, leg=leg)
    assert Deadline.objects.get(leg=leg, kind=DeadlineKind.HANDED_OFF).state == DeadlineState.MET
    assert nxt.__class__.objects.get(pk=nxt.pk).state == DeadlineState.CANCELLED
    assert not Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING).exists()


def test_a_missed_deadline_is_not_made_again_when_the_leg_is_saved(world):
    leg = world.legs[0]
    departed = pending(leg, DeadlineKind.DEPARTED)
    Deadline.objects.filter(pk=departed.pk).update(state=DeadlineState.MISSED)
    _update_window(world, leg, leg.window_start, leg.window_end)
    assert not Deadline.objects.filter(
        leg=leg, kind=DeadlineKind.DEPARTED, state=DeadlineState.PENDING
    ).exists()
    # A new window is a new expectation.
    new_start = leg.window_start + timedelta(minutes=30)
    _update_window(world, leg, new_start, leg.window_end)
    assert pending(leg, DeadlineKind.DEPARTED).due_at == new_start
