"""The audit key pair follows the coordinators' compartment: removing a
coordinator rotates it, so a former coordinator who kept the old audit
private key reads nothing written after they left, while the remaining
coordinators still read the whole log."""

from __future__ import annotations

import json

import pytest

from safepassage.audit.models import AuditEvent, AuditKey
from safepassage.audit.selectors import check_chain, read_entries
from safepassage.members.services import do_remove_member
from safepassage.organisations.models import Organisation
from safepassage.vault import crypto
from safepassage.vault.keyring import Locked, unlocked

from ..vault.support import fresh_keyring

pytestmark = pytest.mark.django_db


def _org(world) -> Organisation:
    return Organisation.objects.get(pk=world.org.pk)


def _remove_coord2(world) -> tuple[bytes, int]:
    """Remove the second coordinator; return the audit private key they could
    have kept, and the newest entry before the removal."""
    with unlocked(fresh_keyring(world.coord2_keyring)):
        kept = _org(world).audit_private_key
    last_before = AuditEvent.objects.filter(organisation=world.org).order_by("-seq")[0].seq
    with unlocked(fresh_keyring(world.coord_keyring)):
        do_remove_member(actor=world.coord, member=world.coord2)
    return kept, last_before


def test_removing_a_coordinator_rotates_the_audit_key(world):
    old_public = bytes(_org(world).audit_public_key)
    kept, last_before = _remove_coord2(world)

    org = _org(world)
    assert bytes(org.audit_public_key) != old_public
    (retired,) = AuditKey.objects.filter(organisation=world.org)
    assert bytes(retired.public_key) == old_public
    # The retired key covers everything up to the rotation; the removal's own
    # entry (written before the rotation) is sealed to it too.
    assert retired.last_seq > last_before
    with unlocked(fresh_keyring(world.coord_keyring)):
        assert retired.private_key == kept
        new_private = _org(world).audit_private_key
    assert new_private != kept
    assert crypto.keypair_from_private(new_private)[0] == bytes(org.audit_public_key)


def test_the_former_coordinator_reads_old_entries_but_no_new_one(world):
    kept, _last_before = _remove_coord2(world)
    retired = AuditKey.objects.get(organisation=world.org)
    events = list(AuditEvent.objects.filter(organisation=world.org).order_by("seq"))
    old = [e for e in events if e.seq <= retired.last_seq]
    new = [e for e in events if e.seq > retired.last_seq]
    assert old and new
    for event in old:
        json.loads(crypto.open_as_audit_reader(kept, bytes(event.sealed_entry)))
    for event in new:
        with pytest.raises(crypto.SealBroken):
            crypto.open_as_audit_reader(kept, bytes(event.sealed_entry))
    # Nor do their own keys open the new audit key any more.
    with unlocked(fresh_keyring(world.coord2_keyring)), pytest.raises(Locked):
        _org(world).audit_private_key  # noqa: B018


def test_the_remaining_coordinators_read_the_whole_log(world):
    _remove_coord2(world)
    with unlocked(fresh_keyring(world.coord_keyring)):
        entries = read_entries(organisation=_org(world), limit=1000)
    count = AuditEvent.objects.filter(organisation=world.org).count()
    assert len(entries) == count
    assert not any(e["broken"] for e in entries)
    verbs = [e["verb"] for e in entries]
    assert "member.remove" in verbs
    rotations = [e for e in entries if e["verb"] == "compartment.rotate"]
    coordinators = [e for e in rotations if e["detail"]["kind"] == "coordinators"]
    assert len(coordinators) == 1
    assert coordinators[0]["detail"]["audit_key_rotated"] is True
    assert coordinators[0]["actor"] == str(world.coord.pk)
    assert check_chain(organisation=world.org).intact


def test_two_rotations_keep_every_entry_readable(world):
    """A second rotation retires the second key; each entry opens with its own."""
    from django.db import transaction

    from safepassage.vault import services as vault

    _remove_coord2(world)
    with transaction.atomic():
        vault.rotate(
            compartment=_org(world).coordinators_compartment,
            keyring=fresh_keyring(world.coord_keyring),
        )
    keys = list(AuditKey.objects.filter(organisation=world.org).order_by("last_seq"))
    assert len(keys) == 2 and keys[0].last_seq < keys[1].last_seq
    with unlocked(fresh_keyring(world.coord_keyring)):
        entries = read_entries(organisation=_org(world), limit=1000)
    assert len(entries) == AuditEvent.objects.filter(organisation=world.org).count()
    assert not any(e["broken"] for e in entries)


def test_a_cell_member_cannot_read_retired_keys(world):
    _remove_coord2(world)
    _member, ring = world.member(0)
    with unlocked(fresh_keyring(ring)), pytest.raises(Locked):
        AuditKey.objects.get(organisation=world.org).private_key  # noqa: B018
