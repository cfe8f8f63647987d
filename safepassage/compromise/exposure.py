"""Exposure: what a compromised member, cell, contact, safe house, vehicle,
place or handoff reveals, computed from the need-to-know graph.

The graph is explicit data (DESIGN.md, "Key hierarchy"): a compartment's key
is wrapped to members, under a parent compartment (a case's key opens its
legs and handoffs) or to the organisation's recovery key. A member's exposure
is therefore the set of compartments reachable from their own grants through
parent grants, read from grant rows alone: nothing is decrypted and no keys
are needed. Every other kind of subject is computed from plaintext relations
(a leg's cell, contact and safe house; a handoff's two legs), except vehicles
and places, whose text is sealed and can only be searched with the caller's
keys.

``exposure_of`` runs a handful of queries per call (ids only, through
``values_list``), never one per record.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from safepassage.cases.models import Case, Traveller
from safepassage.cells.models import Cell, CellMembership
from safepassage.contacts.models import Contact
from safepassage.journeys.models import (
    OPEN_LEG_STATUSES,
    Handoff,
    Journey,
    JourneyStatus,
    Leg,
)
from safepassage.members.models import Member
from safepassage.safehouses.models import SafeHouse
from safepassage.vault.keyring import Keyring, Locked, unlocked
from safepassage.vault.keyring import current as current_keyring
from safepassage.vault.models import CompartmentGrant, HolderKind

if TYPE_CHECKING:
    from safepassage.organisations.models import Organisation

# Journeys whose exposure still matters operationally (a response may stop them).
LIVE_JOURNEY_STATUSES = {JourneyStatus.PLANNING, JourneyStatus.ACTIVE}

# Ids per ``IN (...)`` list. SQLite accepts 32,766 parameters per statement;
# a coordinator of many cases can reach more compartments than that.
CHUNK = 5000

# A search text shorter than this must equal the whole field; a longer one
# may also stand as whole words inside it (a plate inside "grey Hyundai, 吉A 7Q219").
MIN_CONTAINED = 4


class SubjectKind(models.TextChoices):
    MEMBER = "member", _("Member")
    CELL = "cell", _("Cell")
    CONTACT = "contact", _("Contact")
    SAFE_HOUSE = "safe_house", _("Safe house")
    VEHICLE = "vehicle", _("Vehicle")
    PLACE = "place", _("Place")
    HANDOFF = "handoff", _("Handoff")


ID_KINDS = {
    SubjectKind.MEMBER,
    SubjectKind.CELL,
    SubjectKind.CONTACT,
    SubjectKind.SAFE_HOUSE,
    SubjectKind.HANDOFF,
}
TEXT_KINDS = {SubjectKind.VEHICLE, SubjectKind.PLACE}


@dataclass(frozen=True)
class Subject:
    """What is in the adversary's hands.

    ``id`` names a member, cell, contact, safe house or handoff; ``text`` is a
    vehicle or place as a coordinator typed it (plaintext: the caller must not
    store it unsealed).
    """

    kind: str
    id: uuid.UUID | None = None
    text: str = ""


class UnknownSubject(LookupError):
    """The subject does not exist in this organisation (or is malformed)."""


@dataclass
class ExposedIds:
    """The ids a subject's exposure reaches, and what could not be searched:
    what ``Exposure`` computes and a declaration's snapshot keeps
    (``selectors.Snapshot``). The sets are described on ``Exposure``."""

    compartment_ids: set[uuid.UUID] = field(default_factory=set)
    member_ids: set[uuid.UUID] = field(default_factory=set)
    cell_ids: set[uuid.UUID] = field(default_factory=set)
    leg_ids: set[uuid.UUID] = field(default_factory=set)
    handoff_ids: set[uuid.UUID] = field(default_factory=set)
    safe_house_ids: set[uuid.UUID] = field(default_factory=set)
    contact_ids: set[uuid.UUID] = field(default_factory=set)
    case_ids: set[uuid.UUID] = field(default_factory=set)
    described_case_ids: set[uuid.UUID] = field(default_factory=set)
    traveller_ids: set[uuid.UUID] = field(default_factory=set)
    adjacent_cell_ids: set[uuid.UUID] = field(default_factory=set)
    active_journey_ids: set[uuid.UUID] = field(default_factory=set)
    open_leg_ids: set[uuid.UUID] = field(default_factory=set)
    legs_needing_new_cell: set[uuid.UUID] = field(default_factory=set)
    legs_needing_new_safe_house: set[uuid.UUID] = field(default_factory=set)
    directory_exposed: bool = False
    not_searchable: int = 0

    @property
    def is_empty(self) -> bool:
        return not (
            self.compartment_ids
            or self.leg_ids
            or self.handoff_ids
            or self.traveller_ids
            or self.adjacent_cell_ids
        )


# The id sets among ExposedIds' fields.
ID_SETS = tuple(
    f.name for f in fields(ExposedIds) if f.name not in ("directory_exposed", "not_searchable")
)


@dataclass(kw_only=True)
class Exposure(ExposedIds):
    """What a subject reveals. Every set holds ids of the subject's organisation.

    - ``compartment_ids``: every compartment whose key the subject holds, or
      whose contents it knows (a contact was told about its legs; a raided
      safe house or a watched vehicle gives away the legs and handoffs it
      takes part in). Includes the coordinators' compartment when the
      subject holds it (then ``directory_exposed`` is true: the names and
      notes of every cell, contact, safe house and member are readable).
    - ``member_ids``: members whose keys are compromised (a member: itself;
      a cell: its members).
    - ``cell_ids``: the subject's own cells (a cell: itself; a member: the
      cells they belong to).
    - ``leg_ids`` / ``handoff_ids`` / ``case_ids``: legs, handoffs and cases
      whose compartment is in ``compartment_ids``. A case in ``case_ids`` has
      its travellers' identities exposed.
    - ``described_case_ids``: cases (not in ``case_ids``) whose travellers are
      described (a handoff's clothing and photo, a leg's passengers, people
      found in a safe house) but not named.
    - ``traveller_ids``: the travellers of both kinds of case.
    - ``safe_house_ids`` / ``contact_ids``: those used by the exposed legs,
      the subject itself, and all of them when the directory is exposed.
    - ``adjacent_cell_ids``: other cells that run an exposed leg, or meet at
      an exposed handoff (or, for a safe house, run legs next to its stays).
    - ``active_journey_ids``: planning or active journeys touched.
    - ``open_leg_ids``: the planned or started legs among those touched (the
      exposed legs and the legs at either side of an exposed handoff): what a
      response would freeze.
    - ``legs_needing_new_cell``: open legs run by the compromised cell, the
      member's cells or the contact.
    - ``legs_needing_new_safe_house``: open legs staying at the compromised
      safe house.
    - ``not_searchable``: for a vehicle or place, the legs and handoffs that
      hold such a value in a compartment the caller's keys do not open.
    """

    subject: Subject


# --- helpers ---------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Text as compared for vehicles and places: NFKC (full-width letters and
    digits become ASCII), case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_matches(wanted: str, value: str | None) -> bool:
    """``wanted`` (already normalised) names ``value``: equal after
    normalisation, or, when at least MIN_CONTAINED characters long, standing
    as whole words inside it."""
    if not wanted or not value:
        return False
    found = normalise(value)
    if found == wanted:
        return True
    if len(wanted) < MIN_CONTAINED:
        return False
    return re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", found) is not None


def chunked(ids: Iterable[Any]) -> Iterator[list[Any]]:
    """``ids`` in lists of at most CHUNK, for ``__in`` lookups."""
    batch = list(ids)
    for start in range(0, len(batch), CHUNK):
        yield batch[start : start + CHUNK]


def _rows(query: Callable[[list[Any]], Iterable[Any]], ids: Iterable[Any]) -> list[Any]:
    """``query(chunk)`` for each chunk of ``ids``, concatenated."""
    found: list[Any] = []
    for chunk in chunked(ids):
        found.extend(query(chunk))
    return found


def reachable_compartments(*, organisation: Organisation, member_ids: Iterable[uuid.UUID]) -> set:
    """Compartments the given members' keys open: their own grants, then
    every compartment wrapped under one of those, level by level (one query
    per level). Grant rows only: nothing is decrypted."""
    # A member belongs to one organisation, so their grants are its
    # compartments; ``organisation`` narrows the members, not the grants (a
    # join on the compartment's organisation makes SQLite walk every
    # compartment of the organisation).
    members = list(
        Member.objects.filter(pk__in=list(member_ids), organisation=organisation).values_list(
            "pk", flat=True
        )
    )
    if not members:
        return set()
    frontier = set(
        _rows(
            lambda chunk: (
                CompartmentGrant.objects.filter(holder_kind=HolderKind.MEMBER, member_id__in=chunk)
                .order_by()
                .values_list("compartment_id", flat=True)
            ),
            members,
        )
    )
    seen: set[uuid.UUID] = set()
    while frontier:
        seen |= frontier
        children = set(
            _rows(
                lambda chunk: (
                    CompartmentGrant.objects.filter(
                        holder_kind=HolderKind.PARENT, parent_id__in=chunk
                    )
                    .order_by()
                    .values_list("compartment_id", flat=True)
                ),
                frontier,
            )
        )
        frontier = children - seen
    return seen


# --- the exposure of each kind of subject ------------------------------------------------------


@dataclass
class _Seed:
    """What a subject gives away directly; ``_complete`` derives the rest."""

    compartment_ids: set[uuid.UUID] = field(default_factory=set)
    member_ids: set[uuid.UUID] = field(default_factory=set)
    cell_ids: set[uuid.UUID] = field(default_factory=set)
    contact_id: uuid.UUID | None = None
    safe_house_id: uuid.UUID | None = None
    extra_adjacent_cells: set[uuid.UUID] = field(default_factory=set)
    extra_described_cases: set[uuid.UUID] = field(default_factory=set)
    not_searchable: int = 0


def _structural(leg_rows: list[tuple[uuid.UUID, uuid.UUID]], organisation) -> _Seed:
    """Legs (id, compartment) and the handoffs at both of their ends."""
    seed = _Seed()
    leg_ids = [leg_id for leg_id, _c in leg_rows]
    seed.compartment_ids = {c for _l, c in leg_rows}
    if leg_ids:
        seed.compartment_ids |= set(
            _rows(
                lambda chunk: (
                    Handoff.objects.filter(Q(from_leg_id__in=chunk) | Q(to_leg_id__in=chunk))
                    .order_by()
                    .values_list("compartment_id", flat=True)
                ),
                leg_ids,
            )
        )
    return seed


def _member_seed(organisation, member_id: uuid.UUID) -> _Seed:
    if not Member.objects.filter(pk=member_id, organisation=organisation).exists():
        raise UnknownSubject(member_id)
    seed = _Seed(member_ids={member_id})
    seed.compartment_ids = reachable_compartments(organisation=organisation, member_ids=[member_id])
    seed.cell_ids = set(
        CellMembership.objects.filter(
            member_id=member_id, cell__organisation=organisation
        ).values_list("cell_id", flat=True)
    )
    return seed


def _cell_seed(organisation, cell_id: uuid.UUID) -> _Seed:
    if not Cell.objects.filter(pk=cell_id, organisation=organisation).exists():
        raise UnknownSubject(cell_id)
    members = set(
        CellMembership.objects.filter(cell_id=cell_id).values_list("member_id", flat=True)
    )
    # Every leg released to it and the handoffs at their ends, whether or not
    # each member holds the key yet (a pending grant is a key on its way). A
    # leg not released yet was never shown to the cell (its re-staffing is
    # still in ``legs_needing_new_cell``).
    legs = list(
        Leg.objects.filter(cell_id=cell_id, released_at__isnull=False)
        .order_by()
        .values_list("pk", "compartment_id")
    )
    seed = _structural(legs, organisation)
    seed.compartment_ids |= reachable_compartments(organisation=organisation, member_ids=members)
    seed.member_ids = members
    seed.cell_ids = {cell_id}
    return seed


def _contact_seed(organisation, contact_id: uuid.UUID) -> _Seed:
    if not Contact.objects.filter(pk=contact_id, organisation=organisation).exists():
        raise UnknownSubject(contact_id)
    legs = list(
        Leg.objects.filter(contact_id=contact_id).order_by().values_list("pk", "compartment_id")
    )
    seed = _structural(legs, organisation)
    seed.contact_id = contact_id
    return seed


def _safe_house_seed(organisation, safe_house_id: uuid.UUID) -> _Seed:
    if not SafeHouse.objects.filter(pk=safe_house_id, organisation=organisation).exists():
        raise UnknownSubject(safe_house_id)
    stays = list(
        Leg.objects.filter(safe_house_id=safe_house_id)
        .order_by()
        .values_list("pk", "compartment_id", "journey__case_id")
    )
    seed = _structural([(leg_id, c) for leg_id, c, _case in stays], organisation)
    seed.safe_house_id = safe_house_id
    # The travellers staying there are found there: described, if not named.
    seed.extra_described_cases = {case_id for _l, _c, case_id in stays}
    return seed


def _handoff_seed(organisation, handoff_id: uuid.UUID) -> _Seed:
    row = (
        Handoff.objects.filter(pk=handoff_id, journey__case__organisation=organisation)
        .values_list("compartment_id", "journey__case_id")
        .first()
    )
    if row is None:
        raise UnknownSubject(handoff_id)
    compartment_id, case_id = row
    return _Seed(compartment_ids={compartment_id}, extra_described_cases={case_id})


def _text_seed(organisation, subject: Subject, keyring: Keyring | None) -> _Seed:
    """Legs and handoffs whose sealed vehicle or place names ``subject.text``.

    Only compartments the keyring opens are searched; records it cannot open
    that hold such a value are counted in ``not_searchable``.
    """
    wanted = normalise(subject.text)
    if not wanted:
        raise UnknownSubject(subject.kind)
    if subject.kind == SubjectKind.VEHICLE:
        sources: list[tuple[type[models.Model], tuple[str, ...]]] = [
            (Leg, ("vehicle",)),
            (Handoff, ("vehicle_plate", "vehicle_colour")),
        ]
    else:
        sources = [(Handoff, ("place",))]
    keyring = keyring if keyring is not None else current_keyring()
    seed = _Seed()
    for model, names in sources:
        records = list(
            model._base_manager.filter(journey__case__organisation=organisation)
            .order_by()
            .only("pk", "compartment", *names)
        )
        openable: set[uuid.UUID] = set()
        if keyring is not None:
            for chunk in chunked({r.compartment_id for r in records}):  # type: ignore[attr-defined]
                keyring.load(chunk)
            openable = {
                r.compartment_id  # type: ignore[attr-defined]
                for r in records
                if keyring.can_open(r.compartment_id)  # type: ignore[attr-defined]
            }
        with unlocked(keyring):
            for record in records:
                held = [n for n in names if record.__dict__[n].raw is not None]
                if not held:
                    continue
                if record.compartment_id not in openable:  # type: ignore[attr-defined]
                    seed.not_searchable += 1
                    continue
                try:
                    if any(text_matches(wanted, getattr(record, n)) for n in held):
                        seed.compartment_ids.add(record.compartment_id)  # type: ignore[attr-defined]
                except Locked:
                    seed.not_searchable += 1
    return seed


# --- completing an exposure --------------------------------------------------------------------


def _complete(organisation, subject: Subject, seed: _Seed) -> Exposure:
    """Derive legs, handoffs, cases, travellers, cells and journeys from the
    compartments a subject gives away (a few queries, whatever its size).

    Every id in ``seed`` already belongs to ``organisation`` (each seed
    starts from a subject checked to be in it), so the queries here look
    records up by those ids alone: joining the organisation as well would
    make SQLite's planner walk every record of the organisation instead.
    No query sorts (``order_by()``): only sets are built."""
    exposure = Exposure(
        subject=subject,
        compartment_ids=set(seed.compartment_ids),
        member_ids=set(seed.member_ids),
        cell_ids=set(seed.cell_ids),
        not_searchable=seed.not_searchable,
    )
    comps = exposure.compartment_ids
    exposure.directory_exposed = organisation.coordinators_compartment_id in comps

    # (id, journey, case, journey status, cell, contact, safe house, status)
    leg_fields = (
        "pk",
        "journey_id",
        "journey__case_id",
        "journey__status",
        "cell_id",
        "contact_id",
        "safe_house_id",
        "status",
    )
    legs = _rows(
        lambda chunk: (
            Leg.objects.filter(compartment_id__in=chunk).order_by().values_list(*leg_fields)
        ),
        comps,
    )
    handoffs = _rows(
        lambda chunk: (
            Handoff.objects.filter(compartment_id__in=chunk)
            .order_by()
            .values_list(
                "pk",
                "journey_id",
                "journey__case_id",
                "journey__status",
                "from_leg_id",
                "to_leg_id",
            )
        ),
        comps,
    )
    exposure.case_ids = set(
        _rows(
            lambda chunk: (
                Case.objects.filter(compartment_id__in=chunk)
                .order_by()
                .values_list("pk", flat=True)
            ),
            comps,
        )
    )
    exposure.leg_ids = {row[0] for row in legs}
    exposure.handoff_ids = {row[0] for row in handoffs}

    # The legs on either side of an exposed handoff are touched too: the
    # adversary knows where, when and how they meet.
    beside = {leg for h in handoffs for leg in (h[4], h[5]) if leg} - exposure.leg_ids
    touched = list(legs)
    if beside:
        touched += _rows(
            lambda chunk: Leg.objects.filter(pk__in=chunk).order_by().values_list(*leg_fields),
            beside,
        )
    # The legs a response must re-staff: open legs of the compromised cells or contact.
    runners = Q(cell_id__in=list(seed.cell_ids)) if seed.cell_ids else Q(pk__in=[])
    if seed.contact_id is not None:
        runners |= Q(contact_id=seed.contact_id)
    if seed.cell_ids or seed.contact_id is not None:
        exposure.legs_needing_new_cell = set(
            Leg.objects.filter(runners, status__in=list(OPEN_LEG_STATUSES))
            .order_by()
            .values_list("pk", flat=True)
        )
    if seed.safe_house_id is not None:
        exposure.legs_needing_new_safe_house = {
            row[0] for row in legs if row[6] == seed.safe_house_id and row[7] in OPEN_LEG_STATUSES
        }

    exposure.open_leg_ids = {row[0] for row in touched if row[7] in OPEN_LEG_STATUSES}
    exposure.adjacent_cell_ids = (
        {row[4] for row in touched if row[4]} | seed.extra_adjacent_cells
    ) - exposure.cell_ids
    exposure.safe_house_ids = {row[6] for row in legs if row[6]}
    exposure.contact_ids = {row[5] for row in legs if row[5]}
    if seed.safe_house_id is not None:
        exposure.safe_house_ids.add(seed.safe_house_id)
    if seed.contact_id is not None:
        exposure.contact_ids.add(seed.contact_id)
    if exposure.directory_exposed:
        exposure.safe_house_ids |= set(
            SafeHouse.objects.filter(organisation=organisation)
            .order_by()
            .values_list("pk", flat=True)
        )
        exposure.contact_ids |= set(
            Contact.objects.filter(organisation=organisation)
            .order_by()
            .values_list("pk", flat=True)
        )

    live = {row[1] for row in touched if row[3] in LIVE_JOURNEY_STATUSES}
    live |= {row[1] for row in handoffs if row[3] in LIVE_JOURNEY_STATUSES}
    if exposure.case_ids:
        live |= set(
            _rows(
                lambda chunk: (
                    Journey.objects.filter(
                        case_id__in=chunk, status__in=list(LIVE_JOURNEY_STATUSES)
                    )
                    .order_by()
                    .values_list("pk", flat=True)
                ),
                exposure.case_ids,
            )
        )
    exposure.active_journey_ids = live

    described = {row[2] for row in legs} | {row[2] for row in handoffs}
    described |= seed.extra_described_cases
    exposure.described_case_ids = described - exposure.case_ids
    people = exposure.case_ids | exposure.described_case_ids
    if people:
        exposure.traveller_ids = set(
            _rows(
                lambda chunk: (
                    Traveller.objects.filter(case_id__in=chunk)
                    .order_by()
                    .values_list("pk", flat=True)
                ),
                people,
            )
        )
    return exposure


def exposure_of(*, organisation, subject: Subject, keyring: Keyring | None = None) -> Exposure:
    """What ``subject`` reveals in ``organisation`` (see ``Exposure`` for each set).

    - member: the compartments reachable from the member's own grants through
      parent grants (a coordinator's case key opens its legs and handoffs),
      read from grant rows: no decryption, no keyring needed;
    - cell: the union over its members, plus every leg released to it and
      the handoffs at both ends of those legs, even where a member's grant
      is still pending;
    - contact (outside the system, holds no key): what they were told: the
      legs they run and the handoffs at both ends;
    - safe house: the legs staying at it and the handoffs at their ends; the
      cells of those legs and of the legs beside them; the travellers of
      those cases (described);
    - vehicle / place: legs and handoffs whose sealed vehicle (``Leg.vehicle``,
      ``Handoff.vehicle_plate`` / ``vehicle_colour``) or place
      (``Handoff.place``) names ``subject.text`` (see ``text_matches``). This
      decrypts, so it needs ``keyring`` (or the keyring in force) and only
      searches the compartments it opens; records it cannot open are
      counted in ``Exposure.not_searchable``;
    - handoff: its compartment, its two legs' cells as adjacent cells, its
      case's travellers as described.

    Raises ``UnknownSubject`` when the subject is not in the organisation, or
    has no id (or no text) where its kind needs one.
    """
    kind = subject.kind
    if kind in ID_KINDS:
        if subject.id is None:
            raise UnknownSubject(kind)
        if kind == SubjectKind.MEMBER:
            seed = _member_seed(organisation, subject.id)
        elif kind == SubjectKind.CELL:
            seed = _cell_seed(organisation, subject.id)
        elif kind == SubjectKind.CONTACT:
            seed = _contact_seed(organisation, subject.id)
        elif kind == SubjectKind.SAFE_HOUSE:
            seed = _safe_house_seed(organisation, subject.id)
        else:
            seed = _handoff_seed(organisation, subject.id)
    elif kind in TEXT_KINDS:
        seed = _text_seed(organisation, subject, keyring)
    else:
        raise UnknownSubject(kind)
    return _complete(organisation, subject, seed)
