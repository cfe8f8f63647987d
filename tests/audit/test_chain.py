"""The audit log: chained by hash over ciphertext, sealed to the coordinators."""

from __future__ import annotations

import pytest
from django.db import transaction

from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import check_chain, first_broken_link, read_entries
from safepassage.audit.services import entry_bytes
from safepassage.members.models import Member
from safepassage.organisations.models import Organisation
from safepassage.vault import crypto
from safepassage.vault.keyring import Locked, unlocked

from ..factories import OrganisationFactory
from ..vault.support import fresh_keyring


def _org(world) -> Organisation:
    """A fresh instance: nothing decrypted and cached on it."""
    return Organisation.objects.get(pk=world.org.pk)


def _seqs(world) -> list[int]:
    return list(AuditEvent.objects.filter(organisation=world.org).values_list("seq", flat=True))


def _event(world, seq: int) -> AuditEvent:
    return AuditEvent.objects.get(organisation=world.org, seq=seq)


# --- the chain ----------------------------------------------------------------------------------


def test_the_chain_verifies_after_the_world_is_built(world):
    seqs = _seqs(world)
    assert len(seqs) >= 20
    assert seqs == list(range(1, len(seqs) + 1))
    assert first_broken_link(organisation=world.org) is None


def test_an_edited_entry_is_the_first_broken_link(world):
    event = _event(world, 7)
    tampered = bytearray(bytes(event.sealed_entry))
    tampered[len(tampered) // 2] ^= 0x01
    AuditEvent.objects.filter(pk=event.pk).update(sealed_entry=bytes(tampered))
    assert first_broken_link(organisation=world.org) == 7


def test_an_edited_time_is_detected(world):
    event = _event(world, 4)
    AuditEvent.objects.filter(pk=event.pk).update(at=event.at.replace(year=event.at.year - 1))
    assert first_broken_link(organisation=world.org) == 4


def _forge(world, seq: int, sealed_entry: bytes) -> bytes:
    """Replace entry ``seq``'s ciphertext and recompute its own hash, as someone
    with write access to the database but no keys can. Returns the new hash."""
    event = _event(world, seq)
    new_hash = crypto.chain_hash(
        bytes(event.prev_hash),
        entry_bytes(
            prev_hash=bytes(event.prev_hash),
            seq=seq,
            at_iso=event.at.isoformat(),
            sealed_entry=sealed_entry,
        ),
    )
    AuditEvent.objects.filter(pk=event.pk).update(sealed_entry=sealed_entry, entry_hash=new_hash)
    return new_hash


def test_an_entry_recomputed_without_its_predecessor_is_detected(world):
    """Editing an entry and fixing its own hash: its MAC no longer verifies; the
    hash chain alone shows it at the next link."""
    _forge(world, 5, bytes(_event(world, 2).sealed_entry))  # a real entry of another time
    check = check_chain(organisation=world.org)
    assert (check.broken_at, check.reason) == (5, "mac")
    assert first_broken_link(organisation=world.org, use_mac=False) == 6


def test_a_chain_rewritten_with_every_hash_recomputed_is_named_at_the_first_rewrite(world):
    """The whole chain from entry 5 on recomputed: it holds as a hash chain (which
    needs no key to recompute), but the MACs name entry 5."""
    prev = _forge(world, 5, bytes(_event(world, 2).sealed_entry))
    last = _seqs(world)[-1]
    for seq in range(6, last + 1):
        event = _event(world, seq)
        new_hash = crypto.chain_hash(
            prev,
            entry_bytes(
                prev_hash=prev,
                seq=seq,
                at_iso=event.at.isoformat(),
                sealed_entry=bytes(event.sealed_entry),
            ),
        )
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=prev, entry_hash=new_hash)
        prev = new_hash
    assert first_broken_link(organisation=world.org, use_mac=False) is None
    check = check_chain(organisation=world.org)
    assert (check.broken_at, check.reason) == (5, "mac")


def test_a_deleted_entry_is_detected_at_the_next_one(world):
    _event(world, 9).delete()
    assert first_broken_link(organisation=world.org) == 10


def test_a_deleted_first_entry_is_detected(world):
    _event(world, 1).delete()
    assert first_broken_link(organisation=world.org) == 2


@pytest.mark.parametrize(("a", "b"), [(3, 4), (5, 12)])
def test_swapped_entries_are_detected_at_the_first_of_them(world, a, b):
    first, second = _event(world, a), _event(world, b)
    with transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).update(seq=0)
        AuditEvent.objects.filter(pk=second.pk).update(seq=a)
        AuditEvent.objects.filter(pk=first.pk).update(seq=b)
    assert first_broken_link(organisation=world.org) == a


def test_another_organisations_chain_is_its_own(world):
    other = OrganisationFactory()
    _event(world, 3).delete()
    assert first_broken_link(organisation=world.org) == 4
    assert first_broken_link(organisation=other.organisation) is None


# --- secrecy ------------------------------------------------------------------------------------


def test_entries_carry_no_plaintext(world):
    handles = list(Member.objects.filter(organisation=world.org).values_list("handle", flat=True))
    member_ids = [str(pk) for pk in Member.objects.values_list("pk", flat=True)]
    giveaways = [
        b"case.open",
        b"leg.add",
        b"member.approve",
        b"verb",
        b"actor",
        str(world.case.pk).encode(),
        *(h.encode() for h in handles),
        *(m.encode() for m in member_ids),
    ]
    events = list(AuditEvent.objects.filter(organisation=world.org))
    for event in events:
        sealed = bytes(event.sealed_entry)
        for giveaway in giveaways:
            assert giveaway not in sealed
    # The same event recorded twice is sealed differently (no linking by equality).
    assert len({bytes(e.sealed_entry) for e in events}) == len(events)


def test_a_coordinator_reads_the_entries(world):
    with unlocked(fresh_keyring(world.coord2_keyring)):
        entries = read_entries(organisation=_org(world), limit=500)
    assert [e["seq"] for e in entries] == sorted(_seqs(world), reverse=True)
    verbs = {e["verb"] for e in entries}
    assert {"organisation.create", "case.open", "leg.add", "member.approve"} <= verbs
    opened = next(
        e for e in entries if e["verb"] == "case.open" and e["target_id"] == str(world.case.pk)
    )
    assert opened["actor"] == str(world.coord.pk)
    assert opened["actor_handle"] == world.coord.handle


def test_nobody_else_reads_the_entries(world):
    _member, cell_ring = world.member(0)
    outsider = OrganisationFactory()
    for ring in (fresh_keyring(cell_ring), fresh_keyring(outsider.keyring), None):
        with unlocked(ring), pytest.raises(Locked):
            read_entries(organisation=_org(world))
