"""Two check-ins for the same leg at the same moment (two members of the
cell, or a phone's queued retry racing its first attempt) are both stored,
and the leg keeps exactly one pending rolling deadline.

PostgreSQL runs transactions side by side (READ COMMITTED): without a lock
on the leg, the second check-in's "meet the pending deadline" would find
nothing left to meet once the first commits, and its new pending deadline
would break the one-pending-deadline constraint, losing that check-in.
SQLite runs one writing transaction at a time, so the race needs PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from safepassage.checkins import deadlines
from safepassage.checkins.models import (
    Checkin,
    CheckinKind,
    Deadline,
    DeadlineKind,
    DeadlineState,
)
from safepassage.checkins.services import do_check_in
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, set_pins, start_first_leg
from tests.vault.support import fresh_keyring

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writing transactions"
    ),
]


def test_simultaneous_check_ins_on_one_leg_are_both_stored(world, monkeypatch):
    leg, first, first_ring = start_first_leg(world)
    second, second_ring = world.member(0, 1)
    set_pins(second, second_ring)

    # The first to meet the pending deadline holds on for a moment inside its
    # transaction, so the other reaches the same point before it commits.
    real_meet = deadlines._meet
    held = threading.Event()

    def slow_meet(leg, kind, at):
        real_meet(leg, kind, at)
        if not held.is_set():
            held.set()
            time.sleep(1.0)

    monkeypatch.setattr(deadlines, "_meet", slow_meet)

    now = timezone.now()
    outcomes: dict[str, object] = {}

    def check_in(name, member, ring, at):
        try:
            with unlocked(fresh_keyring(ring)):
                outcomes[name] = do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN, now=at)
        except Exception as exc:  # whatever was raised is reported below
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=check_in, args=("first", first, first_ring, now)),
        threading.Thread(
            target=check_in, args=("second", second, second_ring, now + timedelta(seconds=1))
        ),
    ]
    threads[0].start()
    assert held.wait(timeout=30)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(isinstance(o, Exception) for o in outcomes.values()), outcomes
    assert set(outcomes) == {"first", "second"}
    assert Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).count() == 2
    pending = Deadline.objects.filter(
        leg=leg, kind=DeadlineKind.IN_TRANSIT, state=DeadlineState.PENDING
    )
    assert pending.count() == 1
    # The later sign of life sets the next deadline.
    interval = deadlines.plan_for(leg).interval
    assert pending.get().due_at == now + timedelta(seconds=1, minutes=interval)
