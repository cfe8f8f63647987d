"""Reading and verifying the audit log."""

from __future__ import annotations

import json
from typing import Any

from safepassage.vault import crypto

from .models import AuditEvent
from .services import GENESIS, entry_bytes


def first_broken_link(*, organisation) -> int | None:
    """The sequence number of the first entry whose chain does not verify, or None.

    Detects edited, deleted, inserted and reordered entries.
    """
    prev = GENESIS
    expected_seq = 1
    for event in AuditEvent.objects.filter(organisation=organisation).order_by("seq").iterator():
        at_iso = event.at.isoformat()
        recomputed = crypto.chain_hash(
            prev,
            entry_bytes(
                prev_hash=prev, seq=event.seq, at_iso=at_iso, sealed_entry=bytes(event.sealed_entry)
            ),
        )
        if (
            event.seq != expected_seq
            or bytes(event.prev_hash) != prev
            or not crypto.constant_time_equal(recomputed, bytes(event.entry_hash))
        ):
            return event.seq
        prev = bytes(event.entry_hash)
        expected_seq += 1
    return None


def read_entries(*, organisation, limit: int = 200) -> list[dict[str, Any]]:
    """Open the newest entries with the audit key (coordinators only: the key
    is sealed in the coordinators' compartment, so this raises Locked otherwise)."""
    private_key = organisation.audit_private_key
    entries = []
    for event in AuditEvent.objects.filter(organisation=organisation).order_by("-seq")[:limit]:
        data = json.loads(crypto.open_as_audit_reader(private_key, bytes(event.sealed_entry)))
        data["seq"] = event.seq
        data["at"] = event.at
        entries.append(data)
    return entries
