"""Journeys, legs and handoffs, and the key grants that follow them.

The grant rules (DESIGN.md), applied here and nowhere else:

- a leg's key is wrapped under its case's key, and to every approved member
  of the leg's cell once the leg is released (``Leg.released_at``: the
  journey was started, or the coordinator briefed that cell earlier);
- a handoff's key is wrapped under its case's key and to every approved
  member of the cells of the released legs it joins.

Whenever a leg's cell or release, a journey's order or a cell's membership
changes, the ``sync_*`` functions bring the grants in line: new holders are
granted (or queued when the actor cannot open the key), former holders are
revoked and the compartment is rotated.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.cases.models import Case, CaseEventKind, CaseStatus
from safepassage.cases.services import add_event, set_status
from safepassage.cells.models import Cell, CellMembership
from safepassage.core.errors import ServiceError
from safepassage.members.models import MemberStatus
from safepassage.vault import services as vault
from safepassage.vault.keyring import Keyring, Locked, require
from safepassage.vault.models import CompartmentGrant, CompartmentKind, HolderKind, PendingGrant

from . import photos
from .models import (
    OPEN_LEG_STATUSES,
    Handoff,
    HandoffStatus,
    Journey,
    JourneyStatus,
    Leg,
    LegStatus,
    TransportKind,
)
from .phrases import book_language, key_of, new_phrase_pair

# Check-in deadlines follow their leg: each hook runs in the service's transaction.
from safepassage.checkins import hooks as checkin_hooks  # isort: skip

MAX_PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}


# --- permission helpers ------------------------------------------------------------


def _require_planning(journey: Journey) -> None:
    if journey.status not in (JourneyStatus.PLANNING, JourneyStatus.ACTIVE):
        raise ServiceError(_("This journey is finished and can no longer be changed."))


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start and end and end <= start:
        raise ServiceError(_("The window must end after it starts."))


def _check_cell(actor, cell: Cell | None) -> None:
    if cell is not None and cell.organisation_id != actor.organisation_id:
        raise ServiceError(_("That cell does not exist."))


def _check_contact(actor, contact, *, current_id: uuid.UUID | None = None) -> None:
    """A leg takes only an active contact of the actor's organisation.

    A leg that already names a contact marked do-not-use or compromised since
    may keep it (changing it is the coordinator's decision, and the form
    shows it), but no leg is newly given one: the form offers none, and this
    refuses them from any other path (the API, a script).
    """
    from safepassage.contacts.models import ContactStatus

    if contact is None:
        return
    if contact.organisation_id != actor.organisation_id:
        raise ServiceError(_("That contact does not exist."))
    if contact.status != ContactStatus.ACTIVE and contact.pk != current_id:
        raise ServiceError(
            _("%(status)s: this contact cannot be given a leg.")
            % {"status": ContactStatus(contact.status).label}
        )


# --- grants --------------------------------------------------------------------------


def _cell_member_ids(cell_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not cell_ids:
        return set()
    return set(
        CellMembership.objects.filter(
            cell_id__in=cell_ids,
            member__status=MemberStatus.ACTIVE,
            member__is_active=True,
        ).values_list("member_id", flat=True)
    )


def _sync_member_grants(
    compartment_id: uuid.UUID, desired: set[uuid.UUID], keyring: Keyring, *, allow_new: bool = True
) -> None:
    from safepassage.members.models import Member
    from safepassage.vault.models import Compartment

    current = set(
        CompartmentGrant.objects.filter(
            compartment_id=compartment_id, holder_kind=HolderKind.MEMBER
        ).values_list("member_id", flat=True)
    )
    pending = set(
        PendingGrant.objects.filter(compartment_id=compartment_id).values_list(
            "member_id", flat=True
        )
    )
    compartment = Compartment.objects.get(pk=compartment_id)
    if allow_new:
        for member in Member.objects.filter(pk__in=desired - current - pending):
            vault.grant_or_defer(compartment=compartment, member=member, keyring=keyring)
    for member in Member.objects.filter(pk__in=(current | pending) - desired):
        vault.revoke_member(compartment=compartment, member=member)


def _leg_reaches_cell(leg: Leg | None) -> bool:
    """The leg's cell holds its keys: the leg is released to it."""
    return leg is not None and leg.cell_id is not None and leg.released_at is not None


def sync_leg_grants(*, leg: Leg, keyring: Keyring) -> None:
    desired = _cell_member_ids([leg.cell_id]) if _leg_reaches_cell(leg) and leg.cell_id else set()
    _sync_member_grants(
        leg.compartment_id, desired, keyring, allow_new=leg.status in OPEN_LEG_STATUSES
    )


def sync_handoff_grants(*, handoff: Handoff, keyring: Keyring) -> None:
    cells = [
        leg.cell_id
        for leg in (handoff.from_leg, handoff.to_leg)
        if leg is not None and _leg_reaches_cell(leg) and leg.cell_id
    ]
    _sync_member_grants(
        handoff.compartment_id,
        _cell_member_ids(cells),
        keyring,
        allow_new=handoff.status != HandoffStatus.DONE,
    )


def _sync_leg_and_ends(leg: Leg, keyring: Keyring) -> None:
    """A leg's grants and those of the handoffs at its two ends."""
    sync_leg_grants(leg=leg, keyring=keyring)
    for handoff in Handoff.objects.filter(Q(from_leg=leg) | Q(to_leg=leg)).select_related(
        "from_leg", "to_leg"
    ):
        sync_handoff_grants(handoff=handoff, keyring=keyring)


def sync_cell_grants(*, cell: Cell, keyring: Keyring) -> None:
    """After a membership change: every leg of the cell and the handoffs at their ends."""
    legs = list(Leg.objects.filter(cell=cell).select_related("journey"))
    for leg in legs:
        sync_leg_grants(leg=leg, keyring=keyring)
    for handoff in Handoff.objects.filter(Q(from_leg__in=legs) | Q(to_leg__in=legs)).select_related(
        "from_leg", "to_leg"
    ):
        sync_handoff_grants(handoff=handoff, keyring=keyring)


def _sync_journey_grants(journey: Journey, keyring: Keyring) -> None:
    for leg in journey.legs.all():
        sync_leg_grants(leg=leg, keyring=keyring)
    for handoff in journey.handoffs.select_related("from_leg", "to_leg"):
        sync_handoff_grants(handoff=handoff, keyring=keyring)


# --- handoff structure -------------------------------------------------------------------


def _new_handoff(journey: Journey, position: int, keyring: Keyring) -> Handoff:
    compartment = vault.create_compartment(
        organisation=journey.case.organisation, kind=CompartmentKind.HANDOFF, keyring=keyring
    )
    vault.grant_to_parent(compartment=compartment, parent=journey.case.compartment, keyring=keyring)
    handoff = Handoff(journey=journey, position=position, compartment=compartment)
    # Its phrases are drawn once its legs (and so its cells' languages) are known.
    handoff.save()
    return handoff


def _cells_of(handoff: Handoff) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(the cell arriving with the traveller, the cell receiving them)."""
    return (
        handoff.from_leg.cell_id if handoff.from_leg is not None else None,
        handoff.to_leg.cell_id if handoff.to_leg is not None else None,
    )


def cell_language(cell_id: uuid.UUID | None) -> str:
    """The language a cell says its verification phrases in: the page
    language most of its active members chose (a tie goes to the lead's,
    then to the first in ``settings.LANGUAGES``); English for no cell."""
    from django.conf import settings

    if cell_id is None:
        return book_language(None)
    rows = list(
        CellMembership.objects.filter(
            cell_id=cell_id, member__status=MemberStatus.ACTIVE, member__is_active=True
        ).values_list("member__language", "is_lead")
    )
    if not rows:
        return book_language(None)
    counts: dict[str, int] = {}
    for language, _lead in rows:
        counts[book_language(language)] = counts.get(book_language(language), 0) + 1
    lead = next((book_language(language) for language, is_lead in rows if is_lead), None)
    order = [book_language(code) for code, _name in settings.LANGUAGES]
    return max(
        counts,
        key=lambda code: (counts[code], code == lead, -order.index(code) if code in order else -99),
    )


def _live_challenges(handoff: Handoff, keyring: Keyring) -> set[object]:
    """The challenges (``phrases.key_of``) of the other live handoffs of every
    member of ``handoff``'s cells, among those ``keyring`` opens: a member
    must never hold two live handoffs with the same challenge, or hearing
    one would answer for the other. Handoffs the actor cannot open are not
    compared (docs/SECURITY.md gives the odds of a repeat among them)."""
    cells = [c for c in _cells_of(handoff) if c]
    if not cells:
        return set()
    members = _cell_member_ids(cells)
    member_cells = set(
        CellMembership.objects.filter(member_id__in=members).values_list("cell_id", flat=True)
    ) | set(cells)
    legs = Leg.objects.filter(cell_id__in=member_cells)
    others = list(
        Handoff.objects.filter(Q(from_leg__in=legs) | Q(to_leg__in=legs))
        .exclude(pk=handoff.pk)
        .exclude(status=HandoffStatus.DONE)
        .filter(journey__status__in=[JourneyStatus.PLANNING, JourneyStatus.ACTIVE])
        .only("pk", "compartment_id", "phrase_challenge")
    )
    keyring.load({h.compartment_id for h in others})
    return {key_of(h.phrase_challenge) for h in others if keyring.can_open(h.compartment_id)} - {
        None
    }


def redraw_phrases(*, handoff: Handoff, keyring: Keyring) -> None:
    """Give ``handoff`` a fresh phrase pair and save it: the challenge in the
    language of the cell arriving with the traveller, the response in that
    of the cell receiving them (a pickup or arrival has one cell: both in
    its language), the challenge unlike any other live handoff's of the
    members of its cells. Runs in the caller's transaction; the caller audits."""
    arriving, receiving = _cells_of(handoff)
    challenge_language = cell_language(arriving or receiving)
    response_language = cell_language(receiving or arriving)
    handoff.phrase_challenge, handoff.phrase_response = new_phrase_pair(
        challenge_language, response_language, taken=_live_challenges(handoff, keyring)
    )
    handoff.save(update_fields=["phrase_challenge", "phrase_response"])


def _relink_handoffs(journey: Journey, keyring: Keyring) -> None:
    """One handoff on each boundary: before the first leg (pickup), between
    legs, after the last (arrival). Handoff details stay with their boundary."""
    legs = list(journey.legs.order_by("position"))
    handoffs = {h.position: h for h in journey.handoffs.select_related("from_leg", "to_leg")}
    # A handoff's phrases belong to the two cells that meet there: new cells
    # (or a new handoff) get new phrases, in their languages.
    cells_before = {h.pk: _cells_of(h) for h in handoffs.values()}
    journey.handoffs.update(from_leg=None, to_leg=None)
    if not legs:
        for h in handoffs.values():
            _destroy_compartment_of(h)
        return
    redraw = []
    for position in range(len(legs) + 1):
        handoff = handoffs.pop(position, None) or _new_handoff(journey, position, keyring)
        handoff.from_leg = legs[position - 1] if position > 0 else None
        handoff.to_leg = legs[position] if position < len(legs) else None
        handoff.save(update_fields=["from_leg", "to_leg"])
        if cells_before.get(handoff.pk) != _cells_of(handoff) or not handoff.phrase_challenge:
            redraw.append(handoff)
    for h in handoffs.values():
        _destroy_compartment_of(h)
    for handoff in redraw:
        redraw_phrases(handoff=handoff, keyring=keyring)
    _sync_journey_grants(journey, keyring)


def _destroy_compartment_of(record) -> None:
    """Delete a record and every wrapped copy of its compartment's key."""
    compartment_id = record.compartment_id
    record.delete()
    from safepassage.vault.models import Compartment

    Compartment.objects.filter(pk=compartment_id).delete()


# --- journeys ------------------------------------------------------------------------------


def do_create_journey(*, actor, case: Case, title: str) -> Journey:
    roles.require_case_coordinator(actor, case)
    if not title.strip():
        raise ServiceError(_("A journey needs a title."))
    with transaction.atomic():
        journey = Journey(case=case, compartment=case.compartment)
        journey.title = title.strip()
        journey.save()
        if case.status == CaseStatus.INTAKE:
            set_status(case=case, status=CaseStatus.PLANNING)
        add_event(case=case, kind=CaseEventKind.JOURNEY, message="journey_planned", actor=actor)
        audit.record(
            organisation=actor.organisation, actor=actor, verb="journey.create", target=journey
        )
    return journey


def do_start_journey(*, actor, journey: Journey) -> Journey:
    """Open the journey to its cells: every leg not briefed yet is released,
    its cell is given its keys, and the cells can now start their legs."""
    roles.require_case_coordinator(actor, journey.case)
    if journey.status != JourneyStatus.PLANNING:
        raise ServiceError(_("Only a journey being planned can be started."))
    if not journey.legs.exists():
        raise ServiceError(_("Add at least one leg before starting the journey."))
    if journey.legs.filter(cell__isnull=True).exists():
        raise ServiceError(_("Every leg needs a cell before the journey starts."))
    keyring = require()
    now = timezone.now()
    with transaction.atomic():
        journey.status = JourneyStatus.ACTIVE
        journey.save(update_fields=["status"])
        journey.legs.filter(released_at__isnull=True).update(released_at=now)
        _sync_journey_grants(journey, keyring)
        vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
        add_event(
            case=journey.case, kind=CaseEventKind.JOURNEY, message="journey_started", actor=actor
        )
        audit.record(
            organisation=actor.organisation, actor=actor, verb="journey.start", target=journey
        )
    return journey


# --- legs ---------------------------------------------------------------------------------


def do_add_leg(
    *,
    actor,
    journey: Journey,
    cell: Cell | None = None,
    contact=None,
    safe_house=None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    transport: str = TransportKind.CAR,
    route: str = "",
    vehicle: str = "",
    notes: str = "",
) -> Leg:
    """Append a leg; the journey gets a handoff on each side of it."""
    roles.require_case_coordinator(actor, journey.case)
    _require_planning(journey)
    _check_window(window_start, window_end)
    _check_cell(actor, cell)
    _check_contact(actor, contact)
    if transport not in TransportKind.values:
        raise ServiceError(_("Unknown kind of transport."))
    keyring = require()
    with transaction.atomic():
        position = journey.legs.count()
        compartment = vault.create_compartment(
            organisation=actor.organisation, kind=CompartmentKind.LEG, keyring=keyring
        )
        vault.grant_to_parent(
            compartment=compartment, parent=journey.case.compartment, keyring=keyring
        )
        leg = Leg(
            journey=journey,
            position=position,
            cell=cell,
            contact=contact,
            safe_house=safe_house,
            compartment=compartment,
            window_start=window_start,
            window_end=window_end,
        )
        leg.transport = transport
        leg.route = route
        leg.vehicle = vehicle
        leg.notes = notes
        leg.save()
        checkin_hooks.leg_saved(leg=leg)
        # The arrival handoff stays the arrival: it moves past the new leg.
        journey.handoffs.filter(position=position).update(position=position + 1)
        _relink_handoffs(journey, keyring)
        vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
        audit.record(organisation=actor.organisation, actor=actor, verb="leg.add", target=leg)
    return leg


def do_update_leg(
    *,
    actor,
    leg: Leg,
    cell: Cell | None,
    contact=None,
    safe_house=None,
    window_start: datetime | None,
    window_end: datetime | None,
    transport: str,
    route: str,
    vehicle: str,
    notes: str,
) -> Leg:
    roles.require_case_coordinator(actor, leg.journey.case)
    _require_planning(leg.journey)
    _check_window(window_start, window_end)
    _check_cell(actor, cell)
    _check_contact(actor, contact, current_id=leg.contact_id)
    if transport not in TransportKind.values:
        raise ServiceError(_("Unknown kind of transport."))
    if leg.status not in OPEN_LEG_STATUSES and cell != leg.cell:
        raise ServiceError(_("The cell of a finished leg cannot change."))
    keyring = require()
    with transaction.atomic():
        cell_changed = leg.cell_id != (cell.pk if cell else None)
        leg.cell = cell
        leg.contact = contact
        leg.safe_house = safe_house
        leg.window_start = window_start
        leg.window_end = window_end
        leg.transport = transport
        leg.route = route
        leg.vehicle = vehicle
        leg.notes = notes
        leg.save()
        checkin_hooks.leg_saved(leg=leg)
        if cell_changed:
            # The former cell knew the phrases; the new one may speak another language.
            for handoff in Handoff.objects.filter(Q(from_leg=leg) | Q(to_leg=leg)).select_related(
                "from_leg", "to_leg"
            ):
                if handoff.status != HandoffStatus.DONE:
                    redraw_phrases(handoff=handoff, keyring=keyring)
            # A released leg goes to its new cell at once; the old cell's
            # keys are taken back, but what it saw stays in the grant history.
            _sync_leg_and_ends(leg, keyring)
            vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="leg.update",
            target=leg,
            detail={"cell_changed": cell_changed},
        )
    return leg


def do_brief_leg(*, actor, leg: Leg) -> Leg:
    """Release one leg of a journey still being planned to its cell now: its
    members get the keys to the leg and to the handoffs at its two ends, and
    it appears on their field pages (a broker may need days to buy tickets).

    Irreversible as exposure: removing the leg or changing its cell later
    takes the keys back, but the cell has seen it (the grant history keeps it).
    """
    roles.require_case_coordinator(actor, leg.journey.case)
    if leg.journey.status != JourneyStatus.PLANNING:
        raise ServiceError(_("Only a leg of a journey being planned can be briefed early."))
    if leg.cell_id is None:
        raise ServiceError(_("Choose the leg's cell before briefing it."))
    if leg.released_at is not None:
        raise ServiceError(_("This cell has already been briefed."))
    keyring = require()
    with transaction.atomic():
        leg.released_at = timezone.now()
        leg.save(update_fields=["released_at"])
        _sync_leg_and_ends(leg, keyring)
        vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
        audit.record(organisation=actor.organisation, actor=actor, verb="leg.brief", target=leg)
    return leg


def do_move_leg(*, actor, leg: Leg, offset: int) -> None:
    """Move a planned leg one place earlier (-1) or later (+1)."""
    roles.require_case_coordinator(actor, leg.journey.case)
    journey = leg.journey
    if journey.status != JourneyStatus.PLANNING:
        raise ServiceError(_("Legs can be reordered only while the journey is being planned."))
    if offset not in (-1, 1):
        raise ServiceError(_("A leg moves one place at a time."))
    keyring = require()
    with transaction.atomic():
        other = journey.legs.filter(position=leg.position + offset).first()
        if other is None:
            raise ServiceError(_("This leg cannot move further."))
        other.position, leg.position = leg.position, other.position
        other.save(update_fields=["position"])
        leg.save(update_fields=["position"])
        _relink_handoffs(journey, keyring)
        vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
        audit.record(organisation=actor.organisation, actor=actor, verb="leg.move", target=leg)


def do_remove_leg(*, actor, leg: Leg) -> None:
    """Remove a leg while planning; its key is destroyed with it."""
    roles.require_case_coordinator(actor, leg.journey.case)
    journey = leg.journey
    if journey.status != JourneyStatus.PLANNING:
        raise ServiceError(_("Legs can be removed only while the journey is being planned."))
    keyring = require()
    with transaction.atomic():
        position = leg.position
        is_last = not journey.legs.filter(position__gt=position).exists()
        # One of the leg's two handoffs goes with it (the one before it when it
        # is the last leg, so the arrival stays); later boundaries shift down.
        gone = position if is_last else position + 1
        journey.handoffs.update(from_leg=None, to_leg=None)
        end = journey.handoffs.filter(position=gone).first()
        if end is not None:
            _destroy_compartment_of(end)
        _destroy_compartment_of(leg)
        for later in journey.legs.filter(position__gt=position).order_by("position"):
            later.position -= 1
            later.save(update_fields=["position"])
        for later_handoff in journey.handoffs.filter(position__gt=gone).order_by("position"):
            later_handoff.position -= 1
            later_handoff.save(update_fields=["position"])
        _relink_handoffs(journey, keyring)
        vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="leg.remove",
            target=journey,
            detail={"position": position},
        )


# --- handoffs -------------------------------------------------------------------------------


def do_update_handoff(
    *,
    actor,
    handoff: Handoff,
    place: str,
    window_start: datetime | None,
    window_end: datetime | None,
    clothing: str = "",
    vehicle_colour: str = "",
    vehicle_plate: str = "",
    signal: str = "",
    notes: str = "",
    photo: bytes | None = None,
    photo_type: str | None = None,
    remove_photo: bool = False,
) -> Handoff:
    """Set what each side needs to recognise the other. A new photo replaces the old."""
    from django.conf import settings

    roles.require_case_coordinator(actor, handoff.journey.case)
    _require_planning(handoff.journey)
    _check_window(window_start, window_end)
    if photo is not None:
        if photo_type not in MAX_PHOTO_TYPES:
            raise ServiceError(_("The photo must be a JPEG, PNG or WebP image."))
        if len(photo) > settings.VAULT_MAX_PHOTO_BYTES:
            raise ServiceError(_("The photo is too large (5 MB at most)."))
        # Never sealed as uploaded: its metadata (a GPS position) would reach
        # every cell that opens it.
        photo, photo_type = photos.clean_photo(photo)
    with transaction.atomic():
        handoff.place = place
        handoff.window_start = window_start
        handoff.window_end = window_end
        handoff.clothing = clothing
        handoff.vehicle_colour = vehicle_colour
        handoff.vehicle_plate = vehicle_plate
        handoff.signal = signal
        handoff.notes = notes
        if photo is not None:
            handoff.photo = photo
            handoff.photo_type = photo_type
        elif remove_photo:
            handoff.photo = None
            handoff.photo_type = None
        handoff.save()
        audit.record(
            organisation=actor.organisation, actor=actor, verb="handoff.update", target=handoff
        )
    return handoff


# The recognition details of a handoff a coordinator may delete one by one,
# each with the sealed fields it clears (a photo takes its type with it).
HANDOFF_DETAILS: dict[str, tuple[str, ...]] = {
    "place": ("place",),
    "clothing": ("clothing",),
    "vehicle_colour": ("vehicle_colour",),
    "vehicle_plate": ("vehicle_plate",),
    "signal": ("signal",),
    "notes": ("notes",),
    "photo": ("photo", "photo_type"),
}


def do_delete_handoff_detail(*, actor, handoff: Handoff, detail: str) -> Handoff:
    """Delete one recognition detail of ``handoff`` (a key of ``HANDOFF_DETAILS``),
    as removing its photo does, then rotate the handoff's key
    (``vault.rotate_after_deletion``) so that no live key opens the old value.
    Allowed whatever the journey's state: entered by mistake, it should go.
    The audit entry names the detail's kind, not its value."""
    roles.require_case_coordinator(actor, handoff.journey.case)
    fields = HANDOFF_DETAILS.get(detail)
    if fields is None:
        raise ServiceError(_("Unknown handoff detail."))
    keyring = require()
    with transaction.atomic():
        for name in fields:
            setattr(handoff, name, None)
        handoff.save()
        try:
            vault.rotate_after_deletion(compartment_id=handoff.compartment_id, keyring=keyring)
        except Locked as error:
            raise ServiceError(_("Your keys do not open this handoff.")) from error
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="handoff_detail.delete",
            target=handoff,
            detail={"item": "handoff_detail", "detail": detail},
        )
    handoff.refresh_from_db()
    return handoff


def do_clean_stored_photo(*, actor, handoff: Handoff) -> bytes | None:
    """The handoff's photo as ``photos.clean_photo`` stores it; stored back if it was not.

    Photos sealed before uploads were cleaned may still carry their
    metadata. Whoever opens one (a coordinator on the planner, a cell member
    on the field page) holds the handoff's key, so the photo is cleaned and
    sealed again at that first opening, with its audit entry; a photo that
    no longer decodes is removed rather than served as it was. Returns the
    bytes to serve (None: no photo).
    """
    photo = handoff.photo
    if photo is None or photos.is_clean(bytes(photo)):
        return None if photo is None else bytes(photo)
    try:
        cleaned, content_type = photos.clean_photo(bytes(photo))
    except ServiceError:
        cleaned, content_type = None, None
    with transaction.atomic():
        handoff.photo = cleaned
        handoff.photo_type = content_type
        handoff.save(update_fields=["photo", "photo_type"])
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="handoff.photo_cleaned",
            target=handoff,
            detail={"removed": cleaned is None},
        )
    return cleaned


def do_new_phrases(*, actor, handoff: Handoff) -> Handoff:
    """Draw a fresh one-time verification phrase pair (see ``redraw_phrases``)."""
    roles.require_case_coordinator(actor, handoff.journey.case)
    keyring = require()
    with transaction.atomic():
        redraw_phrases(handoff=handoff, keyring=keyring)
        audit.record(
            organisation=actor.organisation, actor=actor, verb="handoff.phrases", target=handoff
        )
    return handoff


# --- field actions (cell members) ----------------------------------------------------------------


def _require_leg_cell_member(actor, leg: Leg) -> None:
    if (
        leg.cell_id is None
        or leg.released_at is None
        or not roles.is_cell_member(actor)
        or not CellMembership.objects.filter(cell_id=leg.cell_id, member=actor).exists()
    ):
        raise ServiceError(_("This leg is not yours."))


def _refuse_frozen(leg: Leg) -> None:
    """A compromise froze the leg: nothing may happen on it until it is released."""
    if leg.status == LegStatus.FROZEN:
        raise ServiceError(_("Stand down: this leg is frozen."))


def _record_leg_action(*, actor, leg: Leg, message: str, verb: str) -> None:
    """A cell's action on its leg: the case timeline entry, sealed in the leg's
    compartment (the cell holds no case key; the case's coordinators hold the
    leg's), and its audit row. Runs in the caller's transaction."""
    add_event(
        case=leg.journey.case,
        kind=CaseEventKind.LEG,
        message=message,
        params={"number": leg.position + 1},
        actor=actor,
        compartment=leg.compartment,
    )
    audit.record(organisation=actor.organisation, actor=actor, verb=verb, target=leg)


def do_mark_leg_started(*, actor, leg: Leg) -> Leg:
    """The cell has the traveller: the leg is under way and its pickup done."""
    _require_leg_cell_member(actor, leg)
    _refuse_frozen(leg)
    if leg.journey.status != JourneyStatus.ACTIVE:
        raise ServiceError(_("This journey has not been started by its coordinators yet."))
    if leg.status != LegStatus.PLANNED:
        raise ServiceError(_("This leg has already been started."))
    now = timezone.now()
    with transaction.atomic():
        leg.status = LegStatus.STARTED
        leg.started_at = now
        leg.save(update_fields=["status", "started_at"])
        checkin_hooks.leg_started(leg=leg, actor=actor, at=now)
        Handoff.objects.filter(to_leg=leg).update(status=HandoffStatus.DONE, done_at=now)
        case = leg.journey.case
        if case.status in (CaseStatus.PLANNING, CaseStatus.IN_TRANSIT, CaseStatus.IN_SAFE_HOUSE):
            set_status(
                case=case,
                status=CaseStatus.IN_SAFE_HOUSE if leg.safe_house_id else CaseStatus.IN_TRANSIT,
            )
        _record_leg_action(
            actor=actor,
            leg=leg,
            message="leg_started",
            verb="leg.start",
        )
    return leg


def do_mark_leg_handed_off(*, actor, leg: Leg) -> Leg:
    """The cell has handed the traveller on. The last leg completes the journey."""
    _require_leg_cell_member(actor, leg)
    _refuse_frozen(leg)
    if leg.status != LegStatus.STARTED:
        raise ServiceError(_("Start this leg before marking it handed off."))
    now = timezone.now()
    with transaction.atomic():
        leg.status = LegStatus.HANDED_OFF
        leg.handed_off_at = now
        leg.save(update_fields=["status", "handed_off_at"])
        checkin_hooks.leg_handed_off(leg=leg, actor=actor, at=now)
        journey = leg.journey
        arrival = Handoff.objects.filter(from_leg=leg, to_leg__isnull=True).first()
        if arrival is not None:
            arrival.status = HandoffStatus.DONE
            arrival.done_at = now
            arrival.save(update_fields=["status", "done_at"])
            journey.status = JourneyStatus.COMPLETED
            journey.save(update_fields=["status"])
            if journey.case.status in (CaseStatus.IN_TRANSIT, CaseStatus.IN_SAFE_HOUSE):
                set_status(case=journey.case, status=CaseStatus.AT_EMBASSY)
        _record_leg_action(
            actor=actor,
            leg=leg,
            message="leg_handed_off",
            verb="leg.handoff",
        )
    return leg
