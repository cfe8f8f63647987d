"""The verify command: intact chains pass; editing, deleting or reordering one
entry (the newest included) makes it exit non-zero naming the first broken link."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import head_of

from .conftest import ENTRIES


def _verify(*args: str) -> tuple[bool, str]:
    """(passed, output) of ``safepassage verify_audit``."""
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()


def test_intact_chains_pass(chain):
    passed, out = _verify()
    assert passed
    assert f"organisation {chain.org.pk}: {ENTRIES} entries, chain intact" in out
    assert "broken" not in out


def test_an_edited_entry_is_named(chain):
    victim = chain.event(4)
    sealed = bytearray(bytes(victim.sealed_entry))
    sealed[10] ^= 0x01
    AuditEvent.objects.filter(pk=victim.pk).update(sealed_entry=bytes(sealed))
    passed, out = _verify()
    assert not passed
    assert f"organisation {chain.org.pk}: chain broken at entry 4 of {ENTRIES}: " in out
    assert "the entry was altered" in out


def test_a_deleted_middle_entry_is_named_at_the_next_one(chain):
    chain.event(6).delete()
    passed, out = _verify()
    assert not passed
    assert f"chain broken at entry 7 of {ENTRIES - 1}: the entry before it is missing" in out


def test_a_deleted_newest_entry_is_named(chain):
    chain.event(ENTRIES).delete()
    passed, out = _verify()
    assert not passed
    assert (
        f"chain broken at entry {ENTRIES} of {ENTRIES - 1}: the newest entries were deleted" in out
    )


def test_reordered_entries_are_named_at_the_first_of_them(chain):
    first, second = chain.event(5), chain.event(9)
    with transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).update(seq=0)
        AuditEvent.objects.filter(pk=second.pk).update(seq=5)
        AuditEvent.objects.filter(pk=first.pk).update(seq=9)
    passed, out = _verify()
    assert not passed
    assert f"chain broken at entry 5 of {ENTRIES}: the entry does not link" in out


def test_only_the_broken_organisation_is_named(chain):
    from ..factories import OrganisationFactory

    other = OrganisationFactory().organisation
    chain.event(3).delete()
    passed, out = _verify()
    assert not passed
    assert f"organisation {chain.org.pk}: chain broken at entry 4" in out
    assert f"organisation {other.pk}: 1 entries, chain intact" in out


def test_chain_only_skips_the_anchor(chain):
    chain.event(ENTRIES).delete()
    assert _verify("--chain-only")[0]
    assert not _verify()[0]


def test_expect_checks_a_head_noted_elsewhere(chain):
    seq, digest = head_of(organisation=chain.org)
    assert _verify("--expect", f"{chain.org.pk}:{seq}:{digest[:16]}")[0]
    wrong = ("f" if digest[0] != "f" else "e") + digest[1:16]
    passed, out = _verify("--expect", f"{chain.org.pk}:{seq}:{wrong}")
    assert not passed
    assert f"chain broken at entry {seq} of {ENTRIES}: the head noted outside" in out


@pytest.mark.parametrize("bad", ["nonsense", "1:2:3", "{org}:5:abc", "{org}:x:abcdef01"])
def test_expect_refuses_a_malformed_head(chain, bad):
    with pytest.raises(CommandError, match="--expect"):
        call_command("verify_audit", "--expect", bad.format(org=chain.org.pk), stdout=io.StringIO())


def test_expect_refuses_an_unknown_organisation(chain):
    with pytest.raises(CommandError, match="no organisation"):
        call_command(
            "verify_audit",
            "--expect",
            "00000000-0000-0000-0000-000000000000:1:abcdef0123",
            stdout=io.StringIO(),
        )
