"""Writing the audit log. Called by every domain service inside its transaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from safepassage.vault import crypto

from .models import AuditEvent

GENESIS = b"\x00" * 32


def entry_bytes(*, prev_hash: bytes, seq: int, at_iso: str, sealed_entry: bytes) -> bytes:
    return seq.to_bytes(8, "big") + at_iso.encode("ascii") + b"|" + sealed_entry


def record(
    *,
    organisation,
    actor,
    verb: str,
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry to the organisation's chain.

    ``verb`` is a dotted action name (``case.create``); ``target`` a model
    instance (only its type and id are recorded); ``detail`` small non-secret
    facts (statuses, counts). Must run inside the caller's transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    from safepassage.organisations.models import Organisation

    # Serialise appends per organisation (a row lock on PostgreSQL; SQLite
    # runs IMMEDIATE transactions, which already serialise writers).
    org = (
        Organisation.objects.select_for_update()
        .only("id", "audit_public_key")
        .get(pk=organisation.pk)
    )
    last = (
        AuditEvent.objects.filter(organisation=org)
        .order_by("-seq")
        .values("seq", "entry_hash")
        .first()
    )
    seq = (last["seq"] + 1) if last else 1
    prev_hash = bytes(last["entry_hash"]) if last else GENESIS
    payload = {
        "actor": str(actor.pk) if actor is not None else None,
        "actor_handle": getattr(actor, "handle", None),
        "verb": verb,
        "target_type": target._meta.label_lower if target is not None else None,
        "target_id": str(target.pk) if target is not None else None,
        "detail": detail or {},
        "nonce": uuid.uuid4().hex,
    }
    sealed = crypto.seal_for_audit_readers(
        bytes(org.audit_public_key), json.dumps(payload, sort_keys=True).encode("utf-8")
    )
    at = timezone.now()
    at_iso = at.isoformat()
    entry_hash = crypto.chain_hash(
        prev_hash, entry_bytes(prev_hash=prev_hash, seq=seq, at_iso=at_iso, sealed_entry=sealed)
    )
    return AuditEvent.objects.create(
        organisation=org,
        seq=seq,
        at=at,
        sealed_entry=sealed,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
    )
