"""Reading and verifying the audit log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator

from safepassage.vault import crypto

from .models import AuditEvent, AuditHead, AuditKey
from .services import GENESIS, anchor_key, entry_bytes, entry_mac_message, head_mac_message

PER_PAGE = 50

# Why a chain fails, as ``ChainCheck.reason``.
EMPTY = "empty"  # an organisation always has its creation entry
SEQUENCE = "sequence"  # a number missing, repeated or out of order
LINK = "link"  # the entry does not name the previous entry's hash
HASH = "hash"  # the entry's contents do not match its hash
MAC = "mac"  # the entry's MAC does not verify (rewritten without the dispatch key)
NO_HEAD = "no_head"  # the head anchor row is missing
HEAD_MAC = "head_mac"  # the head anchor does not verify
TRUNCATED = "truncated"  # the head names entries that are not there
BEYOND_HEAD = "beyond_head"  # entries after the anchored head
EXPECTED = "expected"  # a head noted outside the server is not in the chain

REASONS = {
    EMPTY: "the log is empty, but every organisation's log starts with its creation",
    SEQUENCE: "the entry before it is missing, or entries are out of order",
    LINK: "the entry does not link to the one before it",
    HASH: "the entry was altered",
    MAC: "the entry's MAC does not verify (rewritten, or another dispatch key)",
    NO_HEAD: "the head anchor is missing",
    HEAD_MAC: "the head anchor does not verify (forged or rolled back)",
    TRUNCATED: "the newest entries were deleted (the head anchor names them)",
    BEYOND_HEAD: "entries were added after the anchored head",
    EXPECTED: "the head noted outside the server is not in this chain",
}


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of verifying one organisation's chain.

    ``broken_at`` is the sequence number of the first entry that cannot be
    trusted (edited, out of place, or missing), or None when the chain holds.
    """

    entries: int
    head_seq: int | None
    broken_at: int | None
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def explain(self) -> str:
        return REASONS.get(self.reason or "", "")


def check_chain(
    *,
    organisation,
    mac_key: bytes | None = None,
    use_mac: bool = True,
    expect: tuple[int, str] | None = None,
) -> ChainCheck:
    """Verify an organisation's chain, entry by entry, then its head anchor.

    Without keys, the hash chain shows edited, deleted, inserted and
    reordered entries. With the dispatch key (``use_mac``, the default; read
    from the settings unless ``mac_key`` is given) each entry's MAC and the
    head anchor are checked too, which shows a chain rewritten with its hashes
    recomputed and deleted newest entries. ``expect`` is a head noted outside
    the server: (sequence number, leading hex digits of its hash); a database
    rolled back to an earlier state, head and all, lacks it.
    """
    key = (mac_key or anchor_key()) if use_mac else None
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_hash = GENESIS

    def broken(seq: int, reason: str) -> ChainCheck:
        return ChainCheck(entries=total(), head_seq=head_seq, broken_at=seq, reason=reason)

    def total() -> int:
        return AuditEvent.objects.using(using).filter(organisation=organisation).count()

    # The database the organisation was read from (a restore checks its own).
    using = organisation._state.db or "default"
    head = AuditHead.objects.using(using).filter(organisation=organisation).first()
    head_seq = head.seq if head is not None else None
    events = AuditEvent.objects.using(using).filter(organisation=organisation).order_by("seq")
    for event in events.iterator():
        entry_hash = bytes(event.entry_hash)
        recomputed = crypto.chain_hash(
            prev,
            entry_bytes(
                prev_hash=prev,
                seq=event.seq,
                at_iso=event.at.isoformat(),
                sealed_entry=bytes(event.sealed_entry),
            ),
        )
        if event.seq != expected_seq:
            return broken(event.seq, SEQUENCE)
        if bytes(event.prev_hash) != prev:
            return broken(event.seq, LINK)
        if not crypto.constant_time_equal(recomputed, entry_hash):
            return broken(event.seq, HASH)
        if key is not None and not crypto.constant_time_equal(
            crypto.audit_mac(
                key,
                entry_mac_message(
                    organisation_id=organisation.pk, seq=event.seq, entry_hash=entry_hash
                ),
            ),
            bytes(event.entry_mac),
        ):
            return broken(event.seq, MAC)
        if (
            expect is not None
            and event.seq == expect[0]
            and not entry_hash.hex().startswith(expect[1].lower())
        ):
            return broken(event.seq, EXPECTED)
        prev = last_hash = entry_hash
        expected_seq += 1
        count += 1
    last_seq = expected_seq - 1
    if count == 0:
        return ChainCheck(entries=0, head_seq=head_seq, broken_at=1, reason=EMPTY)
    if expect is not None and expect[0] > last_seq:
        return broken(last_seq + 1, EXPECTED)
    if key is None:
        return ChainCheck(entries=count, head_seq=head_seq, broken_at=None, reason=None)
    if head is None:
        return broken(last_seq + 1, NO_HEAD)
    head_hash = bytes(head.entry_hash)
    if not crypto.constant_time_equal(
        crypto.audit_mac(
            key,
            head_mac_message(organisation_id=organisation.pk, seq=head.seq, entry_hash=head_hash),
        ),
        bytes(head.mac),
    ):
        # The entries are each authentic; what cannot be trusted is where the
        # log ends, so the first entry that may be missing is named.
        return broken(min(head.seq, last_seq) + 1, HEAD_MAC)
    if head.seq > last_seq:
        return broken(last_seq + 1, TRUNCATED)
    if head.seq < last_seq:
        return broken(head.seq + 1, BEYOND_HEAD)
    if not crypto.constant_time_equal(head_hash, last_hash):
        return broken(last_seq, HASH)
    return ChainCheck(entries=count, head_seq=head_seq, broken_at=None, reason=None)


def first_broken_link(*, organisation, use_mac: bool = True) -> int | None:
    """The sequence number of the first entry whose chain does not verify, or None.

    Detects edited, deleted, inserted and reordered entries, and (with the
    dispatch key) rewritten chains and deleted newest entries.
    """
    return check_chain(organisation=organisation, use_mac=use_mac).broken_at


def head_of(*, organisation) -> tuple[int, str] | None:
    """(sequence number, hash in hex) of the newest entry, for noting outside the server."""
    newest = (
        AuditEvent.objects.filter(organisation=organisation)
        .order_by("-seq")
        .values_list("seq", "entry_hash")
        .first()
    )
    return (newest[0], bytes(newest[1]).hex()) if newest else None


# --- reading (coordinators) ---------------------------------------------------------------


def _key_chooser(organisation) -> Callable[[int], bytes]:
    """The audit private key each entry was sealed to, by sequence number.

    Opening the current key (or a retired one) needs the coordinators'
    compartment, so anyone else gets Locked.
    """
    retired = list(AuditKey.objects.filter(organisation=organisation).order_by("last_seq"))
    current = organisation.audit_private_key

    def key_for(seq: int) -> bytes:
        for key in retired:
            if seq <= key.last_seq:
                return bytes(key.private_key)
        return current

    return key_for


def _open(events: Iterable[AuditEvent], key_for: Callable[[int], bytes]) -> list[dict[str, Any]]:
    entries = []
    for event in events:
        try:
            data = json.loads(
                crypto.open_as_audit_reader(key_for(event.seq), bytes(event.sealed_entry))
            )
            data["broken"] = False
        except crypto.SealBroken:
            # Shown as such: a reader must see that an entry failed to open.
            data = {"broken": True, "verb": None, "detail": {}}
        data["seq"] = event.seq
        data["at"] = event.at
        entries.append(data)
    return entries


def read_entries(*, organisation, limit: int = 200) -> list[dict[str, Any]]:
    """Open the newest entries with the audit keys (coordinators only: the keys
    are sealed in the coordinators' compartment, so this raises Locked otherwise)."""
    key_for = _key_chooser(organisation)
    events = AuditEvent.objects.filter(organisation=organisation).order_by("-seq")[:limit]
    return _open(events, key_for)


def read_page(
    *, organisation, page: int | str | None = 1, per_page: int = PER_PAGE
) -> tuple[Page, list]:
    """One page of entries, newest first, opened (coordinators only, as above).

    An out-of-range or malformed page number gives the nearest valid page.
    """
    key_for = _key_chooser(organisation)
    paginator = Paginator(
        AuditEvent.objects.filter(organisation=organisation)
        .order_by("-seq")
        .only("seq", "at", "sealed_entry"),
        per_page,
    )
    found = paginator.get_page(page)
    return found, _open(found.object_list, key_for)


# --- what a coordinator may see of the entries ----------------------------------------------

# Detail keys that name a record, and the record's type. Any other value that
# looks like an id is withheld from the page.
DETAIL_IDS = {
    "member": "members.member",
    "cell": "cells.cell",
    "contact": "contacts.contact",
    "safe_house": "safehouses.safehouse",
    "case": "cases.case",
    "traveller": "cases.traveller",
    "journey": "journeys.journey",
    "leg": "journeys.leg",
    "handoff": "journeys.handoff",
    "alert": "alerts.alert",
    "deadline": "checkins.deadline",
    "token": "api.celltoken",
    "traveller_link": "travellers.travellerlink",
    "compartment": "vault.compartment",
}


def _is_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _compartment_lookup(model) -> str | None:
    """The ORM lookup from ``model`` to the compartment its sealed values are in."""
    from safepassage.vault.fields import SealedField
    from safepassage.vault.models import Compartment

    if model is Compartment:
        return "pk"
    for field in model._meta.concrete_fields:
        if isinstance(field, SealedField):
            return field.compartment_lookup()
    return None


def visible_records(pairs: Iterable[tuple[str, str]], keyring) -> set[tuple[str, str]]:
    """The (type, id) pairs whose record ``keyring`` may open.

    A record with sealed values is visible when its compartment opens; a row
    without any (a deadline, a token) when every sealed record it belongs to
    is visible. A record that no longer exists (purged) or of an unknown type
    is not visible. One query per type.
    """
    from django.apps import apps
    from django.core.exceptions import ValidationError

    by_label: dict[str, set[str]] = {}
    for label, pk in pairs:
        by_label.setdefault(label, set()).add(pk)
    needs: dict[tuple[str, str], set[uuid.UUID]] = {}
    for label, pks in by_label.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue
        valid = []
        for pk in pks:
            try:
                valid.append(model._meta.pk.to_python(pk))
            except ValidationError:
                continue
        own = _compartment_lookup(model)
        if own is not None:
            lookups = [own]
        else:
            lookups = []
            for field in model._meta.concrete_fields:
                if not (field.many_to_one or field.one_to_one):
                    continue
                parent = _compartment_lookup(field.related_model)
                if parent is not None:
                    lookups.append(f"{field.name}__{parent}")
        if not lookups or not valid:
            continue
        rows = model._base_manager.filter(pk__in=valid).values_list("pk", *lookups)
        for pk, *compartments in rows:
            needs[(label, str(pk))] = {c for c in compartments if c is not None}
    keyring.load({c for cids in needs.values() for c in cids})
    return {key for key, cids in needs.items() if cids and all(keyring.can_open(c) for c in cids)}


def _withhold(entries: list[dict[str, Any]], keyring) -> list[dict[str, Any]]:
    """Replace the ids of records the reader may not open with None (the detail
    keys so emptied are listed in ``withheld``).

    The log is sealed to every coordinator, but a coordinator who does not
    coordinate a case must not learn its records' ids from it (nor its
    travellers', legs'...). They still see who acted, when, the verb, the
    type of record and how many: enough to notice a colleague reading too
    much, for a coordinator of the case to look into.
    """
    wanted: set[tuple[str, str]] = set()
    for entry in entries:
        if entry.get("target_type") and entry.get("target_id"):
            wanted.add((entry["target_type"], entry["target_id"]))
        detail = entry.get("detail") or {}
        records = detail.get("records")
        if isinstance(records, list):
            wanted |= {(label, pk) for label, pk in records}
        for key, value in detail.items():
            if key in DETAIL_IDS and _is_id(value):
                wanted.add((DETAIL_IDS[key], value))
    visible = visible_records(wanted, keyring)
    shown = []
    for entry in entries:
        entry = dict(entry)
        if entry.get("target_id") and (entry["target_type"], entry["target_id"]) not in visible:
            entry["target_id"] = None
        detail = dict(entry.get("detail") or {})
        entry["withheld"] = []
        for key, value in detail.items():
            if key == "records" and isinstance(value, list):
                detail[key] = [
                    [label, pk if (label, pk) in visible else None] for label, pk in value
                ]
            elif _is_id(value) and (
                key not in DETAIL_IDS or (DETAIL_IDS[key], value) not in visible
            ):
                detail[key] = None
                entry["withheld"].append(key)
        entry["detail"] = detail
        shown.append(entry)
    return shown


def log_page_for(
    member, *, page: int | str | None = 1, per_page: int = PER_PAGE
) -> tuple[Page, list]:
    """One page of the member's organisation's log, as that coordinator may see
    it (``_withhold``), with the member's keyring in force. Anyone who is not a
    coordinator gets the common 404."""
    from django.http import Http404

    from safepassage import roles
    from safepassage.vault.keyring import require

    if not roles.is_coordinator(member):
        raise Http404
    found, entries = read_page(organisation=member.organisation, page=page, per_page=per_page)
    return found, _withhold(entries, require())
