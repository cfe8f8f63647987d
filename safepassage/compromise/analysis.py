"""Organisation-wide exposure analysis: for every cell, what its compromise
would reveal, and the structural weaknesses worth fixing before anything
is compromised.

Computed in bulk: a few queries over the whole organisation (ids and
plaintext relations only), then Python sets. It never calls ``exposure_of``
per cell, but its per-cell figures are the sizes of the sets ``exposure_of``
returns for that cell (``tests/compromise/test_analysis.py`` checks it):

- ``live_journeys`` = ``len(active_journey_ids)``;
- ``travellers`` = ``len(traveller_ids)``;
- ``places`` = ``len(handoff_ids) + len(safe_house_ids)``;
- ``cells`` = ``len(adjacent_cell_ids)``.

A cell's members may belong to other cells too; a cell then exposes those
cells' legs as well (its members hold their keys). The analysis reads this
from memberships, ``exposure_of`` from grants: they agree whenever every
grant the rules call for exists.

Only the reuse warnings (the same place or vehicle on several legs) decrypt
anything, and only with the caller's keyring, within the compartments it
opens.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from safepassage.cases.models import Traveller
from safepassage.cells.models import Cell, CellMembership
from safepassage.journeys.models import Handoff, Journey, Leg
from safepassage.safehouses.models import SafeHouse, SafeHouseStatus
from safepassage.vault.keyring import Keyring, Locked, unlocked
from safepassage.vault.keyring import current as current_keyring

from .exposure import LIVE_JOURNEY_STATUSES, chunked, normalise

if TYPE_CHECKING:
    from safepassage.organisations.models import Organisation

# A cell on more live journeys than this learns too much of the network.
MAX_LIVE_JOURNEYS_PER_CELL = 3
# A safe house known to more cells than this has too many people who could give it away.
MAX_CELLS_KNOWING_SAFE_HOUSE = 4
# Exposure bands by reach (travellers + other cells a compromise would reveal):
# 0 nothing, 1 from 1, 2 from BAND_MEDIUM, 3 from BAND_HIGH (or a high-severity warning).
BAND_MEDIUM = 4
BAND_HIGH = 10


class WarningKind(models.TextChoices):
    BOTH_ENDS = "both_ends", _("A cell sees both ends of a journey")
    BUSY_CELL = "busy_cell", _("A cell is on too many live journeys")
    PLACE_REUSED = "place_reused", _("A handoff place is used more than once")
    VEHICLE_REUSED = "vehicle_reused", _("A vehicle is used on more than one leg")
    SAFE_HOUSE_WIDELY_KNOWN = "safe_house_widely_known", _("A safe house is known to many cells")


class Severity(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")


@dataclass(frozen=True)
class AnalysisWarning:
    """One weakness. ``count`` is the figure behind it (journeys, cells or
    uses); the id sets name what is involved."""

    kind: str
    severity: str
    count: int
    cell_ids: frozenset[uuid.UUID] = frozenset()
    journey_ids: frozenset[uuid.UUID] = frozenset()
    leg_ids: frozenset[uuid.UUID] = frozenset()
    handoff_ids: frozenset[uuid.UUID] = frozenset()
    safe_house_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def title(self) -> str:
        return str(WarningKind(self.kind).label)

    @property
    def message(self) -> str:
        """What to tell a coordinator, in the active language."""
        n = self.count
        if self.kind == WarningKind.BOTH_ENDS:
            text = ngettext(
                "This cell sees the pickup and the arrival of %(count)d live journey: "
                "it alone could lead from the traveller's start to their destination.",
                "This cell sees the pickup and the arrival of %(count)d live journeys: "
                "it alone could lead from the travellers' start to their destination.",
                n,
            )
        elif self.kind == WarningKind.BUSY_CELL:
            text = ngettext(
                "This cell is on %(count)d live journey; more than %(limit)d is too many.",
                "This cell is on %(count)d live journeys; more than %(limit)d is too many.",
                n,
            )
        elif self.kind == WarningKind.PLACE_REUSED:
            text = ngettext(
                "The same place is used at %(count)d handoff.",
                "The same place is used at %(count)d handoffs: one watched place leads "
                "to all of them.",
                n,
            )
        elif self.kind == WarningKind.VEHICLE_REUSED:
            text = ngettext(
                "The same vehicle is used on %(count)d leg.",
                "The same vehicle is used on %(count)d legs: one identified car leads "
                "to all of them.",
                n,
            )
        else:
            text = ngettext(
                "%(count)d cell knows this safe house; more than %(limit)d is too many.",
                "%(count)d cells know this safe house; more than %(limit)d is too many.",
                n,
            )
        limit = (
            MAX_LIVE_JOURNEYS_PER_CELL
            if self.kind == WarningKind.BUSY_CELL
            else MAX_CELLS_KNOWING_SAFE_HOUSE
        )
        return text % {"count": n, "limit": limit}


@dataclass
class CellExposure:
    """What compromising one cell would reveal (sizes of ``exposure_of`` sets)."""

    cell_id: uuid.UUID
    status: str
    legs: int = 0  # legs it runs itself
    journeys: int = 0  # every journey touched, finished ones included
    live_journeys: int = 0
    travellers: int = 0
    places: int = 0  # handoffs + safe houses
    cells: int = 0  # other cells
    band: int = 0  # 0 nothing .. 3 high
    # Mean position of its legs in their journeys, 0 (pickup) to 1 (arrival):
    # lets a drawing put early cells on the left. None for a cell with no legs.
    position: float | None = None

    @property
    def reach(self) -> int:
        return self.travellers + self.cells


@dataclass(frozen=True)
class CellLink:
    """Two cells that meet at ``handoffs`` handoffs (``a`` < ``b`` by id string)."""

    a: uuid.UUID
    b: uuid.UUID
    handoffs: int


@dataclass
class Analysis:
    organisation_id: uuid.UUID
    cells: dict[uuid.UUID, CellExposure] = field(default_factory=dict)
    links: list[CellLink] = field(default_factory=list)
    warnings: list[AnalysisWarning] = field(default_factory=list)
    # Whether place and vehicle reuse could be checked (a keyring was given),
    # and how many records holding a place or vehicle it could not open.
    reuse_checked: bool = False
    not_searchable: int = 0

    def warnings_for(self, cell_id: uuid.UUID) -> list[AnalysisWarning]:
        return [w for w in self.warnings if cell_id in w.cell_ids]


# --- the rows --------------------------------------------------------------------------------


@dataclass
class _LegRow:
    id: str
    journey_id: str
    cell_id: str | None
    safe_house_id: str | None
    position: int
    released_at: object = None


def _band(cell: CellExposure, high_warning: bool) -> int:
    if high_warning or cell.reach >= BAND_HIGH:
        return 3
    if cell.reach >= BAND_MEDIUM:
        return 2
    if cell.reach or cell.places or cell.journeys:
        return 1
    return 0


def organisation_analysis(
    *, organisation: Organisation, keyring: Keyring | None = None
) -> Analysis:
    """Per-cell exposure and warnings for the whole organisation.

    Warnings (journeys count only while planning or active):

    - BOTH_ENDS: a cell that sees the pickup and the arrival handoff of a live
      journey (it runs, or shares a member with the cell that runs, its first
      and its last leg), one warning per cell;
    - BUSY_CELL: a cell running legs on more than MAX_LIVE_JOURNEYS_PER_CELL
      live journeys;
    - SAFE_HOUSE_WIDELY_KNOWN: an available safe house known (as in
      ``exposure_of`` of the safe house: cells of its stays and of the legs
      beside them, all journeys) to more than MAX_CELLS_KNOWING_SAFE_HOUSE cells;
    - PLACE_REUSED / VEHICLE_REUSED: only with ``keyring`` (or the keyring in
      force), which decrypts ``Handoff.place``, ``Leg.vehicle`` and
      ``Handoff.vehicle_plate`` in the compartments it opens: the same
      normalised place at two or more handoffs, the same vehicle on two or
      more legs (a plate given at a handoff counts for the leg arriving there;
      at the pickup, for the first leg), at least one of them on a live journey.
    """
    # Ids are handled as the database's text for them (``Cast``), not as
    # ``uuid.UUID`` objects: building and hashing a UUID per value cost more
    # than everything else here. They become UUIDs again only in the result.
    key_of = _key_function()
    cell_rows = list(
        Cell.objects.filter(organisation=organisation).order_by().values_list(_text("id"), "status")
    )
    journeys = {
        pk: (case_id, status)
        for pk, case_id, status in Journey.objects.filter(case__organisation=organisation)
        .order_by()
        .values_list(_text("id"), _text("case_id"), "status")
    }
    legs = [
        _LegRow(*row)
        for row in Leg.objects.filter(journey__case__organisation=organisation)
        .order_by()
        .values_list(
            _text("id"),
            _text("journey_id"),
            _text("cell_id"),
            _text("safe_house_id"),
            "position",
            "released_at",
        )
    ]
    handoffs = list(
        Handoff.objects.filter(journey__case__organisation=organisation)
        .order_by()
        .values_list(_text("id"), _text("journey_id"), _text("from_leg_id"), _text("to_leg_id"))
    )
    travellers_per_case: dict[str, int] = defaultdict(int)
    for case_id in (
        Traveller.objects.filter(case__organisation=organisation)
        .order_by()
        .values_list(_text("case_id"), flat=True)
    ):
        travellers_per_case[case_id] += 1
    members_of: dict[str, set[str]] = defaultdict(set)
    cells_of_member: dict[str, set[str]] = defaultdict(set)
    for cell_id, member_id in (
        CellMembership.objects.filter(cell__organisation=organisation)
        .order_by()
        .values_list(_text("cell_id"), _text("member_id"))
    ):
        members_of[cell_id].add(member_id)
        cells_of_member[member_id].add(cell_id)

    leg_by_id = {leg.id: leg for leg in legs}
    legs_of_cell: dict[str, list[_LegRow]] = defaultdict(list)
    legs_of_journey: dict[str, int] = defaultdict(int)
    for leg in legs:
        legs_of_journey[leg.journey_id] += 1
        if leg.cell_id is not None:
            legs_of_cell[leg.cell_id].append(leg)
    # Each leg's two ends: (handoff, the leg on the other side or None).
    ends: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for pk, _journey_id, from_leg, to_leg in handoffs:
        if from_leg is not None:
            ends[from_leg].append((pk, to_leg))
        if to_leg is not None:
            ends[to_leg].append((pk, from_leg))

    live_journeys = {
        j for j, (_case, status) in journeys.items() if status in LIVE_JOURNEY_STATUSES
    }
    live = live_journeys.__contains__

    as_uuid = _Uuids()
    analysis = Analysis(organisation_id=organisation.pk)
    exposed_legs_of: dict[str, set[str]] = {}
    # BOTH_ENDS is a weakness of the plan: it counts the legs a cell is given,
    # released or not, so it warns while there is still time to re-plan.
    assigned_legs_of: dict[str, set[str]] = {}
    for cell_id, status in cell_rows:
        # The cell, and every cell one of its members also belongs to.
        reached = {cell_id}
        for member_id in members_of.get(cell_id, ()):
            reached |= cells_of_member[member_id]
        # Only legs released to a cell are known to it (``exposure_of`` alike).
        exposed = {
            leg.id
            for c in reached
            for leg in legs_of_cell.get(c, ())
            if leg.released_at is not None
        }
        exposed_legs_of[cell_id] = exposed
        assigned_legs_of[cell_id] = {leg.id for c in reached for leg in legs_of_cell.get(c, ())}
        handoff_ids: set[str] = set()
        touched = set(exposed)
        for leg_id in exposed:
            for handoff_id, other in ends.get(leg_id, ()):
                handoff_ids.add(handoff_id)
                if other is not None:
                    touched.add(other)
        # (A handoff's journey is the journey of the legs it joins.)
        journey_ids = {leg_by_id[leg_id].journey_id for leg_id in touched}
        cases = {journeys[j][0] for j in journey_ids}
        own = legs_of_cell.get(cell_id, [])
        entry = CellExposure(
            cell_id=as_uuid(cell_id),
            status=status,
            legs=len(own),
            journeys=len(journey_ids),
            live_journeys=sum(1 for j in journey_ids if live(j)),
            travellers=sum(travellers_per_case.get(c, 0) for c in cases),
            places=len(handoff_ids) + len({leg_by_id[i].safe_house_id for i in exposed} - {None}),
            cells=len({leg_by_id[i].cell_id for i in touched} - {None, cell_id}),
        )
        if own:
            entry.position = sum(
                (leg.position + 0.5) / legs_of_journey[leg.journey_id] for leg in own
            ) / len(own)
        analysis.cells[entry.cell_id] = entry

    # Cells joined by handoffs.
    link_counts: dict[tuple[str, str], int] = defaultdict(int)
    for _pk, _journey, from_leg, to_leg in handoffs:
        if from_leg is None or to_leg is None:
            continue
        a, b = leg_by_id[from_leg].cell_id, leg_by_id[to_leg].cell_id
        if a is None or b is None or a == b:
            continue
        link_counts[(a, b) if a < b else (b, a)] += 1
    analysis.links = [
        CellLink(a=as_uuid(a), b=as_uuid(b), handoffs=n)
        for (a, b), n in sorted(link_counts.items())
    ]

    found = _both_ends(handoffs, assigned_legs_of, live)
    found += _busy_cells(legs_of_cell, live)
    found += _safe_houses(organisation, legs, ends, leg_by_id)
    keyring = keyring if keyring is not None else current_keyring()
    if keyring is not None:
        reuse, analysis.not_searchable = _reuse(organisation, keyring, leg_by_id, live, key_of)
        found += reuse
        analysis.reuse_checked = True
    analysis.warnings = [w.with_uuids(as_uuid) for w in found]

    high = {c for w in analysis.warnings if w.severity == Severity.HIGH for c in w.cell_ids}
    for entry in analysis.cells.values():
        entry.band = _band(entry, entry.cell_id in high)
    return analysis


# --- ids as text ---------------------------------------------------------------------------------


def _text(field: str) -> Cast:
    """A column of ids as the database's text for them."""
    return Cast(field, output_field=models.CharField())


def _key_function() -> Callable[[uuid.UUID], str]:
    """uuid -> the text ``_text`` gives for it: SQLite stores 32 hex digits,
    PostgreSQL prints its native uuid with dashes."""
    if connection.vendor == "sqlite":
        return lambda value: value.hex
    return str


class _Uuids:
    """Text ids back to ``uuid.UUID``, each converted once."""

    def __init__(self) -> None:
        self._seen: dict[str, uuid.UUID] = {}

    def __call__(self, key: str) -> uuid.UUID:
        value = self._seen.get(key)
        if value is None:
            value = self._seen[key] = uuid.UUID(key)
        return value


@dataclass(frozen=True)
class _Found:
    """A warning while ids are still text."""

    kind: str
    severity: str
    count: int
    cell_ids: frozenset[str] = frozenset()
    journey_ids: frozenset[str] = frozenset()
    leg_ids: frozenset[str] = frozenset()
    handoff_ids: frozenset[str] = frozenset()
    safe_house_ids: frozenset[str] = frozenset()

    def with_uuids(self, as_uuid: _Uuids) -> AnalysisWarning:
        def convert(keys: frozenset[str]) -> frozenset[uuid.UUID]:
            return frozenset(as_uuid(k) for k in keys)

        return AnalysisWarning(
            kind=self.kind,
            severity=self.severity,
            count=self.count,
            cell_ids=convert(self.cell_ids),
            journey_ids=convert(self.journey_ids),
            leg_ids=convert(self.leg_ids),
            handoff_ids=convert(self.handoff_ids),
            safe_house_ids=convert(self.safe_house_ids),
        )


# --- warnings ----------------------------------------------------------------------------------


def _both_ends(handoffs, exposed_legs_of, live) -> list[_Found]:
    # journey -> its first and last leg, its pickup and arrival handoff
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    pickup: dict[str, str] = {}
    arrival: dict[str, str] = {}
    for pk, journey_id, from_leg, to_leg in handoffs:
        if from_leg is None and to_leg is not None:
            pickup[journey_id], first[journey_id] = pk, to_leg
        elif to_leg is None and from_leg is not None:
            arrival[journey_id], last[journey_id] = pk, from_leg
    journey_of_first = {leg: j for j, leg in first.items() if j in last and live(j)}
    found = []
    for cell_id, exposed in exposed_legs_of.items():
        # Only the journeys whose first leg it sees can have both ends seen.
        journey_ids = {
            j
            for leg in exposed
            if (j := journey_of_first.get(leg)) is not None and last[j] in exposed
        }
        if journey_ids:
            found.append(
                _Found(
                    kind=WarningKind.BOTH_ENDS,
                    severity=Severity.HIGH,
                    count=len(journey_ids),
                    cell_ids=frozenset({cell_id}),
                    journey_ids=frozenset(journey_ids),
                    leg_ids=frozenset(
                        {first[j] for j in journey_ids} | {last[j] for j in journey_ids}
                    ),
                    handoff_ids=frozenset(
                        {pickup[j] for j in journey_ids} | {arrival[j] for j in journey_ids}
                    ),
                )
            )
    return found


def _busy_cells(legs_of_cell, live) -> list[_Found]:
    found = []
    for cell_id, own in legs_of_cell.items():
        journey_ids = {leg.journey_id for leg in own if live(leg.journey_id)}
        if len(journey_ids) > MAX_LIVE_JOURNEYS_PER_CELL:
            found.append(
                _Found(
                    kind=WarningKind.BUSY_CELL,
                    severity=Severity.MEDIUM,
                    count=len(journey_ids),
                    cell_ids=frozenset({cell_id}),
                    journey_ids=frozenset(journey_ids),
                    leg_ids=frozenset(leg.id for leg in own if live(leg.journey_id)),
                )
            )
    return found


def _safe_houses(organisation, legs, ends, leg_by_id) -> list[_Found]:
    available = set(
        SafeHouse.objects.filter(organisation=organisation, status=SafeHouseStatus.AVAILABLE)
        .order_by()
        .values_list(_text("id"), flat=True)
    )
    knowers: dict[str, set[str]] = defaultdict(set)
    stays: dict[str, set[str]] = defaultdict(set)
    for leg in legs:
        if leg.safe_house_id not in available:
            continue
        stays[leg.safe_house_id].add(leg.id)
        around = [leg.id] + [other for _h, other in ends.get(leg.id, ()) if other is not None]
        knowers[leg.safe_house_id] |= {leg_by_id[i].cell_id for i in around} - {None}
    return [
        _Found(
            kind=WarningKind.SAFE_HOUSE_WIDELY_KNOWN,
            severity=Severity.MEDIUM,
            count=len(cells),
            cell_ids=frozenset(cells),
            leg_ids=frozenset(stays[house]),
            safe_house_ids=frozenset({house}),
        )
        for house, cells in knowers.items()
        if len(cells) > MAX_CELLS_KNOWING_SAFE_HOUSE
    ]


def _opened(
    keyring: Keyring, records: Iterable[Any], names: tuple[str, ...]
) -> tuple[list[tuple[Any, dict[str, str]]], int]:
    """[(record, {field: normalised text})] for records the keyring opens, and
    how many records holding one of ``names`` it could not open."""
    records = list(records)
    for chunk in chunked({r.compartment_id for r in records}):
        keyring.load(chunk)
    opened, blind = [], 0
    with unlocked(keyring):
        for record in records:
            held = [n for n in names if record.__dict__[n].raw is not None]
            if not held:
                continue
            if not keyring.can_open(record.compartment_id):
                blind += 1
                continue
            try:
                values = {n: normalise(getattr(record, n) or "") for n in held}
            except Locked:
                blind += 1
                continue
            opened.append((record, {n: v for n, v in values.items() if v}))
    return opened, blind


def _reuse(organisation, keyring, leg_by_id, live, key_of) -> tuple[list[_Found], int]:
    legs = (
        Leg.objects.filter(journey__case__organisation=organisation)
        .order_by()
        .only("pk", "journey", "compartment", "vehicle")
    )
    handoffs = (
        Handoff.objects.filter(journey__case__organisation=organisation)
        .order_by()
        .only("pk", "journey", "from_leg", "to_leg", "compartment", "place", "vehicle_plate")
    )
    opened_legs, blind_legs = _opened(keyring, legs, ("vehicle",))
    opened_handoffs, blind_handoffs = _opened(keyring, handoffs, ("place", "vehicle_plate"))

    vehicles: dict[str, set[str]] = defaultdict(set)  # text -> legs
    vehicle_handoffs: dict[str, set[str]] = defaultdict(set)
    places: dict[str, set[str]] = defaultdict(set)  # text -> handoffs
    handoff_legs: dict[str, set[str]] = {}
    journey_of: dict[str, str] = {}
    for record, values in opened_legs:
        if "vehicle" in values:
            vehicles[values["vehicle"]].add(key_of(record.pk))
    for record, values in opened_handoffs:
        pk = key_of(record.pk)
        from_leg = key_of(record.from_leg_id) if record.from_leg_id else None
        to_leg = key_of(record.to_leg_id) if record.to_leg_id else None
        journey_of[pk] = key_of(record.journey_id)
        handoff_legs[pk] = {x for x in (from_leg, to_leg) if x}
        if "place" in values:
            places[values["place"]].add(pk)
        arriving = from_leg or to_leg
        if "vehicle_plate" in values and arriving is not None:
            vehicles[values["vehicle_plate"]].add(arriving)
            vehicle_handoffs[values["vehicle_plate"]].add(pk)

    found = []
    for text in sorted(vehicles):
        leg_ids = vehicles[text]
        if len(leg_ids) > 1 and any(live(leg_by_id[i].journey_id) for i in leg_ids):
            found.append(
                _Found(
                    kind=WarningKind.VEHICLE_REUSED,
                    severity=Severity.HIGH,
                    count=len(leg_ids),
                    cell_ids=frozenset({leg_by_id[i].cell_id for i in leg_ids} - {None}),
                    journey_ids=frozenset({leg_by_id[i].journey_id for i in leg_ids}),
                    leg_ids=frozenset(leg_ids),
                    handoff_ids=frozenset(vehicle_handoffs.get(text, ())),
                )
            )
    for text in sorted(places):
        handoff_ids = places[text]
        if len(handoff_ids) > 1 and any(live(journey_of[h]) for h in handoff_ids):
            around = {leg for h in handoff_ids for leg in handoff_legs[h]}
            found.append(
                _Found(
                    kind=WarningKind.PLACE_REUSED,
                    severity=Severity.MEDIUM,
                    count=len(handoff_ids),
                    cell_ids=frozenset({leg_by_id[i].cell_id for i in around} - {None}),
                    journey_ids=frozenset({journey_of[h] for h in handoff_ids}),
                    leg_ids=frozenset(around),
                    handoff_ids=frozenset(handoff_ids),
                )
            )
    return found, blind_legs + blind_handoffs
