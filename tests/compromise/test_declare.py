"""Declaring a compromise and responding to it, through the services, for
each kind of subject, on the world of tests/factories.py:

    h0 pickup -> L0 Heron (2 members) -> h1 -> L1 Otter -> h2 arrival;  Lark runs nothing
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.utils import timezone

from safepassage.alerts.models import Alert, Severity
from safepassage.audit.selectors import read_entries
from safepassage.cases.models import CaseEvent
from safepassage.cells.models import Cell, CellMembership, CellStatus
from safepassage.checkins.models import Deadline, DeadlineState
from safepassage.compromise.exposure import Subject, SubjectKind, exposure_of
from safepassage.compromise.models import BurnedKind, BurnedMark, Compromise, CompromiseStatus
from safepassage.compromise.selectors import Snapshot, planner_warnings, snapshot_of
from safepassage.compromise.services import (
    do_close_compromise,
    do_declare_and_respond,
    do_declare_compromise,
    do_release_leg,
    do_respond_to_compromise,
)
from safepassage.contacts.models import Contact, ContactStatus
from safepassage.contacts.services import do_create_contact
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Handoff, HandoffStatus, Leg, LegStatus
from safepassage.journeys.services import (
    do_add_leg,
    do_mark_leg_handed_off,
    do_mark_leg_started,
    do_start_journey,
)
from safepassage.members.models import Member, MemberStatus
from safepassage.notifications.models import Notification
from safepassage.safehouses.models import SafeHouse, SafeHouseStatus
from safepassage.safehouses.services import do_create_safe_house
from safepassage.vault.keyring import Keyring, unlocked
from safepassage.vault.models import Compartment, CompartmentGrant
from tests.journeys.support import change_leg

from ..factories import PASSWORD, World

pytestmark = pytest.mark.django_db


def fresh(ring: Keyring) -> Keyring:
    """The same member's keys as a new request would resolve them."""
    return Keyring(member_id=ring.member_id, member_private_key=ring.member_private_key)


def handoffs(world: World) -> list[Handoff]:
    return list(world.journey.handoffs.order_by("position"))


def declare(world: World, subject: Subject, *, reason="arrested", ring=None, actor=None):
    with unlocked(fresh(ring or world.coord_keyring)):
        return do_declare_compromise(
            actor=actor or world.coord, subject=subject, reason=reason, notes="Seen at dawn."
        )


def respond(world: World, compromise: Compromise, *, ring=None, actor=None, **steps):
    with unlocked(fresh(ring or world.coord_keyring)):
        return do_respond_to_compromise(actor=actor or world.coord, compromise=compromise, **steps)


def snapshot(world: World, compromise: Compromise) -> Snapshot:
    with unlocked(fresh(world.coord_keyring)):
        return snapshot_of(Compromise.objects.get(pk=compromise.pk))


def response(world: World, compromise: Compromise) -> dict:
    with unlocked(fresh(world.coord_keyring)):
        return Compromise.objects.get(pk=compromise.pk).response


def versions(*compartment_ids) -> dict:
    return dict(
        Compartment.objects.filter(pk__in=compartment_ids).values_list("pk", "current_version")
    )


def statuses(model, *records) -> list[str]:
    return [model.objects.get(pk=r.pk).status for r in records]


def told() -> set:
    return set(Notification.objects.values_list("member_id", flat=True))


# --- declaring ---------------------------------------------------------------------------------


def test_declaring_keeps_the_exposure_alerts_every_coordinator_and_changes_nothing(world):
    member, _ = world.member(0)
    subject = Subject(SubjectKind.MEMBER, member.pk)
    expected = exposure_of(organisation=world.org, subject=subject)

    compromise = declare(world, subject, reason="device_seized")

    kept = snapshot(world, compromise)
    assert kept == Snapshot.of(expected)
    assert kept.leg_ids == {world.legs[0].pk}
    assert compromise.subject_kind == SubjectKind.MEMBER and compromise.subject_id == member.pk
    assert compromise.status == CompromiseStatus.OPEN and compromise.declared_by == world.coord
    # Sealed: the notes and the snapshot are ciphertext in the database.
    row = Compromise.objects.filter(pk=compromise.pk).values_list("notes", "exposure").get()
    assert b"Seen at dawn" not in bytes(row[0]) and str(member.pk).encode() not in bytes(row[1])
    # A critical alert that names nothing reached both coordinators, and nobody else.
    alert = Alert.objects.get(pk=compromise.alert_id)
    assert alert.severity == Severity.CRITICAL
    assert alert.leg_id is None and alert.case_id is None and alert.compartment_id is None
    assert told() == {world.coord.pk, world.coord2.pk}
    # Nothing in the network changed yet.
    assert statuses(Leg, *world.legs) == [LegStatus.PLANNED, LegStatus.PLANNED]
    assert Member.objects.get(pk=member.pk).status == MemberStatus.ACTIVE
    with unlocked(fresh(world.coord2_keyring)):
        entries = read_entries(organisation=world.org, limit=50)
    declared = [e for e in entries if e["verb"] == "compromise.declare"]
    assert len(declared) == 1 and declared[0]["target_id"] == str(compromise.pk)
    assert declared[0]["detail"] == {
        "kind": "member",
        "reason": "device_seized",
        "legs": 1,
        "handoffs": 2,
        "travellers": 1,
        "open_legs": 2,
    }


def test_declaring_is_refused_when_it_should_be(world):
    member, ring = world.member(0)
    heron = world.cells[0]
    refusals = [
        # Only a coordinator declares.
        dict(actor=member, ring=ring, subject=Subject(SubjectKind.CELL, heron.pk)),
        # Something that does not exist (or is in another organisation).
        dict(subject=Subject(SubjectKind.CELL, uuid.uuid4())),
        dict(subject=Subject(SubjectKind.HANDOFF, world.legs[0].pk)),
        # No id, no text.
        dict(subject=Subject(SubjectKind.CONTACT)),
        dict(subject=Subject(SubjectKind.PLACE, text="   ")),
        # Oneself.
        dict(subject=Subject(SubjectKind.MEMBER, world.coord.pk)),
        # From the future, or without a reason.
        dict(
            subject=Subject(SubjectKind.CELL, heron.pk),
            occurred_at=timezone.now() + timedelta(hours=2),
        ),
        dict(subject=Subject(SubjectKind.CELL, heron.pk), reason="bad luck"),
    ]
    for case in refusals:
        actor = case.pop("actor", world.coord)
        with unlocked(fresh(case.pop("ring", world.coord_keyring))), pytest.raises(ServiceError):
            do_declare_compromise(actor=actor, reason=case.pop("reason", "raid"), **case)
    assert not Compromise.objects.exists()
    assert not Alert.objects.exists()


# --- responding, for each kind of subject ---------------------------------------------------------


def test_a_member_arrested_with_their_phone_is_removed_and_their_keys_replaced(world):
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    member, _ = world.member(0)
    mate, _ = world.member(0, 1)
    otter_member, _ = world.member(1)
    lark_member, _ = world.member(2)
    l0, l1 = world.legs
    h0, h1, h2 = handoffs(world)
    held = {l0.compartment_id, h0.compartment_id, h1.compartment_id}
    before = versions(*held)
    assert Deadline.objects.filter(leg__in=world.legs, state=DeadlineState.PENDING).exists()

    compromise = declare(world, Subject(SubjectKind.MEMBER, member.pk))
    respond(world, compromise)

    removed = Member.objects.get(pk=member.pk)
    assert removed.status == MemberStatus.REMOVED and not removed.is_active
    assert not CompartmentGrant.objects.filter(member=member).exists()
    assert not CellMembership.objects.filter(member=member).exists()
    # Every key the member held is new; the old copies open nothing written from now on.
    after = versions(*held)
    assert all(after[c] == before[c] + 1 for c in held)
    assert not Compartment.objects.filter(pk__in=held, rotation_due=True).exists()
    # Both legs meet at h1: both frozen, with every pending handoff of the journey.
    assert statuses(Leg, l0, l1) == [LegStatus.FROZEN, LegStatus.FROZEN]
    assert statuses(Handoff, h0, h1, h2) == [HandoffStatus.FROZEN] * 3
    assert not Deadline.objects.filter(leg__in=world.legs, state=DeadlineState.PENDING).exists()
    assert CaseEvent.objects.filter(case=world.case, kind="leg").count() == 2
    # Told: the member's colleague and the next cell; not Lark, not the member.
    cell_members_told = told() - {world.coord.pk, world.coord2.pk}
    assert cell_members_told == {mate.pk, otter_member.pk}
    assert lark_member.pk not in cell_members_told
    done = response(world, compromise)
    assert done["revoked_member_ids"] == [str(member.pk)]
    assert set(done["rotated_compartment_ids"]) == {str(c) for c in held}
    assert done["rotation_due_ids"] == []
    assert Compromise.objects.get(pk=compromise.pk).responded_by == world.coord


def test_a_compromised_cell_loses_every_key_and_its_members_wait_for_review(world):
    heron = world.cells[0]
    (driver, _), (mate, _) = world.cell_members[0]
    otter_member, _ = world.member(1)

    compromise = declare(world, Subject(SubjectKind.CELL, heron.pk), reason="raid")
    respond(world, compromise)

    assert Cell.objects.get(pk=heron.pk).status == CellStatus.COMPROMISED
    for member in (driver, mate):
        member = Member.objects.get(pk=member.pk)
        # Disabled pending review, not removed: the membership stays on record.
        assert member.status == MemberStatus.ACTIVE and not member.is_active
        assert not CompartmentGrant.objects.filter(member=member).exists()
        assert CellMembership.objects.filter(member=member, cell=heron).exists()
        request = RequestFactory().post("/login/")
        assert authenticate(request, username=member.handle, password=PASSWORD) is None
    assert told() - {world.coord.pk, world.coord2.pk} == {otter_member.pk}
    kept = snapshot(world, compromise)
    assert kept.legs_needing_new_cell == {world.legs[0].pk}
    # The planner says the leg needs a new cell.
    ring = fresh(world.coord_keyring)
    with unlocked(ring):
        legs = list(Leg.objects.filter(pk=world.legs[0].pk).select_related("cell"))
        warnings = planner_warnings(organisation=world.org, keyring=ring, legs=legs)
    assert any("needs a new cell" in w for w in warnings[world.legs[0].pk])


def test_a_coordinators_keys_are_replaced_now_where_the_responder_holds_them(world):
    """coord2 does not coordinate the second case: its key is replaced at the
    next login of someone who holds it."""
    org = world.org
    compromise = declare(
        world,
        Subject(SubjectKind.MEMBER, world.coord.pk),
        actor=world.coord2,
        ring=world.coord2_keyring,
    )
    respond(world, compromise, actor=world.coord2, ring=world.coord2_keyring)

    assert Member.objects.get(pk=world.coord.pk).status == MemberStatus.REMOVED
    done = response_as(world.coord2_keyring, compromise)
    rotated = {uuid.UUID(i) for i in done["rotated_compartment_ids"]}
    due = {uuid.UUID(i) for i in done["rotation_due_ids"]}
    assert {org.coordinators_compartment_id, world.case.compartment_id} <= rotated
    assert world.other_case.compartment_id in due
    assert Compartment.objects.get(pk=world.other_case.compartment_id).rotation_due
    assert not Compartment.objects.get(pk=world.case.compartment_id).rotation_due


def response_as(ring: Keyring, compromise: Compromise) -> dict:
    with unlocked(fresh(ring)):
        return Compromise.objects.get(pk=compromise.pk).response


def test_a_raided_safe_house_is_burned_and_the_planner_warns(world):
    l0, l1 = world.legs
    with unlocked(world.coord_keyring):
        house = do_create_safe_house(
            actor=world.coord, codename="Magnolia", place="Back room, Siping", capacity=3
        )
        change_leg(actor=world.coord, leg=l1, safe_house=house, transport="stay")

    compromise = declare(world, Subject(SubjectKind.SAFE_HOUSE, house.pk), reason="raid")
    assert snapshot(world, compromise).legs_needing_new_safe_house == {l1.pk}
    respond(world, compromise)

    assert SafeHouse.objects.get(pk=house.pk).status == SafeHouseStatus.BURNED
    assert statuses(Leg, l0, l1) == [LegStatus.FROZEN, LegStatus.FROZEN]
    ring = fresh(world.coord_keyring)
    with unlocked(ring):
        legs = list(Leg.objects.filter(pk=l1.pk).select_related("safe_house", "cell", "contact"))
        warnings = planner_warnings(organisation=world.org, keyring=ring, legs=legs)
    assert warnings[l1.pk] == ["This leg's safe house is burned."]


def test_a_watched_vehicle_is_marked_burned_and_matched_however_it_is_written(world):
    _h0, h1, _h2 = handoffs(world)
    # The world's handoff h1 has plate "吉A 7Q219", colour "grey".
    compromise = declare(
        world, Subject(SubjectKind.VEHICLE, text="  吉a   7q219 "), reason="suspected_betrayal"
    )
    assert snapshot(world, compromise).handoff_ids == {h1.pk}
    respond(world, compromise, freeze=False, notify=False, revoke=False, burn=True)

    mark = BurnedMark.objects.get()
    assert mark.kind == BurnedKind.VEHICLE and mark.compromise_id == compromise.pk
    assert b"7q219" not in bytes(BurnedMark.objects.values_list("text", flat=True).get())
    assert statuses(Leg, *world.legs) == [LegStatus.PLANNED, LegStatus.PLANNED]
    ring = fresh(world.coord_keyring)
    with unlocked(ring):
        new_leg = do_add_leg(
            actor=world.coord,
            journey=world.journey,
            cell=world.cells[2],
            vehicle="吉A 7Q219 (grey)",
        )
        other = do_add_leg(actor=world.coord, journey=world.journey, vehicle="blue Kia")
        legs = list(Leg.objects.filter(pk__in=[new_leg.pk, other.pk]).select_related("cell"))
        handoff = Handoff.objects.get(pk=h1.pk)
        warnings = planner_warnings(
            organisation=world.org, keyring=ring, legs=legs, handoffs=[handoff]
        )
    assert set(warnings) == {new_leg.pk, h1.pk}
    assert "vehicle is marked burned" in warnings[new_leg.pk][0]


def test_a_watched_place_is_burned(world):
    _h0, h1, _h2 = handoffs(world)
    compromise = declare(
        world, Subject(SubjectKind.PLACE, text="car park behind the CHANGCHUN grain market")
    )
    respond(world, compromise)
    ring = fresh(world.coord_keyring)
    with unlocked(ring):
        assert BurnedMark.objects.get().kind == BurnedKind.PLACE
        warnings = planner_warnings(
            organisation=world.org, keyring=ring, handoffs=[Handoff.objects.get(pk=h1.pk)]
        )
    assert warnings == {
        h1.pk: ["This handoff's place is marked burned: the adversary may know it."]
    }
    # Both legs meeting there are frozen.
    assert statuses(Leg, *world.legs) == [LegStatus.FROZEN, LegStatus.FROZEN]


def test_a_compromised_handoff_gets_new_phrases_and_its_place_burned(world):
    _h0, h1, _h2 = handoffs(world)
    with unlocked(world.coord_keyring):
        old = (h1.phrase_challenge, h1.phrase_response)
    compromise = declare(world, Subject(SubjectKind.HANDOFF, h1.pk))
    respond(world, compromise)
    with unlocked(fresh(world.coord_keyring)):
        fresh_h1 = Handoff.objects.get(pk=h1.pk)
        assert (fresh_h1.phrase_challenge, fresh_h1.phrase_response) != old
        marks = {(m.kind, m.text) for m in BurnedMark.objects.select_related("organisation")}
    assert marks == {
        (BurnedKind.PLACE, "Car park behind the Changchun grain market"),
        (BurnedKind.VEHICLE, "吉A 7Q219"),
    }
    assert fresh_h1.status == HandoffStatus.FROZEN


def test_a_contact_is_marked_compromised_and_the_response_can_come_in_steps(world):
    l0, l1 = world.legs
    with unlocked(world.coord_keyring):
        broker = do_create_contact(actor=world.coord, name="Broker Lee")
        change_leg(actor=world.coord, leg=l0, contact=broker, route="Yanji to Changchun")
    compromise = declare(
        world, Subject(SubjectKind.CONTACT, broker.pk), reason="suspected_betrayal"
    )
    with pytest.raises(ServiceError):
        respond(world, compromise, freeze=False, notify=False, revoke=False, burn=False)

    respond(world, compromise, freeze=True, notify=False, revoke=False, burn=False)
    assert statuses(Leg, l0, l1) == [LegStatus.FROZEN, LegStatus.FROZEN]
    assert Contact.objects.get(pk=broker.pk).status == ContactStatus.ACTIVE
    assert told() == {world.coord.pk, world.coord2.pk}

    respond(world, compromise, freeze=True, notify=True, revoke=True, burn=False)
    assert Contact.objects.get(pk=broker.pk).status == ContactStatus.COMPROMISED
    heron_and_otter = {m.pk for i in (0, 1) for m, _ in world.cell_members[i]}
    assert told() - {world.coord.pk, world.coord2.pk} == heron_and_otter
    done = response(world, compromise)
    assert len(done["frozen_leg_ids"]) == 2 and len(done["notified_member_ids"]) == 3

    # Told once, however often the response runs.
    respond(world, compromise, notify=True, freeze=False, revoke=False, burn=False)
    assert Notification.objects.filter(alert_id=compromise.alert_id).count() == 5

    with unlocked(fresh(world.coord_keyring)):
        do_close_compromise(actor=world.coord, compromise=compromise)
    with pytest.raises(ServiceError):
        respond(world, compromise)


def test_frozen_legs_refuse_field_actions_until_released(world):
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    driver, driver_ring = world.member(0)
    otter_member, otter_ring = world.member(1)
    l0, l1 = world.legs
    with unlocked(driver_ring):
        do_mark_leg_started(actor=driver, leg=l0)

    compromise = do_declare_and_respond_as(world, Subject(SubjectKind.CELL, world.cells[1].pk))
    assert Compromise.objects.get(pk=compromise.pk).responded_at is not None

    l0.refresh_from_db()
    l1.refresh_from_db()
    assert (l0.status, l1.status) == (LegStatus.FROZEN, LegStatus.FROZEN)
    with unlocked(driver_ring), pytest.raises(ServiceError, match="Stand down"):
        do_mark_leg_handed_off(actor=driver, leg=l0)
    # Otter's member is disabled: not even a cell member any more.
    with unlocked(otter_ring), pytest.raises(ServiceError):
        do_mark_leg_started(actor=Member.objects.get(pk=otter_member.pk), leg=l1)

    # Only a coordinator of the case releases a leg; it goes back to where it was.
    h1 = Handoff.objects.get(journey=world.journey, position=1)
    with unlocked(fresh(world.coord2_keyring)):
        do_release_leg(actor=world.coord2, leg=Leg.objects.get(pk=l0.pk))
    l0.refresh_from_db()
    assert l0.status == LegStatus.STARTED
    # The handoff to the still-frozen leg stays frozen.
    assert Handoff.objects.get(pk=h1.pk).status == HandoffStatus.FROZEN
    with unlocked(driver_ring):
        do_mark_leg_handed_off(actor=driver, leg=l0)
    with unlocked(fresh(world.coord_keyring)), pytest.raises(ServiceError):
        do_release_leg(actor=world.coord, leg=Leg.objects.get(pk=l0.pk))
    with unlocked(driver_ring), pytest.raises(ServiceError):
        do_release_leg(actor=driver, leg=Leg.objects.get(pk=l1.pk))


def do_declare_and_respond_as(world: World, subject: Subject) -> Compromise:
    with unlocked(fresh(world.coord_keyring)):
        return do_declare_and_respond(actor=world.coord, subject=subject, reason="arrested")
