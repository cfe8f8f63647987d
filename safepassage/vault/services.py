"""Writes to the need-to-know graph.

These are building blocks for the domain services (``cases.services``,
``journeys.services``...), which own the transaction and the audit event.
Each function here must be called inside that transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import transaction
from django.db.models import Count

from . import crypto, opened
from .fields import SealedField, SealedModel
from .keyring import Keyring, Locked, current, grant_aad, unlocked
from .models import Compartment, CompartmentGrant, CompartmentKind, HolderKind, PendingGrant

log = logging.getLogger("safepassage.vault")

if TYPE_CHECKING:
    from safepassage.members.models import Member
    from safepassage.organisations.models import Organisation

# Compartments that carry a recovery grant. Legs and handoffs hang under a
# case, so recovering the case recovers them.
RECOVERABLE = {CompartmentKind.COORDINATORS, CompartmentKind.CASE}


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("vault writes must run inside the calling service's transaction")


def current_keys(
    keyring: Keyring, compartment_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, bytes]]:
    """{compartment: (version, key)} at the versions the database holds now.

    A keyring keeps what it resolved. If another request rotated one of these
    compartments since, its cached key is stale: wrapping it to a member would
    hand out a key that opens nothing written from now on, and re-wrapping it
    under a rotated parent would break the child for everyone who reaches it
    through that parent. Stale keys are resolved again; the rows stay locked
    (PostgreSQL) until the caller's transaction ends, so no rotation slips in
    between. Raises Locked when the keyring cannot reach a current key.
    """
    ids = sorted(set(compartment_ids), key=str)
    current = dict(
        Compartment.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "current_version")
    )
    found = {}
    for compartment_id in ids:
        if compartment_id not in current:
            raise Locked(f"compartment {compartment_id} does not exist")
        version, key = keyring.key_for_sealing(compartment_id)
        if version != current[compartment_id]:
            keyring.forget(compartment_id)
            version, key = keyring.key_for_sealing(compartment_id)
            if version != current[compartment_id]:
                raise Locked(f"no current key for compartment {compartment_id}")
        found[compartment_id] = (version, key)
    return found


def create_compartment(
    *,
    organisation: Organisation,
    kind: str,
    keyring: Keyring,
    recovery_public_key: bytes | None = None,
) -> Compartment:
    """A new compartment with a fresh key, remembered in ``keyring``.

    The key is wrapped to the organisation's recovery key when the kind is
    recoverable; other grants are the caller's to add.
    """
    _in_transaction()
    compartment = Compartment.objects.create(organisation=organisation, kind=kind)
    key = crypto.new_data_key()
    keyring.remember(compartment.id, compartment.current_version, key)
    public = recovery_public_key or organisation.recovery_public_key
    if kind in RECOVERABLE and public:
        CompartmentGrant.objects.create(
            compartment=compartment,
            version=compartment.current_version,
            holder_kind=HolderKind.RECOVERY,
            wrapped_key=crypto.wrap_key_for_holder(bytes(public), key),
        )
    return compartment


def grant_to_member(*, compartment: Compartment, member: Member, keyring: Keyring) -> None:
    """Wrap the compartment's current key to ``member`` (idempotent)."""
    _in_transaction()
    version, key = current_keys(keyring, [compartment.id])[compartment.id]
    CompartmentGrant.objects.update_or_create(
        compartment=compartment,
        member=member,
        holder_kind=HolderKind.MEMBER,
        defaults={
            "version": version,
            "wrapped_key": crypto.wrap_key_for_holder(bytes(member.public_key), key),
        },
    )
    PendingGrant.objects.filter(compartment=compartment, member=member).delete()


def grant_or_defer(*, compartment: Compartment, member: Member, keyring: Keyring) -> bool:
    """Grant now if ``keyring`` opens the compartment, else queue a PendingGrant.

    Returns True when granted now.
    """
    if keyring.can_open(compartment.id):
        grant_to_member(compartment=compartment, member=member, keyring=keyring)
        return True
    PendingGrant.objects.get_or_create(compartment=compartment, member=member)
    return False


def grant_to_parent(*, compartment: Compartment, parent: Compartment, keyring: Keyring) -> None:
    """Wrap the compartment's key under ``parent``'s key: parent holders open it."""
    _in_transaction()
    keys = current_keys(keyring, [compartment.id, parent.id])
    version, key = keys[compartment.id]
    parent_version, parent_key = keys[parent.id]
    CompartmentGrant.objects.update_or_create(
        compartment=compartment,
        parent=parent,
        holder_kind=HolderKind.PARENT,
        defaults={
            "version": version,
            "parent_version": parent_version,
            "wrapped_key": crypto.wrap_key_under_parent(
                parent_key, key, grant_aad(compartment.id, version, parent.id, parent_version)
            ),
        },
    )


def revoke_member(*, compartment: Compartment, member: Member) -> bool:
    """Remove ``member``'s copy of the key and mark the compartment for rotation.

    Returns True when the member held a copy. The caller should then call
    ``rotate`` if it can open the compartment (the member may have kept the key).
    """
    _in_transaction()
    deleted, _ = CompartmentGrant.objects.filter(
        compartment=compartment, holder_kind=HolderKind.MEMBER, member=member
    ).delete()
    PendingGrant.objects.filter(compartment=compartment, member=member).delete()
    if deleted:
        Compartment.objects.filter(pk=compartment.pk).update(rotation_due=True)
    return bool(deleted)


def sealed_models() -> list[type[SealedModel]]:
    return [
        m
        for m in apps.get_models()
        if issubclass(m, SealedModel) and any(isinstance(f, SealedField) for f in m._meta.fields)
    ]


def records_in(compartment_ids: Iterable[uuid.UUID]) -> dict[type[SealedModel], dict[str, list]]:
    """Every record with a field sealed in the given compartments.

    Returns {model: {compartment lookup: [records]}}.
    """
    ids = list(compartment_ids)
    found: dict[type[SealedModel], dict[str, list]] = {}
    for model in sealed_models():
        lookups = {f.compartment_lookup() for f in model._meta.fields if isinstance(f, SealedField)}
        for lookup in lookups:
            records = list(model._base_manager.filter(**{f"{lookup}__in": ids}))
            if records:
                found.setdefault(model, {})[lookup] = records
    return found


def rotate(*, compartment: Compartment, keyring: Keyring) -> int:
    """Give the compartment a new key, re-seal everything in it, re-wrap every grant.

    Old-version grants are destroyed, so a copy of the old key opens nothing
    written from now on. Returns the number of records re-sealed. Raises
    Locked if ``keyring`` cannot open the compartment or its parents.

    ``keyring`` is put in force for the re-sealing, whatever the caller has
    in force (a login rotates before any request keyring exists).

    Writes a ``compartment.rotate`` audit entry; rotating the coordinators'
    compartment also draws a new audit key pair (``audit.services.rotate_audit_key``).
    """
    from safepassage.audit import services as audit  # the audit log sits above the vault

    _in_transaction()
    # Re-sealing opens every record in the compartment without showing it to
    # anyone: the rotation is audited as such, not as records opened.
    with unlocked(keyring), opened.paused():
        resealed = _rotate(compartment=compartment, keyring=keyring)
        audit.record_rotation(compartment=compartment, keyring=keyring, resealed=resealed)
    return resealed


def _rotate(*, compartment: Compartment, keyring: Keyring) -> int:
    compartment = Compartment.objects.select_for_update().get(pk=compartment.pk)
    old_version, _old_key = current_keys(keyring, [compartment.id])[compartment.id]

    # 1. Read every value sealed in the compartment while the old key works.
    plain: list[tuple[SealedModel, dict[str, object]]] = []
    for model, by_lookup in records_in([compartment.id]).items():
        for lookup, records in by_lookup.items():
            fields = [
                f
                for f in model._meta.fields
                if isinstance(f, SealedField) and f.compartment_lookup() == lookup
            ]
            for record in records:
                plain.append((record, {f.attname: getattr(record, f.attname) for f in fields}))

    # 2. Child compartments wrapped under this one, and this one's own parents.
    grants = list(CompartmentGrant.objects.filter(compartment=compartment))
    child_grants = list(
        CompartmentGrant.objects.filter(parent=compartment, holder_kind=HolderKind.PARENT)
    )
    related = current_keys(
        keyring,
        [g.compartment_id for g in child_grants]
        + [g.parent_id for g in grants if g.holder_kind == HolderKind.PARENT and g.parent_id],
    )
    children = {g.compartment_id: related[g.compartment_id] for g in child_grants}
    parents = {
        g.parent_id: related[g.parent_id]
        for g in grants
        if g.holder_kind == HolderKind.PARENT and g.parent_id is not None
    }

    # 3. The new key. Should anything below fail, the transaction rolls back
    # and the keyring must not keep a key for a version that never was.
    new_version = old_version + 1
    new_key = crypto.new_data_key()
    compartment.current_version = new_version
    compartment.rotation_due = False
    compartment.save(update_fields=["current_version", "rotation_due"])
    keyring.remember(compartment.id, new_version, new_key)
    try:
        # 4. Re-seal under the new key.
        for record, values in plain:
            for attname, value in values.items():
                setattr(record, attname, value)
            record.save(update_fields=list(values))

        # 5. Re-wrap this compartment's grants.
        from safepassage.members.models import Member

        member_keys = dict(
            Member.objects.filter(
                pk__in=[g.member_id for g in grants if g.holder_kind == HolderKind.MEMBER]
            ).values_list("pk", "public_key")
        )
        org_recovery = compartment.organisation.recovery_public_key
        for grant in grants:
            if grant.holder_kind == HolderKind.MEMBER:
                assert grant.member_id is not None  # noqa: S101 - enforced by a check constraint
                grant.wrapped_key = crypto.wrap_key_for_holder(
                    bytes(member_keys[grant.member_id]), new_key
                )
            elif grant.holder_kind == HolderKind.RECOVERY:
                if not org_recovery:
                    grant.delete()
                    continue
                grant.wrapped_key = crypto.wrap_key_for_holder(bytes(org_recovery), new_key)
            else:
                assert grant.parent_id is not None  # noqa: S101 - enforced by a check constraint
                parent_version, parent_key = parents[grant.parent_id]
                grant.parent_version = parent_version
                grant.wrapped_key = crypto.wrap_key_under_parent(
                    parent_key,
                    new_key,
                    grant_aad(compartment.id, new_version, grant.parent_id, parent_version),
                )
            grant.version = new_version
            grant.save(update_fields=["version", "parent_version", "wrapped_key"])

        # 6. Re-wrap the children under the new key.
        for grant in child_grants:
            child_version, child_key = children[grant.compartment_id]
            grant.version = child_version
            grant.parent_version = new_version
            grant.wrapped_key = crypto.wrap_key_under_parent(
                new_key,
                child_key,
                grant_aad(grant.compartment_id, child_version, compartment.id, new_version),
            )
            grant.save(update_fields=["version", "parent_version", "wrapped_key"])
    except BaseException:
        keyring.forget(compartment.id)
        raise
    return len(plain)


def rotate_after_deletion(*, compartment_id: uuid.UUID, keyring: Keyring) -> int:
    """Rotate a live compartment once an item has been deleted from it.

    What this shreds (docs/SECURITY.md): the live database keeps neither the
    item nor any copy of the key it was sealed under, and every record left
    in the compartment is re-sealed under a new key, so an old key (from a
    backup, a former holder, a server memory image) matches nothing live.
    A backup taken before the deletion still holds the item and a wrapped
    copy of the old key until that backup expires. Runs in the caller's
    transaction; raises Locked if ``keyring`` cannot open the compartment.
    """
    return rotate(compartment=Compartment.objects.get(pk=compartment_id), keyring=keyring)


def fulfil_pending_grants(*, keyring: Keyring, organisation_id: uuid.UUID) -> int:
    """Wrap keys for members waiting on compartments that ``keyring`` opens."""
    pending = list(
        PendingGrant.objects.filter(compartment__organisation_id=organisation_id).select_related(
            "compartment", "member"
        )
    )
    if not pending:
        return 0
    keyring.load(p.compartment_id for p in pending)
    done = 0
    with transaction.atomic():
        for p in pending:
            if keyring.can_open(p.compartment_id):
                grant_to_member(compartment=p.compartment, member=p.member, keyring=keyring)
                done += 1
    return done


def rotate_due(*, keyring: Keyring, organisation_id: uuid.UUID) -> int:
    """Rotate every compartment marked ``rotation_due`` that ``keyring`` opens."""
    due = list(Compartment.objects.filter(organisation_id=organisation_id, rotation_due=True))
    keyring.load(c.id for c in due)
    done = 0
    for compartment in due:
        if keyring.can_open(compartment.id):
            try:
                with transaction.atomic():
                    rotate(compartment=compartment, keyring=keyring)
                done += 1
            except Locked:
                continue
            except crypto.SealBroken:
                # A value in it failed its integrity check, so it cannot be
                # re-sealed; the rotation stays due and the caller carries on
                # (a login must not fail because of one tampered record).
                log.error(
                    "rotation of compartment %s stopped: a sealed value is broken", compartment.pk
                )
                continue
    return done


def holders_by_compartment(compartment_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set]:
    """{compartment: {("member", id) | ("parent", id) | ("recovery", None)}}: the graph's edges."""
    edges: dict[uuid.UUID, set] = defaultdict(set)
    for cid, kind, member_id, parent_id in CompartmentGrant.objects.filter(
        compartment_id__in=list(compartment_ids)
    ).values_list("compartment_id", "holder_kind", "member_id", "parent_id"):
        edges[cid].add((kind, member_id or parent_id))
    return edges


# --- crypto-shredding (retention) ----------------------------------------------------------


@dataclass(frozen=True)
class Shredded:
    """What ``shred_compartments`` destroyed: counts and ids, never key material."""

    compartment_ids: frozenset[uuid.UUID]
    member_grants: int
    parent_grants: int
    recovery_grants: int
    pending_grants: int

    @property
    def grants(self) -> int:
        return self.member_grants + self.parent_grants + self.recovery_grants


def compartments_below(compartment_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The given compartments and every descendant whose only parents are among them.

    A child is wrapped under its parent's key; once the parents' keys are
    gone, the child's key survives only through its other holders. A child
    that is also wrapped under a compartment outside the set (none is today)
    belongs to that other compartment too and is left alone.
    """
    doomed = set(compartment_ids)
    while True:
        children = set(
            CompartmentGrant.objects.filter(
                holder_kind=HolderKind.PARENT, parent_id__in=list(doomed)
            )
            .exclude(compartment_id__in=list(doomed))
            .values_list("compartment_id", flat=True)
        )
        parents: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for child, parent in CompartmentGrant.objects.filter(
            holder_kind=HolderKind.PARENT, compartment_id__in=list(children)
        ).values_list("compartment_id", "parent_id"):
            parents[child].add(parent)
        found = {child for child in children if parents[child] <= doomed}
        if not found:
            return doomed
        doomed |= found


def shred_plan(*, compartment_ids: Iterable[uuid.UUID]) -> Shredded:
    """What ``shred_compartments`` would destroy now (reads only)."""
    doomed = compartments_below(compartment_ids)
    ids = list(doomed)
    counts = {kind: 0 for kind in HolderKind.values}
    for row in (
        CompartmentGrant.objects.filter(compartment_id__in=ids)
        .values("holder_kind")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[row["holder_kind"]] = row["n"]
    # Other compartments' keys wrapped under a doomed one go too: they would
    # open nothing once the doomed key is gone.
    counts[HolderKind.PARENT] += (
        CompartmentGrant.objects.filter(parent_id__in=ids).exclude(compartment_id__in=ids).count()
    )
    return Shredded(
        compartment_ids=frozenset(doomed),
        member_grants=counts[HolderKind.MEMBER],
        parent_grants=counts[HolderKind.PARENT],
        recovery_grants=counts[HolderKind.RECOVERY],
        pending_grants=PendingGrant.objects.filter(compartment_id__in=ids).count(),
    )


def shred_compartments(*, compartment_ids: Iterable[uuid.UUID]) -> Shredded:
    """Destroy every wrapped copy of the keys of these compartments and of the
    children reachable only through them (``compartments_below``).

    Deletes their member, parent and recovery grants, the grants that wrap
    another compartment's key under one of them, and their pending grants.
    The keys existed nowhere else (DESIGN.md: unwrapped keys never touch the
    database), so from the commit on nothing sealed in these compartments
    opens with any key the database holds. The compartment rows stay until
    the caller has deleted the records that refer to them
    (``drop_compartments``). Must run inside the caller's transaction.
    """
    _in_transaction()
    roots = sorted(set(compartment_ids), key=str)
    # Lock first: a grant or rotation racing the purge waits for it, then
    # finds no compartment (PostgreSQL; SQLite's IMMEDIATE transactions
    # serialise writers already).
    list(Compartment.objects.select_for_update().filter(pk__in=roots).order_by("pk"))
    plan = shred_plan(compartment_ids=roots)
    ids = sorted(plan.compartment_ids, key=str)
    list(Compartment.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    CompartmentGrant.objects.filter(compartment_id__in=ids).delete()
    CompartmentGrant.objects.filter(parent_id__in=ids).delete()
    PendingGrant.objects.filter(compartment_id__in=ids).delete()
    keyring = current()
    if keyring is not None:
        for compartment_id in ids:
            keyring.forget(compartment_id)
    return plan


def drop_compartments(*, compartment_ids: Iterable[uuid.UUID]) -> int:
    """Delete shredded compartments once no record refers to them. Returns the count.

    Refuses (RuntimeError) a compartment that still has a grant: dropping the
    row of a live compartment would be a purge without the shredding.
    """
    _in_transaction()
    ids = list(set(compartment_ids))
    if CompartmentGrant.objects.filter(compartment_id__in=ids).exists():
        raise RuntimeError("shred a compartment's keys before dropping it")
    return Compartment.objects.filter(pk__in=ids).delete()[1].get(Compartment._meta.label, 0)
