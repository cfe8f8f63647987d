"""The verify command: intact chains pass; a broken one fails and is named."""

import io

import pytest
from django.core.management import CommandError, call_command

from safepassage.audit.models import AuditEvent


def test_intact_chains_pass(world):
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert f"organisation {world.org.pk}:" in out.getvalue()
    assert "chain intact" in out.getvalue()
    assert "broken" not in out.getvalue()


def test_an_edited_entry_is_named(world):
    victim = AuditEvent.objects.filter(organisation=world.org).order_by("seq")[3]
    sealed = bytearray(bytes(victim.sealed_entry))
    sealed[10] ^= 0x01
    AuditEvent.objects.filter(pk=victim.pk).update(sealed_entry=bytes(sealed))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=out)
    assert f"organisation {world.org.pk}: chain broken at entry {victim.seq} of" in out.getvalue()


def test_a_deleted_entry_is_named(world):
    victim = AuditEvent.objects.filter(organisation=world.org).order_by("seq")[2]
    AuditEvent.objects.filter(pk=victim.pk).delete()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=out)
    assert f"chain broken at entry {victim.seq + 1} of" in out.getvalue()
