"""Check-ins, PINs, duress, and refusals that are recorded, never dropped."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from safepassage.alerts.models import Alert, AlertKind, AlertStatus, Severity
from safepassage.audit.selectors import read_entries
from safepassage.checkins.models import Checkin, CheckinKind, Deadline, DeadlineState, MemberPins
from safepassage.checkins.services import do_check_in, do_set_pins
from safepassage.core.errors import ServiceError
from safepassage.journeys.services import do_mark_leg_handed_off
from safepassage.notifications.models import Notification
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, DURESS_PIN, make_lead, set_pins, start_first_leg
from tests.factories import OrganisationFactory, make_member

pytestmark = pytest.mark.django_db


def audit_entries(world, verb):
    with unlocked(world.coord_keyring):
        return [e for e in read_entries(organisation=world.org) if e["verb"] == verb]


def test_pins_are_hashed_with_argon2_and_validated(world):
    member, ring = world.member(0)
    set_pins(member, ring)
    pins = MemberPins.objects.get(member=member)
    assert pins.checkin_pin.startswith("argon2$") and CHECKIN_PIN not in pins.checkin_pin
    assert pins.duress_pin.startswith("argon2$") and DURESS_PIN not in pins.duress_pin
    with unlocked(ring):
        for checkin_pin, duress_pin in (("12", "3456"), ("1234", "1234"), ("abcd", "1234")):
            with pytest.raises(ServiceError):
                do_set_pins(actor=member, checkin_pin=checkin_pin, duress_pin=duress_pin)
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_set_pins(actor=world.coord, checkin_pin="1111", duress_pin="2222")


def test_a_check_in_is_recorded_with_its_note_sealed(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        receipt = do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN, note="fuel stop as planned")
    checkin = Checkin.objects.get(leg=leg, kind=CheckinKind.CHECKIN)
    assert checkin.member == member
    raw = Checkin.objects.filter(pk=checkin.pk).values_list("note", flat=True).get()
    assert b"fuel stop" not in bytes(raw)
    with unlocked(world.coord_keyring):
        assert Checkin.objects.get(pk=checkin.pk).note == "fuel stop as planned"
    assert receipt.next_due_at is not None
    assert not Alert.objects.exists()
    assert len(audit_entries(world, "checkin.create")) == 1


def test_duress_check_in_looks_the_same_and_raises_a_critical_alert(world):
    leg, member, ring = start_first_leg(world)
    lead, _lead_ring = make_lead(world, 0, 1)
    at = timezone.now() + timedelta(minutes=10)
    with unlocked(ring):
        normal = do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN, now=at)
        normal_state = list(
            Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING).values_list(
                "kind", "due_at", "alert_at"
            )
        )
        duress = do_check_in(actor=member, leg=leg, pin=DURESS_PIN, now=at)
    # What the sender gets back is identical, field for field.
    assert duress == normal
    assert type(duress) is type(normal)
    # What the phone could observe next (deadlines, check-ins) is identical too.
    assert (
        list(
            Deadline.objects.filter(leg=leg, state=DeadlineState.PENDING).values_list(
                "kind", "due_at", "alert_at"
            )
        )
        == normal_state
    )
    kinds = list(Checkin.objects.filter(leg=leg, at=at).values_list("kind", "member_id"))
    assert kinds == [(CheckinKind.CHECKIN, member.pk)] * 2
    # And a critical duress alert exists, straight at the case's coordinators.
    alert = Alert.objects.get(kind=AlertKind.DURESS)
    assert alert.severity == Severity.CRITICAL and alert.status == AlertStatus.OPEN
    assert alert.leg_id == leg.pk and alert.case_id == world.case.pk
    assert alert.escalation_level == 1
    told = set(Notification.objects.filter(alert=alert).values_list("member_id", flat=True))
    assert told == {world.coord.pk, world.coord2.pk}
    # Never the cell (not even its lead): their phones may be in other hands.
    assert lead.pk not in told and member.pk not in told


def test_wrong_pin_is_refused_and_audited(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring), pytest.raises(ServiceError, match="PIN"):
        do_check_in(actor=member, leg=leg, pin="0000")
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()
    refused = audit_entries(world, "checkin.refused")
    assert [e["detail"]["reason"] for e in refused] == ["wrong_pin"]
    assert refused[0]["actor"] == str(member.pk)


def test_check_in_without_pins_is_refused_and_audited(world):
    leg, _member, _ring = start_first_leg(world)
    other, other_ring = world.member(0, 1)
    with unlocked(other_ring), pytest.raises(ServiceError, match="PIN"):
        do_check_in(actor=other, leg=leg, pin="2468")
    assert [e["detail"]["reason"] for e in audit_entries(world, "checkin.refused")] == ["no_pins"]


def test_unknown_foreign_and_finished_legs_are_refused_and_audited(world):
    leg, member, ring = start_first_leg(world)
    # Unknown: a random id and garbage alike.
    with unlocked(ring):
        for bogus in (uuid.uuid4(), "not-a-leg"):
            with pytest.raises(ServiceError) as unknown:
                do_check_in(actor=member, leg=bogus, pin=CHECKIN_PIN)
        # Foreign: another cell's leg gets the same message as a missing one.
        with pytest.raises(ServiceError) as foreign:
            do_check_in(actor=member, leg=world.legs[1], pin=CHECKIN_PIN)
    assert str(unknown.value) == str(foreign.value)

    # A member of another organisation.
    other = OrganisationFactory()
    with unlocked(other.keyring):
        from safepassage.cells.services import do_create_cell

        cell = do_create_cell(actor=other.founder, codename="Far")
    stranger, stranger_ring = make_member(other.founder, other.keyring, cell=cell)
    set_pins(stranger, stranger_ring)
    with unlocked(stranger_ring), pytest.raises(ServiceError):
        do_check_in(actor=stranger, leg=leg.pk, pin=CHECKIN_PIN)

    # Finished: handed off.
    with unlocked(ring):
        do_mark_leg_handed_off(actor=member, leg=leg)
        with pytest.raises(ServiceError, match="finished"):
            do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN)

    reasons = [e["detail"]["reason"] for e in audit_entries(world, "checkin.refused")]
    assert sorted(reasons) == sorted(["unknown_leg", "unknown_leg", "foreign_leg", "finished_leg"])
    foreign_entry = next(
        e for e in audit_entries(world, "checkin.refused") if e["detail"]["reason"] == "foreign_leg"
    )
    assert foreign_entry["target_id"] == str(world.legs[1].pk)
    # The stranger's attempt is on their own organisation's record, not on this one's.
    with unlocked(other.keyring):
        theirs = [
            e["detail"]["reason"]
            for e in read_entries(organisation=other.organisation)
            if e["verb"] == "checkin.refused"
        ]
    assert theirs == ["foreign_leg"]
    assert Checkin.objects.filter(kind=CheckinKind.CHECKIN).count() == 0
