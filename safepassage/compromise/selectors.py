"""Reading compromises: the declarations, their exposure reports, the subjects
a coordinator may declare, and the burned vehicles and places the planner
warns about.

Every coordinator of the organisation sees every declaration (a compromise
concerns the whole network); what each of them sees *in* a report is
bounded by their keys: details sealed in a compartment they do not hold are
counted, never shown. Anyone else gets the same 404 as for a missing record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.cases.models import Case, Traveller
from safepassage.cells.models import Cell, CellStatus
from safepassage.contacts.models import Contact, ContactStatus
from safepassage.journeys.models import (
    OPEN_LEG_STATUSES,
    Handoff,
    Journey,
    JourneyStatus,
    Leg,
    LegStatus,
)
from safepassage.members.models import Member
from safepassage.safehouses.models import SafeHouse, SafeHouseStatus
from safepassage.vault.keyring import Keyring, Locked

from .exposure import ID_SETS, ExposedIds, Exposure, SubjectKind, normalise, text_matches
from .models import BurnedKind, BurnedMark, Compromise, CompromiseStatus


@dataclass
class Snapshot(ExposedIds):
    """A declaration's exposure as it was computed then (ids only)."""

    @classmethod
    def of(cls, exposure: Exposure) -> Snapshot:
        snapshot = cls(
            directory_exposed=exposure.directory_exposed,
            not_searchable=exposure.not_searchable,
        )
        for name in ID_SETS:
            setattr(snapshot, name, set(getattr(exposure, name)))
        return snapshot

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: sorted(str(i) for i in getattr(self, name)) for name in ID_SETS
        }
        data["directory_exposed"] = self.directory_exposed
        data["not_searchable"] = self.not_searchable
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Snapshot:
        data = data or {}
        snapshot = cls(
            directory_exposed=bool(data.get("directory_exposed")),
            not_searchable=int(data.get("not_searchable") or 0),
        )
        for name in ID_SETS:
            setattr(snapshot, name, {uuid.UUID(i) for i in data.get(name, [])})
        return snapshot


# --- declarations -------------------------------------------------------------------------


def compromises_for(member) -> QuerySet[Compromise]:
    if not roles.is_coordinator(member):
        return Compromise.objects.none()
    return Compromise.objects.filter(organisation_id=member.organisation_id)


def get_compromise(member, compromise_id) -> Compromise:
    """The declaration, or Http404 for a missing one and an inaccessible one alike."""
    return get_object_or_404(
        compromises_for(member).select_related("organisation", "declared_by", "responded_by"),
        pk=compromise_id,
    )


def open_compromise_count(member) -> int:
    return compromises_for(member).filter(status=CompromiseStatus.OPEN).count()


def _opened(keyring: Keyring, compartment_id) -> bool:
    return compartment_id is not None and keyring.can_open(compartment_id)


def readable_text(record, attr: str) -> str:
    """A sealed text field as a string, or "" when empty or not openable."""
    try:
        value = getattr(record, attr)
    except Locked:
        return ""
    return str(value or "")


def handoff_label(handoff: Handoff, journey_title: str = "") -> str:
    if handoff.from_leg_id is None:
        where = _("pickup")
    elif handoff.to_leg_id is None:
        where = _("arrival")
    else:
        where = _("handoff from leg %(a)s to leg %(b)s") % {
            "a": handoff.position,
            "b": handoff.position + 1,
        }
    return f"{journey_title} · {where}" if journey_title else str(where)


def subject_label(compromise: Compromise, keyring: Keyring) -> str:
    """What was compromised, as the viewer's keys can name it."""
    kind = compromise.subject_kind
    org = compromise.organisation
    unnamed = _("(not readable with your keys)")
    subject_id = compromise.subject_id or uuid.UUID(int=0)
    if kind in (SubjectKind.VEHICLE, SubjectKind.PLACE):
        return readable_text(compromise, "subject_text") or unnamed
    if kind == SubjectKind.MEMBER:
        member = Member.objects.filter(pk=subject_id, organisation=org).first()
        if member is None:
            return unnamed
        name = readable_text(member, "display_name")
        return f"{name} ({member.handle})" if name else member.handle
    if kind == SubjectKind.CELL:
        cell = Cell.objects.filter(pk=subject_id, organisation=org).first()
        return (readable_text(cell, "codename") if cell else "") or unnamed
    if kind == SubjectKind.CONTACT:
        contact = Contact.objects.filter(pk=subject_id, organisation=org).first()
        return (readable_text(contact, "name") if contact else "") or unnamed
    if kind == SubjectKind.SAFE_HOUSE:
        house = SafeHouse.objects.filter(pk=subject_id, organisation=org).first()
        return (readable_text(house, "codename") if house else "") or unnamed
    handoff = (
        Handoff.objects.filter(pk=subject_id, journey__case__organisation=org)
        .select_related("journey")
        .first()
    )
    if handoff is None:
        return unnamed
    title = (
        readable_text(handoff.journey, "title")
        if _opened(keyring, handoff.journey.compartment_id)
        else ""
    )
    return handoff_label(handoff, title)


@dataclass
class Row:
    """One declaration on the list page."""

    compromise: Compromise
    subject: str
    legs: int
    travellers: int
    open_legs: int


def declaration_rows(member, keyring: Keyring) -> list[Row]:
    found = list(
        compromises_for(member)
        .select_related("organisation", "declared_by")
        .order_by("-declared_at")
    )
    keyring.load({member.organisation.coordinators_compartment_id})
    rows = []
    for compromise in found:
        snapshot = Snapshot.from_json(_json(compromise, "exposure"))
        rows.append(
            Row(
                compromise=compromise,
                subject=subject_label(compromise, keyring),
                legs=len(snapshot.leg_ids),
                travellers=len(snapshot.traveller_ids),
                open_legs=len(snapshot.open_leg_ids),
            )
        )
    return rows


def _json(compromise: Compromise, attr: str) -> dict:
    try:
        value = getattr(compromise, attr)
    except Locked:
        return {}
    return value if isinstance(value, dict) else {}


def snapshot_of(compromise: Compromise) -> Snapshot:
    return Snapshot.from_json(_json(compromise, "exposure"))


def response_of(compromise: Compromise) -> dict:
    return _json(compromise, "response")


# --- the exposure report -----------------------------------------------------------------------


@dataclass
class LegLine:
    leg: Leg
    readable: bool
    journey_title: str
    cell_name: str
    frozen: bool
    open: bool
    needs_new_cell: bool
    needs_new_safe_house: bool
    may_release: bool


@dataclass
class HandoffLine:
    handoff: Handoff
    readable: bool
    journey_title: str
    has_phrases: bool
    label: str


@dataclass
class CaseLine:
    case: Case
    readable: bool
    travellers: int
    identities_exposed: bool


@dataclass
class Named:
    id: uuid.UUID
    name: str
    status: str = ""
    status_label: str = ""


@dataclass
class Report:
    compromise: Compromise
    subject: str
    snapshot: Snapshot
    response: dict
    legs: list[LegLine]
    handoffs: list[HandoffLine]
    cases: list[CaseLine]
    safe_houses: list[Named]
    contacts: list[Named]
    adjacent_cells: list[Named]
    journeys: list[Named]
    members: list[Named]
    unreadable_legs: int
    unreadable_handoffs: int

    @property
    def counts(self) -> list[tuple[str, int]]:
        s = self.snapshot
        return [
            (_("Legs"), len(s.leg_ids)),
            (_("Handoffs"), len(s.handoff_ids)),
            (_("Travellers"), len(s.traveller_ids)),
            (_("Travellers named"), self.named_travellers),
            (_("Safe houses"), len(s.safe_house_ids)),
            (_("Adjacent cells"), len(s.adjacent_cell_ids)),
            (_("Active journeys"), len(s.active_journey_ids)),
            (_("Legs to freeze"), len(s.open_leg_ids)),
            (_("Legs needing a new cell"), len(s.legs_needing_new_cell)),
        ]

    @property
    def named_travellers(self) -> int:
        return sum(line.travellers for line in self.cases if line.identities_exposed)

    @property
    def frozen_legs(self) -> list[LegLine]:
        return [line for line in self.legs if line.frozen]

    @property
    def legs_to_freeze(self) -> list[LegLine]:
        return [
            line for line in self.legs if line.open and line.leg.pk in self.snapshot.open_leg_ids
        ]

    @property
    def legs_needing_new_cell(self) -> list[LegLine]:
        return [line for line in self.legs if line.needs_new_cell]

    @property
    def notified_cells(self) -> set[str]:
        return set(self.response.get("notified_cell_ids", []))


def report(member, compromise: Compromise, keyring: Keyring) -> Report:
    """The exposure report of ``compromise`` as ``member`` may read it.

    Counts come from the snapshot taken at declaration. Details (places,
    times, recognition details, whether phrases were set) are read from the
    records now, and only where ``keyring`` opens them. Phrases themselves
    are never shown here.
    """
    from safepassage.cases.selectors import cases_for
    from safepassage.journeys.selectors import journeys_for, legs_for

    org = compromise.organisation
    snapshot = snapshot_of(compromise)
    coordinators = org.coordinators_compartment_id

    leg_ids = (
        snapshot.leg_ids
        | snapshot.open_leg_ids
        | snapshot.legs_needing_new_cell
        | snapshot.legs_needing_new_safe_house
    )
    legs = list(
        Leg.objects.filter(pk__in=list(leg_ids), journey__case__organisation=org)
        .select_related("journey", "cell__organisation")
        .order_by("journey_id", "position")
    )
    handoffs = list(
        Handoff.objects.filter(pk__in=list(snapshot.handoff_ids), journey__case__organisation=org)
        .defer("photo")
        .annotate(
            has_phrases=ExpressionWrapper(
                Q(phrase_challenge__isnull=False), output_field=BooleanField()
            )
        )
        .select_related("journey")
        .order_by("journey_id", "position")
    )
    case_ids = snapshot.case_ids | snapshot.described_case_ids
    cases = list(Case.objects.filter(pk__in=list(case_ids), organisation=org).order_by("opened_at"))
    keyring.load(
        {coordinators}
        | {leg.compartment_id for leg in legs}
        | {leg.journey.compartment_id for leg in legs}
        | {h.compartment_id for h in handoffs}
        | {h.journey.compartment_id for h in handoffs}
        | {case.compartment_id for case in cases}
    )
    titles: dict[uuid.UUID, str] = {}

    def title(journey: Journey) -> str:
        if journey.pk not in titles:
            titles[journey.pk] = (
                readable_text(journey, "title") if _opened(keyring, journey.compartment_id) else ""
            )
        return titles[journey.pk]

    releasable = set(
        legs_for(member).filter(pk__in=[leg.pk for leg in legs]).values_list("pk", flat=True)
    )
    leg_lines = [
        LegLine(
            leg=leg,
            readable=_opened(keyring, leg.compartment_id),
            journey_title=title(leg.journey),
            cell_name=readable_text(leg.cell, "codename") if leg.cell is not None else "",
            frozen=leg.status == LegStatus.FROZEN,
            open=leg.status in OPEN_LEG_STATUSES,
            needs_new_cell=leg.pk in snapshot.legs_needing_new_cell,
            needs_new_safe_house=leg.pk in snapshot.legs_needing_new_safe_house,
            may_release=leg.status == LegStatus.FROZEN and leg.pk in releasable,
        )
        for leg in legs
    ]
    handoff_lines = [
        HandoffLine(
            handoff=h,
            readable=_opened(keyring, h.compartment_id),
            journey_title=title(h.journey),
            has_phrases=bool(getattr(h, "has_phrases", False)),
            label=handoff_label(h),
        )
        for h in handoffs
    ]
    counts = dict(_count_by(Traveller.objects.filter(case_id__in=list(case_ids)), "case_id"))
    visible_cases = set(
        cases_for(member).filter(pk__in=list(case_ids)).values_list("pk", flat=True)
    )
    case_lines = [
        CaseLine(
            case=case,
            readable=case.pk in visible_cases and _opened(keyring, case.compartment_id),
            travellers=counts.get(case.pk, 0),
            identities_exposed=case.pk in snapshot.case_ids,
        )
        for case in cases
    ]

    def named(model, ids: Iterable[uuid.UUID], attr: str) -> list[Named]:
        records = model.objects.filter(pk__in=list(ids), organisation=org).order_by("created_at")
        return [
            Named(
                id=r.pk,
                name=readable_text(r, attr) or _("(not readable with your keys)"),
                status=r.status,
                status_label=str(r.get_status_display()),
            )
            for r in records
        ]

    visible_journeys = set(
        journeys_for(member)
        .filter(pk__in=list(snapshot.active_journey_ids))
        .values_list("pk", flat=True)
    )
    journeys = [
        Named(
            id=j.pk,
            name=(title(j) if j.pk in visible_journeys else "")
            or _("(not readable with your keys)"),
            status=j.status if j.pk in visible_journeys else "",
            status_label=str(j.get_status_display()),
        )
        for j in Journey.objects.filter(
            pk__in=list(snapshot.active_journey_ids), case__organisation=org
        ).select_related("case")
    ]
    member_rows = [
        Named(id=m.pk, name=m.handle, status=m.status, status_label=str(m.get_status_display()))
        for m in Member.objects.filter(pk__in=list(snapshot.member_ids), organisation=org)
    ]
    return Report(
        compromise=compromise,
        subject=subject_label(compromise, keyring),
        snapshot=snapshot,
        response=response_of(compromise),
        legs=leg_lines,
        handoffs=handoff_lines,
        cases=case_lines,
        safe_houses=named(SafeHouse, snapshot.safe_house_ids, "codename"),
        contacts=named(Contact, snapshot.contact_ids, "name"),
        adjacent_cells=named(Cell, snapshot.adjacent_cell_ids, "codename"),
        journeys=journeys,
        members=member_rows,
        unreadable_legs=sum(1 for line in leg_lines if not line.readable),
        unreadable_handoffs=sum(1 for line in handoff_lines if not line.readable),
    )


def _count_by(queryset, attr: str) -> list[tuple[Any, int]]:
    from django.db.models import Count

    return list(queryset.values_list(attr).annotate(n=Count("pk")).order_by())


# --- what a coordinator may declare ------------------------------------------------------------


@dataclass
class SubjectChoices:
    members: list[tuple[str, str]]
    cells: list[tuple[str, str]]
    contacts: list[tuple[str, str]]
    safe_houses: list[tuple[str, str]]
    handoffs: list[tuple[str, str]]
    known_vehicles: list[str]
    known_places: list[str]


def subject_choices(member, keyring: Keyring) -> SubjectChoices:
    """Every subject ``member`` may declare, by decrypted name. Handoffs (and
    the datalist of known vehicles and places) come from the journeys still
    under way or being planned in the cases they coordinate."""
    from safepassage.cells.selectors import cells_for
    from safepassage.contacts.selectors import contacts_for
    from safepassage.journeys.selectors import handoffs_for, legs_for
    from safepassage.members.selectors import members_for
    from safepassage.safehouses.selectors import safe_houses_for

    keyring.load({member.organisation.coordinators_compartment_id})
    live = [JourneyStatus.PLANNING, JourneyStatus.ACTIVE]

    def labelled(records, attr: str) -> list[tuple[str, str]]:
        return [
            (
                str(r.pk),
                readable_text(r, attr) or str(_("(unnamed)")),
            )
            for r in records
        ]

    people = []
    for m in members_for(member).exclude(pk=member.pk).select_related("organisation"):
        name = readable_text(m, "display_name")
        people.append((str(m.pk), f"{name} ({m.handle})" if name else m.handle))
    handoffs = list(
        handoffs_for(member)
        .filter(journey__status__in=live)
        .defer("photo")
        .select_related("journey")
        .order_by("journey__created_at", "journey_id", "position")
    )
    legs = list(legs_for(member).filter(journey__status__in=live))
    keyring.load(
        {h.compartment_id for h in handoffs}
        | {h.journey.compartment_id for h in handoffs}
        | {leg.compartment_id for leg in legs}
    )
    titles: dict[uuid.UUID, str] = {}
    handoff_choices = []
    places: dict[str, str] = {}
    vehicles: dict[str, str] = {}
    for h in handoffs:
        if h.journey_id not in titles:
            titles[h.journey_id] = readable_text(h.journey, "title")
        handoff_choices.append((str(h.pk), handoff_label(h, titles[h.journey_id])))
        if _opened(keyring, h.compartment_id):
            for text, bucket in (
                (readable_text(h, "place"), places),
                (readable_text(h, "vehicle_plate"), vehicles),
            ):
                if text:
                    bucket.setdefault(normalise(text), text)
    for leg in legs:
        vehicle = readable_text(leg, "vehicle") if _opened(keyring, leg.compartment_id) else ""
        if vehicle:
            vehicles.setdefault(normalise(vehicle), vehicle)
    return SubjectChoices(
        members=people,
        cells=labelled(cells_for(member).select_related("organisation"), "codename"),
        contacts=labelled(contacts_for(member).select_related("organisation"), "name"),
        safe_houses=labelled(safe_houses_for(member).select_related("organisation"), "codename"),
        handoffs=handoff_choices,
        known_vehicles=sorted(vehicles.values(), key=str.casefold),
        known_places=sorted(places.values(), key=str.casefold),
    )


# --- burned vehicles and places (the planner's warnings) -------------------------------------


def burned_texts(organisation, keyring: Keyring) -> dict[str, list[str]]:
    """{kind: [normalised text]} of the organisation's burned marks the keyring opens."""
    found: dict[str, list[str]] = {BurnedKind.VEHICLE: [], BurnedKind.PLACE: []}
    if not _opened(keyring, organisation.coordinators_compartment_id):
        return found
    for mark in BurnedMark.objects.filter(organisation=organisation).select_related("organisation"):
        text = normalise(readable_text(mark, "text"))
        if text:
            found[mark.kind].append(text)
    return found


def _matches(marks: list[str], *values: str | None) -> bool:
    return any(text_matches(mark, value) for mark in marks for value in values if value)


def planner_warnings(
    *, organisation, keyring: Keyring, legs: Iterable[Leg] = (), handoffs: Iterable[Handoff] = ()
) -> dict[uuid.UUID, list[str]]:
    """{leg or handoff id: [warning]} for records that reuse something burned:
    a burned vehicle (a leg's vehicle, a handoff's plate or colour), a burned
    place (a handoff's place), a burned safe house, a compromised cell or
    contact. Only values the keyring opens are compared."""
    legs, handoffs = list(legs), list(handoffs)
    marks = burned_texts(organisation, keyring)
    warnings: dict[uuid.UUID, list[str]] = {}
    keyring.load({leg.compartment_id for leg in legs} | {h.compartment_id for h in handoffs})
    for leg in legs:
        found = []
        if _opened(keyring, leg.compartment_id) and _matches(
            marks[BurnedKind.VEHICLE], readable_text(leg, "vehicle")
        ):
            found.append(_("This leg's vehicle is marked burned: the adversary may know it."))
        if leg.safe_house is not None and leg.safe_house.status == SafeHouseStatus.BURNED:
            found.append(_("This leg's safe house is burned."))
        if leg.cell is not None and leg.cell.status == CellStatus.COMPROMISED:
            found.append(_("This leg's cell is compromised: it needs a new cell."))
        if leg.contact is not None and leg.contact.status == ContactStatus.COMPROMISED:
            found.append(_("This leg's contact is compromised."))
        if found:
            warnings[leg.pk] = found
    for handoff in handoffs:
        if not _opened(keyring, handoff.compartment_id):
            continue
        found = []
        if _matches(marks[BurnedKind.PLACE], readable_text(handoff, "place")):
            found.append(_("This handoff's place is marked burned: the adversary may know it."))
        if _matches(
            marks[BurnedKind.VEHICLE],
            readable_text(handoff, "vehicle_plate"),
            readable_text(handoff, "vehicle_colour"),
        ):
            found.append(_("This handoff's vehicle is marked burned: the adversary may know it."))
        if found:
            warnings[handoff.pk] = found
    return warnings


def cell_labels(member) -> dict[uuid.UUID, str]:
    """{cell id: code name} for the analysis graph (the coordinators' compartment)."""
    from safepassage.cells.selectors import cells_for

    return {
        cell.pk: readable_text(cell, "codename") or str(cell.pk)[:8]
        for cell in cells_for(member).select_related("organisation")
    }
