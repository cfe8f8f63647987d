"""The keys one person holds during one request.

A ``Keyring`` starts from private keys (a member's, or the organisation's
recovery key after k-of-n recovery) and resolves compartment keys lazily by
walking the grant graph upwards. Resolved keys live only in this object,
which lives only for one request or one command: they never touch the
database, the cache or a log.

The keyring in force is held in a context variable so that sealed fields can
open and seal values without any caller touching cryptography.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import crypto

MAX_DEPTH = 6


class Locked(crypto.VaultError):
    """The keys in force do not open this compartment (or none are in force)."""


def grant_aad(
    compartment_id: uuid.UUID, version: int, parent_id: uuid.UUID, parent_version: int
) -> bytes:
    return f"grant|{compartment_id}|{version}|{parent_id}|{parent_version}".encode()


@dataclass
class Keyring:
    """Compartment keys reachable from the given private keys.

    ``member_id`` and ``member_private_key`` open member grants;
    ``recovery`` maps organisation ids to recovery private keys and opens
    recovery grants.
    """

    member_id: uuid.UUID | None = None
    member_private_key: bytes | None = None
    recovery: dict[uuid.UUID, bytes] = field(default_factory=dict)
    _keys: dict[uuid.UUID, tuple[int, bytes]] = field(default_factory=dict, repr=False)
    _missing: set[uuid.UUID] = field(default_factory=set, repr=False)

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(member_id={self.member_id}, known={len(self._keys)})"

    # -- lookups used by sealed fields and services ---------------------------

    def key_for_sealing(self, compartment_id: uuid.UUID) -> tuple[int, bytes]:
        """(version, key) of the compartment's current key, or Locked."""
        self.load([compartment_id])
        try:
            return self._keys[compartment_id]
        except KeyError:
            raise Locked(f"no key for compartment {compartment_id}") from None

    def key_for_opening(self, compartment_id: uuid.UUID, version: int) -> bytes:
        """The key a value sealed at ``version`` needs, or Locked / SealBroken.

        A newer version than the one held means the compartment was rotated
        since these keys were resolved: resolve it again (a removed holder then
        gets Locked). An older one can only be a value the rotation did not
        re-seal, restored or altered: no key opens it any more, and the reader
        who holds the compartment is told it failed its integrity check
        rather than that it does not exist.
        """
        held_version, key = self.key_for_sealing(compartment_id)
        if version > held_version:
            self.forget(compartment_id)
            held_version, key = self.key_for_sealing(compartment_id)
        if held_version != version:
            raise crypto.SealBroken(
                f"compartment {compartment_id} holds no key version {version} "
                f"(current is {held_version})"
            )
        return key

    def can_open(self, compartment_id: uuid.UUID) -> bool:
        self.load([compartment_id])
        return compartment_id in self._keys

    def opened(self) -> set[uuid.UUID]:
        """The compartments resolved so far (after ``load_everything`` : all of them)."""
        return set(self._keys)

    def remember(self, compartment_id: uuid.UUID, version: int, key: bytes) -> None:
        """Record a key this request created or rotated."""
        self._keys[compartment_id] = (version, key)
        self._missing.discard(compartment_id)

    def forget(self, compartment_id: uuid.UUID) -> None:
        self._keys.pop(compartment_id, None)
        self._missing.discard(compartment_id)

    def refresh_versions(self, compartment_ids: Iterable[uuid.UUID]) -> None:
        """Forget any held key that is no longer its compartment's current
        version (another request rotated it since it was resolved), so the
        next seal resolves the current one, or Locked for a removed holder.

        One query, and only for compartments already held. Inside a
        transaction the rows are locked (FOR NO KEY UPDATE on PostgreSQL) so
        a rotation cannot commit between this check and the caller's write:
        it waits, then re-seals what the caller wrote.
        """
        from django.db import connection

        from .models import Compartment

        held = [c for c in compartment_ids if c in self._keys]
        if not held:
            return
        rows = Compartment.objects.filter(pk__in=held)
        if connection.in_atomic_block:
            rows = rows.select_for_update(no_key=True)
        for compartment_id, version in rows.values_list("pk", "current_version"):
            if self._keys[compartment_id][0] != version:
                self.forget(compartment_id)

    # -- resolution -----------------------------------------------------------

    def load(self, compartment_ids: Iterable[uuid.UUID]) -> None:
        """Resolve many compartments with a few queries (one per graph level)."""
        wanted = {c for c in compartment_ids if c not in self._keys and c not in self._missing}
        if wanted:
            self._resolve(wanted, depth=0)

    def load_everything(self) -> set[uuid.UUID]:
        """Resolve every compartment reachable from the private keys held.

        Walks the graph downwards from direct grants. Used by the need-to-know
        checks and exposure analysis, not by pages.
        """
        from .models import CompartmentGrant, HolderKind

        direct = CompartmentGrant.objects.none()
        if self.member_id is not None:
            direct = CompartmentGrant.objects.filter(
                holder_kind=HolderKind.MEMBER, member_id=self.member_id
            )
        frontier = set(direct.values_list("compartment_id", flat=True))
        if self.recovery:
            frontier |= set(
                CompartmentGrant.objects.filter(
                    holder_kind=HolderKind.RECOVERY,
                    compartment__organisation_id__in=list(self.recovery),
                ).values_list("compartment_id", flat=True)
            )
        self.load(frontier)
        seen: set[uuid.UUID] = set()
        frontier = {c for c in frontier if c in self._keys}
        while frontier:
            seen |= frontier
            children = set(
                CompartmentGrant.objects.filter(
                    holder_kind=HolderKind.PARENT, parent_id__in=list(frontier)
                ).values_list("compartment_id", flat=True)
            )
            self.load(children)
            frontier = {c for c in children if c in self._keys} - seen
        return set(self._keys)

    def _resolve(self, wanted: set[uuid.UUID], depth: int) -> None:
        from .models import CompartmentGrant, HolderKind

        rows = list(
            CompartmentGrant.objects.filter(compartment_id__in=list(wanted)).values_list(
                "compartment_id",
                "version",
                "holder_kind",
                "member_id",
                "parent_id",
                "parent_version",
                "wrapped_key",
                "compartment__organisation_id",
            )
        )
        via_parent: list[tuple] = []
        for cid, version, kind, member_id, parent_id, parent_version, wrapped, org_id in rows:
            if cid in self._keys:
                continue
            wrapped = bytes(wrapped)
            if (
                kind == HolderKind.MEMBER
                and member_id == self.member_id
                and self.member_private_key
            ):
                self._keys[cid] = (
                    version,
                    crypto.unwrap_key_as_holder(self.member_private_key, wrapped),
                )
            elif kind == HolderKind.RECOVERY and org_id in self.recovery:
                self._keys[cid] = (
                    version,
                    crypto.unwrap_key_as_holder(self.recovery[org_id], wrapped),
                )
            elif kind == HolderKind.PARENT:
                via_parent.append((cid, version, parent_id, parent_version, wrapped))
        pending = [row for row in via_parent if row[0] not in self._keys]
        if pending and depth < MAX_DEPTH:
            self.load_parents({row[2] for row in pending}, depth + 1)
            for cid, version, parent_id, parent_version, wrapped in pending:
                if cid in self._keys or parent_id not in self._keys:
                    continue
                held_version, parent_key = self._keys[parent_id]
                if held_version != parent_version:
                    continue
                self._keys[cid] = (
                    version,
                    crypto.unwrap_key_with_parent(
                        parent_key, wrapped, grant_aad(cid, version, parent_id, parent_version)
                    ),
                )
        self._missing |= wanted - set(self._keys)

    def load_parents(self, parent_ids: set[uuid.UUID], depth: int) -> None:
        wanted = {c for c in parent_ids if c not in self._keys and c not in self._missing}
        if wanted:
            self._resolve(wanted, depth)


_current: contextvars.ContextVar[Keyring | None] = contextvars.ContextVar(
    "safepassage_keyring", default=None
)


def current() -> Keyring | None:
    """The keyring in force for this request or command, if any."""
    return _current.get()


def require() -> Keyring:
    keyring = _current.get()
    if keyring is None:
        raise Locked("no keys are in force: log in first")
    return keyring


@contextlib.contextmanager
def unlocked(keyring: Keyring | None) -> Iterator[Keyring | None]:
    """Put ``keyring`` in force for the duration of the block."""
    token = _current.set(keyring)
    try:
        yield keyring
    finally:
        _current.reset(token)
