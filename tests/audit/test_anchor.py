"""The head anchor and the MACs: what database access alone cannot hide.

The hash chain needs no key, so anyone who can write to the database can
delete the newest entries, or rewrite entries and recompute every hash after
them. Each entry's MAC and the head row's MAC, under a key derived from the
dispatch key in the environment, show both. A database rolled back to an
earlier state, head included, shows only against a head noted elsewhere.
"""

from __future__ import annotations

from django.utils import timezone

from safepassage.audit.models import AuditEvent, AuditHead
from safepassage.audit.selectors import check_chain, head_of
from safepassage.audit.services import entry_bytes
from safepassage.vault import crypto

from .conftest import ENTRIES


def _check(chain, **kwargs):
    result = check_chain(organisation=chain.org, **kwargs)
    return result.broken_at, result.reason


def test_an_intact_chain_and_its_head(chain):
    result = check_chain(organisation=chain.org)
    assert result.intact and result.entries == ENTRIES and result.head_seq == ENTRIES
    head = AuditHead.objects.get(organisation=chain.org)
    assert bytes(head.entry_hash) == bytes(chain.event(ENTRIES).entry_hash)
    assert head_of(organisation=chain.org) == (ENTRIES, bytes(head.entry_hash).hex())


def test_each_append_moves_the_head(chain):
    chain.append(2)
    assert AuditHead.objects.get(organisation=chain.org).seq == ENTRIES + 2
    assert check_chain(organisation=chain.org).intact


def test_deleting_the_newest_entry_is_named(chain):
    chain.event(ENTRIES).delete()
    assert _check(chain) == (ENTRIES, "truncated")
    # The hash chain alone cannot see it: what is left links up perfectly.
    assert _check(chain, use_mac=False) == (None, None)


def test_deleting_the_newest_entries_is_named_at_the_first_missing(chain):
    AuditEvent.objects.filter(organisation=chain.org, seq__gt=ENTRIES - 3).delete()
    assert _check(chain) == (ENTRIES - 2, "truncated")


def test_moving_the_head_back_without_the_key_is_named(chain):
    """Delete the newest entry and point the head at the one before (its MAC
    copied from the entry: a different message, so it does not verify)."""
    previous = chain.event(ENTRIES - 1)
    chain.event(ENTRIES).delete()
    AuditHead.objects.filter(organisation=chain.org).update(
        seq=ENTRIES - 1, entry_hash=bytes(previous.entry_hash), mac=bytes(previous.entry_mac)
    )
    assert _check(chain) == (ENTRIES, "head_mac")


def test_a_deleted_head_is_named(chain):
    AuditHead.objects.filter(organisation=chain.org).delete()
    assert _check(chain) == (ENTRIES + 1, "no_head")


def test_an_entry_added_after_the_head_is_named(chain):
    """A forged entry appended with a correct hash (no key needed for that),
    sealed to the audit public key like any real one, and the MAC of the
    entry before it."""
    newest = chain.event(ENTRIES)
    sealed = crypto.seal_for_audit_readers(bytes(chain.org.audit_public_key), b"{}")
    at = timezone.now()
    prev = bytes(newest.entry_hash)
    AuditEvent.objects.create(
        organisation=chain.org,
        seq=ENTRIES + 1,
        at=at,
        sealed_entry=sealed,
        prev_hash=prev,
        entry_hash=crypto.chain_hash(
            prev,
            entry_bytes(
                prev_hash=prev, seq=ENTRIES + 1, at_iso=at.isoformat(), sealed_entry=sealed
            ),
        ),
        entry_mac=bytes(newest.entry_mac),
    )
    assert _check(chain, use_mac=False) == (None, None)
    assert _check(chain) == (ENTRIES + 1, "mac")


def test_an_empty_log_is_broken(chain):
    AuditEvent.objects.filter(organisation=chain.org).delete()
    AuditHead.objects.filter(organisation=chain.org).delete()
    assert _check(chain) == (1, "empty")


def test_another_dispatch_key_fails_every_mac(chain):
    assert _check(chain, mac_key=b"\x01" * 32) == (1, "mac")


def test_a_rollback_shows_only_against_a_head_noted_elsewhere(chain):
    """The limit of an anchor kept with the database: restoring an earlier copy
    of the log, head row included, leaves a consistent, authentic chain. A
    head noted outside the server (the audit page shows it) still catches it."""
    noted_earlier = {
        "seq": ENTRIES,
        "entry_hash": bytes(chain.event(ENTRIES).entry_hash),
        "mac": bytes(AuditHead.objects.get(organisation=chain.org).mac),
    }
    chain.append(3)
    seq, digest = head_of(organisation=chain.org)
    assert seq == ENTRIES + 3
    # Roll back: the three newest entries gone, the old head row put back.
    AuditEvent.objects.filter(organisation=chain.org, seq__gt=ENTRIES).delete()
    AuditHead.objects.filter(organisation=chain.org).update(**noted_earlier)
    assert _check(chain) == (None, None)
    assert _check(chain, expect=(seq, digest[:16])) == (ENTRIES + 1, "expected")


def test_a_noted_head_that_does_not_match_is_named(chain):
    seq, digest = head_of(organisation=chain.org)
    assert _check(chain, expect=(seq, digest[:16])) == (None, None)
    chain.append(1)
    assert _check(chain, expect=(seq, digest[:16])) == (None, None)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:16]
    assert _check(chain, expect=(seq, wrong)) == (seq, "expected")
