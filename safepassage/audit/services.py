"""Writing the audit log. Called by every domain service inside its transaction.

Each entry is sealed to the organisation's audit public key (anyone may
write, only coordinators read), chained by hash over the ciphertext, and
carries a MAC under a key derived from the environment's dispatch key. The
organisation's ``AuditHead`` row, written in the same transaction, names the
newest entry with its own MAC, so deleting the newest entries shows too.
``selectors.check_chain`` verifies all of it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
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

    Inside ``opening_history`` for this organisation the entry is held, and
    written with the history when the block ends (the event returned is
    then unsaved).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    payload = {
        "actor": str(actor.pk) if actor is not None else None,
        "actor_handle": getattr(actor, "handle", None),
        "verb": verb,
        "target_type": target._meta.label_lower if target is not None else None,
        "target_id": str(target.pk) if target is not None else None,
        "detail": detail or {},
        "nonce": uuid.uuid4().hex,
    }
    history = _history.get()
    if history is not None and history.organisation_id == organisation.pk:
        return history.hold(payload)
    return _append(organisation_id=organisation.pk, payload=payload, at=timezone.now())


def _append(*, organisation_id: Any, payload: dict[str, Any], at: datetime) -> AuditEvent:
    return _append_all(organisation_id=organisation_id, entries=[(payload, at)])[0]


def _append_all(
    *,
    organisation_id: Any,
    entries: Sequence[tuple[dict[str, Any], datetime]],
    fresh: bool = False,
) -> list[AuditEvent]:
    """Seal, chain and write ``entries`` (payload, time) after the newest
    entry, then move the head anchor to the last one. With ``fresh`` the
    chain must be empty (an opening history)."""
    from safepassage.organisations.models import Organisation

    # Serialise appends per organisation (a row lock on PostgreSQL; SQLite
    # runs IMMEDIATE transactions, which already serialise writers).
    org = (
        Organisation.objects.select_for_update()
        .only("id", "audit_public_key")
        .get(pk=organisation_id)
    )
    last = (
        AuditEvent.objects.filter(organisation=org)
        .order_by("-seq")
        .values("seq", "entry_hash")
        .first()
    )
    if fresh and last is not None:
        raise RuntimeError("an opening history starts an empty chain")
    seq = last["seq"] if last else 0
    prev_hash = bytes(last["entry_hash"]) if last else GENESIS
    key = anchor_key()
    events = []
    for payload, at in entries:
        seq += 1
        sealed = crypto.seal_for_audit_readers(
            bytes(org.audit_public_key), json.dumps(payload, sort_keys=True).encode("utf-8")
        )
        entry_hash = crypto.chain_hash(
            prev_hash,
            entry_bytes(prev_hash=prev_hash, seq=seq, at_iso=at.isoformat(), sealed_entry=sealed),
        )
        events.append(
            AuditEvent(
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
        )
        prev_hash = entry_hash
    if not events:
        return []
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        AuditEvent.objects.bulk_create(events, batch_size=200)
    head = {
        "seq": seq,
        "entry_hash": prev_hash,
        "mac": crypto.audit_mac(
            key, head_mac_message(organisation_id=org.pk, seq=seq, entry_hash=prev_hash)
        ),
    }
    if not AuditHead.objects.filter(organisation=org).update(**head):
        AuditHead.objects.create(organisation=org, **head)
    return events


class OpeningHistory:
    """The entries recorded for a new organisation inside ``opening_history``,
    each at the time last given to ``at``."""

    def __init__(self, organisation_id: Any) -> None:
        self.organisation_id = organisation_id
        self._at: datetime | None = None
        self._held: list[tuple[datetime, int, dict[str, Any]]] = []

    def at(self, when: datetime) -> None:
        """The time of the entries recorded from now on (in the past)."""
        if when > timezone.now():
            raise ValueError("a history is in the past")
        self._at = when

    def hold(self, payload: dict[str, Any]) -> AuditEvent:
        if self._at is None:
            raise RuntimeError("an entry of the opening history needs a time (OpeningHistory.at)")
        self._held.append((self._at, len(self._held), payload))
        return AuditEvent(organisation_id=self.organisation_id, at=self._at)

    def write(self) -> int:
        """Write the held entries as the start of the chain, oldest first."""
        held = sorted(self._held, key=lambda entry: entry[:2])
        _append_all(
            organisation_id=self.organisation_id,
            entries=[(payload, at) for at, _order, payload in held],
            fresh=True,
        )
        return len(held)


_history: contextvars.ContextVar[OpeningHistory | None] = contextvars.ContextVar(
    "safepassage_opening_history", default=None
)


@contextlib.contextmanager
def opening_history(*, organisation) -> Iterator[OpeningHistory]:
    """Give a new organisation a past: the entries the services record for it
    inside the block are held, each with the time set last (``at``), and
    written when the block ends as the start of its chain, in order of time,
    numbered from 1, hashed, MACed and anchored like any entry.

    For the organisation a duress password opens (``members.cover``), whose
    history must predate the duress password. It only ever starts a chain:
    the block refuses an organisation that has entries already, so it
    cannot backdate anything in a chain that exists. Runs inside the
    caller's transaction; entries for other organisations are written as
    usual meanwhile.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("opening_history must run inside the caller's transaction")
    if AuditEvent.objects.filter(organisation_id=organisation.pk).exists():
        raise RuntimeError("an opening history starts an empty chain")
    history = OpeningHistory(organisation.pk)
    token = _history.set(history)
    try:
        yield history
    finally:
        _history.reset(token)
    history.write()


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
