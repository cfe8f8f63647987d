"""Rotation: a new key re-seals every record of a compartment, and whoever
lost access (or kept an old key) opens nothing written afterwards."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Q

from safepassage.audit.models import AuditKey
from safepassage.cases.models import Case, Traveller
from safepassage.cells.services import do_remove_member_from_cell
from safepassage.journeys.models import Handoff, Leg
from safepassage.members.models import Member, MemberStatus
from safepassage.members.services import do_remove_member
from safepassage.organisations.models import Organisation
from safepassage.organisations.services import recovery_keyring
from safepassage.vault import crypto
from safepassage.vault import services as vault
from safepassage.vault.fields import SealedField
from safepassage.vault.keyring import Keyring, Locked, unlocked
from safepassage.vault.models import Compartment, CompartmentGrant, HolderKind
from tests.journeys.support import change_leg

from .support import fresh_keyring, raw_value, write_raw_value


def _sealed_snapshot(compartment_id, keyring: Keyring) -> dict:
    """{(model, pk, field): (raw blob, plaintext)} for every value sealed in the compartment."""
    snapshot = {}
    with unlocked(fresh_keyring(keyring)):
        for model, by_lookup in vault.records_in([compartment_id]).items():
            for lookup, records in by_lookup.items():
                fields = [
                    f
                    for f in model._meta.concrete_fields
                    if isinstance(f, SealedField) and f.compartment_lookup() == lookup
                ]
                for record in records:
                    for f in fields:
                        raw = raw_value(model, f.name, record.pk)
                        if raw is not None:
                            snapshot[(model, record.pk, f.name)] = (raw, getattr(record, f.name))
    return snapshot


def _rotate(compartment_id, keyring: Keyring) -> int:
    with transaction.atomic(), unlocked(keyring):
        return vault.rotate(compartment=Compartment.objects.get(pk=compartment_id), keyring=keyring)


def _assert_resealed(before: dict, after: dict, new_version: int) -> None:
    assert before.keys() == after.keys()
    for key, (old_raw, old_plain) in before.items():
        new_raw, new_plain = after[key]
        assert new_raw != old_raw, key
        assert crypto.blob_version(new_raw) == new_version, key
        assert new_plain == old_plain, key


def _leg_ends(leg) -> set:
    return set(
        Handoff.objects.filter(Q(from_leg=leg) | Q(to_leg=leg)).values_list(
            "compartment_id", flat=True
        )
    )


# --- rotate() ------------------------------------------------------------------------------------


def test_rotating_a_case_reseals_every_record_and_keeps_its_legs_reachable(world):
    compartment_id = world.case.compartment_id
    before = _sealed_snapshot(compartment_id, world.coord_keyring)
    models = {model for model, _pk, _field in before}
    assert {Case, Traveller} <= models and len(before) >= 6
    old_version = Compartment.objects.get(pk=compartment_id).current_version

    resealed = _rotate(compartment_id, fresh_keyring(world.coord_keyring))

    assert resealed == len({(m, pk) for m, pk, _f in before})
    assert Compartment.objects.get(pk=compartment_id).current_version == old_version + 1
    _assert_resealed(before, _sealed_snapshot(compartment_id, world.coord_keyring), old_version + 1)
    assert set(
        CompartmentGrant.objects.filter(compartment_id=compartment_id).values_list(
            "version", flat=True
        )
    ) == {old_version + 1}
    # Children were re-wrapped under the new key: every holder still reaches them.
    for ring in (world.coord_keyring, world.coord2_keyring):
        with unlocked(fresh_keyring(ring)):
            assert Leg.objects.get(pk=world.legs[1].pk).route == "Changchun to Dandong"
    assert set(
        CompartmentGrant.objects.filter(parent_id=compartment_id).values_list(
            "parent_version", flat=True
        )
    ) == {old_version + 1}
    # So does the recovery key.
    ring = recovery_keyring(organisation=world.org, shares=world.recovery_shares[1:])
    with unlocked(ring):
        assert Case.objects.get(pk=world.case.pk).codename == "Camellia"


def test_rotating_a_leg_reseals_it_for_its_cell(world):
    leg = world.legs[0]
    before = _sealed_snapshot(leg.compartment_id, world.coord_keyring)
    assert (Leg, leg.pk, "route") in before
    _rotate(leg.compartment_id, fresh_keyring(world.coord_keyring))
    _assert_resealed(before, _sealed_snapshot(leg.compartment_id, world.coord_keyring), 2)
    for _member, ring in world.cell_members[0]:
        with unlocked(fresh_keyring(ring)):
            assert Leg.objects.get(pk=leg.pk).route == "Yanji to Changchun"


def test_rotating_the_coordinators_compartment_reseals_names(world):
    compartment_id = world.org.coordinators_compartment_id
    before = _sealed_snapshot(compartment_id, world.coord_keyring)
    assert {Organisation, Member} <= {model for model, _pk, _f in before}
    _rotate(compartment_id, fresh_keyring(world.coord_keyring))
    after = _sealed_snapshot(compartment_id, world.coord2_keyring)
    # It also draws a new audit key pair: the old private key is kept, as a
    # retired AuditKey, sealed under the new key like everything else here.
    audit_key = (Organisation, world.org.pk, "audit_private_key")
    (retired,) = [key for key in after if key[0] is AuditKey]
    _old_raw, old_audit_private = before.pop(audit_key)
    new_raw, new_audit_private = after.pop(audit_key)
    assert after.pop(retired)[1] == old_audit_private
    assert new_audit_private != old_audit_private and crypto.blob_version(new_raw) == 2
    _assert_resealed(before, after, 2)


def test_only_a_holder_can_rotate(world):
    _member, cell_ring = world.member(0)
    with pytest.raises(Locked):
        _rotate(world.case.compartment_id, fresh_keyring(cell_ring))
    # A cell member holds the leg but not the case above it: refused before any write.
    before = raw_value(Leg, "route", world.legs[0].pk)
    with pytest.raises(Locked):
        _rotate(world.legs[0].compartment_id, fresh_keyring(cell_ring))
    assert raw_value(Leg, "route", world.legs[0].pk) == before
    assert Compartment.objects.get(pk=world.legs[0].compartment_id).current_version == 1


def test_a_keyring_resolved_before_a_rotation_still_reads_after_it(world):
    """Another request rotated the compartment after this one resolved its
    keys: the newer version is resolved again, not refused."""
    ring = fresh_keyring(world.member(0, 1)[1])
    leg = world.legs[0]
    assert ring.can_open(leg.compartment_id)
    _rotate(leg.compartment_id, fresh_keyring(world.coord_keyring))
    with unlocked(ring):
        assert Leg.objects.get(pk=leg.pk).route == "Yanji to Changchun"
    assert ring.key_for_sealing(leg.compartment_id)[0] == 2


def test_a_keyring_resolved_before_a_rotation_writes_with_the_new_key(world):
    """Another request rotated the compartment after this one resolved its
    keys and before it wrote: the write is sealed under the current version,
    so every holder can still open it (not left at the retired version)."""
    ring = fresh_keyring(world.member(0, 1)[1])
    leg = world.legs[0]
    assert ring.key_for_sealing(leg.compartment_id)[0] == 1
    _rotate(leg.compartment_id, fresh_keyring(world.coord_keyring))
    with unlocked(ring), transaction.atomic():
        record = Leg.objects.get(pk=leg.pk)
        record.notes = "Written by a request that started before the rotation"
        record.save()
    assert crypto.blob_version(raw_value(Leg, "notes", leg.pk)) == 2
    with unlocked(fresh_keyring(world.coord_keyring)):
        assert Leg.objects.get(pk=leg.pk).notes.startswith("Written by a request")


def test_a_stale_keyring_rotating_a_parent_does_not_break_its_children(world):
    """A keyring that resolved a handoff before another request rotated it,
    then rotates the case above it: the handoff must stay reachable through
    the case (re-wrapping the stale handoff key broke it for every coordinator)."""
    stale = world.coord_keyring
    handoff = Handoff.objects.get(journey=world.journey, position=1)
    stale.load_everything()
    _rotate(handoff.compartment_id, fresh_keyring(world.coord2_keyring))
    _rotate(world.case.compartment_id, stale)
    for ring in (world.coord_keyring, world.coord2_keyring, world.member(0)[1]):
        fresh = fresh_keyring(ring)
        assert handoff.compartment_id in fresh.load_everything()
        with unlocked(fresh):
            assert Handoff.objects.get(pk=handoff.pk).place.startswith("Car park")


def test_a_stale_keyring_grants_the_current_key(world):
    """Granting with a key cached before a rotation would hand out a key that
    opens nothing written since."""
    from safepassage.vault.keyring import Keyring as _Keyring

    stale = world.coord_keyring
    leg = world.legs[0]
    stale.load_everything()
    _rotate(leg.compartment_id, fresh_keyring(world.coord2_keyring))
    newcomer, newcomer_ring = world.member(2)
    with transaction.atomic(), unlocked(stale):
        vault.grant_to_member(
            compartment=Compartment.objects.get(pk=leg.compartment_id),
            member=newcomer,
            keyring=stale,
        )
    grant = CompartmentGrant.objects.get(compartment_id=leg.compartment_id, member=newcomer)
    assert grant.version == 2
    ring = _Keyring(member_id=newcomer.pk, member_private_key=newcomer_ring.member_private_key)
    with unlocked(ring):
        assert Leg.objects.get(pk=leg.pk).route == "Yanji to Changchun"


def test_a_failed_rotation_leaves_the_keyring_at_the_old_key(world, monkeypatch):
    ring = fresh_keyring(world.coord_keyring)
    leg = world.legs[0]

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(vault.crypto, "wrap_key_for_holder", fail)
    with pytest.raises(RuntimeError):
        _rotate(leg.compartment_id, ring)
    monkeypatch.undo()
    assert Compartment.objects.get(pk=leg.compartment_id).current_version == 1
    assert ring.key_for_sealing(leg.compartment_id)[0] == 1
    with unlocked(ring):
        assert Leg.objects.get(pk=leg.pk).route == "Yanji to Changchun"


def test_a_value_left_at_an_old_version_is_reported_broken(world):
    """A value the rotation did not re-seal (say, restored from an old backup)."""
    leg = world.legs[0]
    old = raw_value(Leg, "route", leg.pk)
    _rotate(leg.compartment_id, fresh_keyring(world.coord_keyring))
    write_raw_value(Leg, "route", leg.pk, old)
    with unlocked(fresh_keyring(world.coord_keyring)), pytest.raises(crypto.SealBroken):
        _ = Leg.objects.get(pk=leg.pk).route


def test_a_broken_value_stops_its_rotation_but_not_the_others(world):
    """Catching up at login must not fail because one record was tampered with."""
    gone, _ring = world.member(0, 0)
    leg = world.legs[0]
    tampered = bytearray(raw_value(Leg, "route", leg.pk))
    tampered[-1] ^= 0x01
    write_raw_value(Leg, "route", leg.pk, bytes(tampered))
    with unlocked(world.coord_keyring):
        rotated = do_remove_member(actor=world.coord, member=gone)
    held = {leg.compartment_id} | _leg_ends(leg)
    assert rotated >= len(held) - 1
    assert Compartment.objects.get(pk=leg.compartment_id).rotation_due
    assert not Compartment.objects.filter(
        pk__in=held - {leg.compartment_id}, rotation_due=True
    ).exists()
    assert raw_value(Leg, "route", leg.pk) == bytes(tampered)


# --- removal -----------------------------------------------------------------------------------------


def test_a_removed_member_opens_nothing_and_their_compartments_are_rotated(world):
    gone, gone_ring = world.member(0, 0)
    _stays, stays_ring = world.member(0, 1)
    held = fresh_keyring(gone_ring).load_everything()
    assert held == {world.legs[0].compartment_id} | _leg_ends(world.legs[0])

    with unlocked(world.coord_keyring):
        rotated = do_remove_member(actor=world.coord, member=gone)

    assert rotated >= len(held)
    assert fresh_keyring(gone_ring).load_everything() == set()
    assert not CompartmentGrant.objects.filter(member=gone).exists()
    for compartment in Compartment.objects.filter(pk__in=held):
        assert compartment.current_version == 2 and not compartment.rotation_due
    gone.refresh_from_db()
    assert gone.status == MemberStatus.REMOVED and not gone.is_active
    # The rest of the cell keeps working.
    ring = fresh_keyring(stays_ring)
    assert ring.load_everything() == held
    with unlocked(ring):
        assert Leg.objects.get(pk=world.legs[0].pk).route == "Yanji to Changchun"


def test_a_removed_coordinator_opens_nothing(world):
    held = fresh_keyring(world.coord2_keyring).load_everything()
    assert world.org.coordinators_compartment_id in held
    with unlocked(world.coord_keyring):
        do_remove_member(actor=world.coord, member=world.coord2)
    assert fresh_keyring(world.coord2_keyring).load_everything() == set()
    direct = {world.org.coordinators_compartment_id, world.case.compartment_id}
    for compartment in Compartment.objects.filter(pk__in=direct):
        assert compartment.current_version == 2
    with unlocked(fresh_keyring(world.coord_keyring)):
        assert Organisation.objects.get(pk=world.org.pk).name
        assert Traveller.objects.filter(case=world.case).get().name == "Traveller Secret-Name"


def test_removal_from_a_cell_takes_its_legs_away(world):
    member, ring = world.member(1)
    held = fresh_keyring(ring).load_everything()
    assert held == {world.legs[1].compartment_id} | _leg_ends(world.legs[1])
    before = dict(Compartment.objects.filter(pk__in=held).values_list("pk", "current_version"))
    with unlocked(world.coord_keyring):
        do_remove_member_from_cell(actor=world.coord, member=member, cell=world.cells[1])
    assert fresh_keyring(ring).load_everything() == set()
    for compartment in Compartment.objects.filter(pk__in=held):
        assert compartment.current_version == before[compartment.pk] + 1
    # The handoff shared with cell 0 is rotated and still open to cell 0.
    shared = Handoff.objects.get(from_leg=world.legs[0], to_leg=world.legs[1])
    with unlocked(fresh_keyring(world.member(0)[1])):
        assert (
            Handoff.objects.get(pk=shared.pk).place == "Car park behind the Changchun grain market"
        )
    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE  # still a member, just not of that cell


def test_a_captured_keyring_and_its_old_keys_open_nothing_written_after_rotation(world):
    """The member kept everything they once had: the keyring object and a copy
    of the raw data keys. After removal and rotation none of it helps."""
    gone, captured = world.member(0, 0)
    leg = world.legs[0]
    captured.load_everything()
    old_keys = dict(captured._keys)  # what a member could have copied out
    old_version, old_leg_key = old_keys[leg.compartment_id]
    route_field = Leg._meta.get_field("route")
    aad = route_field.aad(leg, leg.compartment_id)
    before = raw_value(Leg, "route", leg.pk)
    # The copied key does open what was stored before the rotation.
    assert crypto.open_with_compartment_key(old_leg_key, before, aad) == b"Yanji to Changchun"

    with unlocked(world.coord_keyring):
        do_remove_member(actor=world.coord, member=gone)
        change_leg(actor=world.coord, leg=leg, route="Yanji to Tonghua instead")

    after = raw_value(Leg, "route", leg.pk)
    assert crypto.blob_version(after) == old_version + 1
    with pytest.raises(crypto.SealBroken):
        crypto.open_with_compartment_key(old_leg_key, after, aad)
    # Every other post-rotation value of every compartment they held, too.
    checked = 0
    for compartment_id, (_version, key) in old_keys.items():
        for model, by_lookup in vault.records_in([compartment_id]).items():
            for records in by_lookup.values():
                for record in records:
                    for f in record.sealed_fields():
                        raw = raw_value(model, f.name, record.pk)
                        if raw is None:
                            continue
                        with pytest.raises(crypto.SealBroken):
                            crypto.open_with_compartment_key(
                                key, raw, f.aad(record, compartment_id)
                            )
                        checked += 1
    assert checked >= 5
    # The keyring object they held is no better: its keys are for a gone version.
    with unlocked(captured), pytest.raises(Locked):
        _ = Leg.objects.get(pk=leg.pk).route
    # Nor can it unwrap any grant now in the database.
    for grant in CompartmentGrant.objects.filter(holder_kind=HolderKind.MEMBER):
        with pytest.raises(crypto.SealBroken):
            crypto.unwrap_key_as_holder(captured.member_private_key, bytes(grant.wrapped_key))


def test_planning_leaves_no_rotation_waiting_that_the_planner_could_do(world):
    """Adding the second leg moves the arrival handoff away from cell 0. Until
    its key rotates, details written for cell 1 are sealed under a key cell 0
    held."""
    due = Compartment.objects.filter(organisation=world.org, rotation_due=True)
    ring = fresh_keyring(world.coord_keyring)
    assert [c.pk for c in due if ring.can_open(c.pk)] == []


def test_a_login_performs_the_rotations_due(world, rf):
    """A removal the acting coordinator could not rotate at once is rotated at the
    next login of a holder, through the real login path."""
    from django.contrib.sessions.middleware import SessionMiddleware

    from safepassage.members.services import log_in
    from safepassage.vault.models import Compartment

    from ..factories import PASSWORD

    case_compartment = Compartment.objects.get(pk=world.case.compartment_id)
    Compartment.objects.filter(pk=case_compartment.pk).update(rotation_due=True)
    request = rf.post("/members/login/")
    SessionMiddleware(lambda r: None).process_request(request)
    assert log_in(request, handle=world.coord.handle, password=PASSWORD) is not None
    case_compartment.refresh_from_db()
    assert case_compartment.rotation_due is False
    assert case_compartment.current_version == 2
