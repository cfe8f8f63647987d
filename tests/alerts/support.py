"""Helpers shared by the warning-system tests: a started journey, PINs, a lead."""

from __future__ import annotations

from safepassage.cells.models import CellMembership
from safepassage.checkins.services import do_set_pins
from safepassage.journeys.services import do_mark_leg_started, do_start_journey
from safepassage.vault.keyring import unlocked

CHECKIN_PIN = "2468"
DURESS_PIN = "1357"


def start_journey(world) -> None:
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)


def set_pins(member, keyring) -> None:
    with unlocked(keyring):
        do_set_pins(actor=member, checkin_pin=CHECKIN_PIN, duress_pin=DURESS_PIN)


def start_first_leg(world):
    """Journey started and leg 0 started by its cell's first member, who has PINs."""
    start_journey(world)
    member, ring = world.member(0)
    set_pins(member, ring)
    leg = world.legs[0]
    leg.refresh_from_db()
    with unlocked(ring):
        do_mark_leg_started(actor=member, leg=leg)
    leg.refresh_from_db()
    return leg, member, ring


def make_lead(world, cell_index: int, n: int = 0):
    member, ring = world.member(cell_index, n)
    CellMembership.objects.filter(cell=world.cells[cell_index], member=member).update(is_lead=True)
    return member, ring


def sample_alert(world):
    """An open alert on leg 0 of ``world`` (a reported unscheduled stop), for
    tests that need one to exist, such as the URL sweep."""
    from safepassage.alerts.models import AlertKind
    from safepassage.checkins.services import do_report_problem

    start_journey(world)
    member, ring = world.member(0)
    with unlocked(ring):
        return do_report_problem(
            actor=member, leg=world.legs[0], kind=AlertKind.UNSCHEDULED_STOP, details="stopped"
        )
