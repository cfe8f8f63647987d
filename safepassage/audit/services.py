"""Writing the audit log. Called by every domain service inside its transaction.

Each entry is sealed to the organisation's audit public key (anyone may
write, only coordinators read), chained by hash over the ciphertext, and
carries a MAC under a key derived from the environment's dispatch key. The
organisation's ``AuditHead`` row, written in the same transaction, names the
newest entry with its own MAC, so deleting the newest entries shows too.
``selectors.check_chain`` verifies all of it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from safepassage.vault import crypto

from .models import AuditEvent, AuditHead, AuditKey

GENESIS = b"\x00" * 32
# A request that opened more records than this writes several entries.
RECORDS_PER_ENTRY = 100


def entry_bytes(*, prev_hash: bytes, seq: int, at_iso: str, sealed_entry: bytes) -> bytes:
    return seq.to_bytes(8, "big") + at_iso.encode("ascii") + b"|" + sealed_entry


def entry_mac_message(*, organisation_id: object, seq: int, entry_hash: bytes) -> bytes:
    return b"entry|" + str(organisation_id).encode("ascii") + seq.to_bytes(8, "big") + entry_hash


def head_mac_message(*, organisation_id: object, seq: int, entry_hash: bytes) -> bytes:
    # Its own prefix: an entry's MAC cannot stand in for a shorter chain's head.
    return b"head|" + str(organisation_id).encode("ascii") + seq.to_bytes(8, "big") + entry_hash


def anchor_key() -> bytes:
    """The dispatch key from the environment; the MAC key is derived from it."""
    return crypto.dispatch_key_from_hex(settings.SAFEPASSAGE_DISPATCH_KEY)


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
    key = anchor_key()
    event = AuditEvent.objects.create(
        organisation=org,
        seq=seq,
        at=at,
        sealed_entry=sealed,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
        entry_mac=crypto.audit_mac(
            key, entry_mac_message(organisation_id=org.pk, seq=seq, entry_hash=entry_hash)
        ),
    )
    head = {
        "seq": seq,
        "entry_hash": entry_hash,
        "mac": crypto.audit_mac(
            key, head_mac_message(organisation_id=org.pk, seq=seq, entry_hash=entry_hash)
        ),
    }
    if not AuditHead.objects.filter(organisation=org).update(**head):
        AuditHead.objects.create(organisation=org, **head)
    return event


def record_opened(
    *,
    organisation,
    actor,
    records: Sequence[tuple[str, str]],
    view: str | None,
    method: str,
) -> list[AuditEvent]:
    """Write that ``actor`` had the sealed values of ``records`` opened by one
    request (``[model label, id]`` pairs, never values), in its own transaction.

    One ``record.open`` entry per ``RECORDS_PER_ENTRY`` records; ``view`` is the
    URL pattern's name, not the path.
    """
    pairs = [[label, pk] for label, pk in records]
    chunks = [pairs[i : i + RECORDS_PER_ENTRY] for i in range(0, len(pairs), RECORDS_PER_ENTRY)]
    events = []
    with transaction.atomic():
        for n, chunk in enumerate(chunks, start=1):
            events.append(
                record(
                    organisation=organisation,
                    actor=actor,
                    verb="record.open",
                    detail={
                        "view": view,
                        "method": method,
                        "records": chunk,
                        "count": len(pairs),
                        "part": n,
                        "parts": len(chunks),
                    },
                )
            )
    return events


def rotate_audit_key(*, organisation_id: uuid.UUID) -> AuditKey:
    """Draw a new audit key pair for the organisation and retire the old one.

    Runs inside the caller's transaction, with a keyring in force that opens
    the coordinators' compartment (the retired private key is sealed there,
    next to the new one). Entries written from now on are sealed to the new
    public key. Returns the retired key.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("rotate_audit_key must run inside the caller's transaction")
    from safepassage.organisations.models import Organisation

    org = Organisation.objects.select_for_update().get(pk=organisation_id)
    last_seq = (
        AuditEvent.objects.filter(organisation=org)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    ) or 0
    retired = AuditKey(organisation=org, last_seq=last_seq, public_key=bytes(org.audit_public_key))
    retired.private_key = org.audit_private_key
    retired.save()
    public, private = crypto.new_keypair()
    org.audit_public_key = public
    org.audit_private_key = private
    org.save(update_fields=["audit_public_key", "audit_private_key"])
    return retired


def record_rotation(*, compartment, keyring, resealed: int) -> AuditEvent:
    """Audit a compartment key rotation (called by ``vault.services.rotate``
    inside its transaction, with ``keyring`` in force).

    Rotating the coordinators' compartment also rotates the audit key pair:
    whoever lost the coordinators' key loses the audit key with it.
    """
    from safepassage.members.models import Member
    from safepassage.vault.models import Compartment, CompartmentKind

    compartment = Compartment.objects.select_related("organisation").get(pk=compartment.pk)
    audit_key_rotated = compartment.kind == CompartmentKind.COORDINATORS
    if audit_key_rotated:
        rotate_audit_key(organisation_id=compartment.organisation_id)
    actor = (
        Member.objects.filter(pk=keyring.member_id).first()
        if keyring.member_id is not None
        else None
    )
    return record(
        organisation=compartment.organisation,
        actor=actor,
        verb="compartment.rotate",
        target=compartment,
        detail={
            "kind": compartment.kind,
            "version": compartment.current_version,
            "resealed": resealed,
            "audit_key_rotated": audit_key_rotated,
        },
    )
