"""Declaring a compromise and responding to it.

Declaring records what is in the adversary's hands, computes its exposure
(``exposure.exposure_of``) and keeps a sealed snapshot of it, and raises a
critical alert that reaches every coordinator at once (it belongs to no case
or leg, so the escalation ladder starts at its top). Nothing is changed in
the network yet: the coordinator reads the report first.

The response, one action with four steps (each may be left out):

- **freeze**: the legs the exposure touches that are still planned or under
  way become FROZEN, with the pending handoffs at their ends and the
  exposed pending handoffs. Their check-in deadlines are cancelled, their
  field pages say only "Stand down", and the field actions refuse. Each
  frozen leg gets an entry on its case's timeline;
- **notify**: the members of the adjacent cells (those running a leg or
  meeting at a handoff the exposure touches; for a member, their own cells
  too) are told "something needs you in safepassage", through the outbox,
  with nothing else: their leg pages then say "Stand down". Compromised
  members are never told;
- **revoke**: what the subject can still open is taken away, and the keys
  it knew are replaced:

  - a member is removed from the organisation (``members.services.do_remove_member``:
    every grant destroyed, cell memberships ended, account closed);
  - a cell is marked COMPROMISED and each of its members loses every grant
    they hold in every compartment, and their account is disabled (not
    removed) pending review, their sessions ended: the coordinators decide
    afterwards who can be trusted again. Their cell memberships stay on
    record for that review, and disabled members are never granted keys
    again while disabled;
  - a contact is marked COMPROMISED;
  - for a member, cell, contact or handoff, every exposed handoff still to
    come (the handoff itself, for a handoff) gets new verification phrases
    (``journeys.services.redraw_phrases``: the adversary knows the old
    ones), where the acting coordinator holds its key; the others are
    listed for a coordinator of their case. The members of the cells at
    those handoffs (never the compromised ones) get the in-app notification
    "the recognition phrases for one of your handoffs have changed";

  then, for a member, cell or contact, every exposed compartment is rotated:
  those the acting coordinator holds at once (``vault.services.rotate``),
  the others at the next login of someone who holds them (``rotation_due``).
  A copy of an old key (a seized phone's, or what a contact was shown)
  opens nothing sealed after the rotation;
- **burn**: a safe house becomes BURNED; a vehicle or place gets a
  ``BurnedMark``; for a member, cell, contact or handoff, the places and
  vehicles of the exposed handoffs and legs that the acting coordinator can
  read are marked burned too. The planner warns when a leg or handoff reuses
  one.

Whatever the steps, a traveller in the subject's custody when the response
runs (a leg of the compromised cell, of a compromised member's cells or of
the compromised contact that has started and not been handed off) raises a
critical alert on that leg, once, for its case's coordinators: the freeze
tells the cell to stand down, but the traveller is still with it.

The legs that need a new cell are listed on the report; ``do_release_leg``
unfreezes a leg once its coordinators have re-planned it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.alerts.escalation import raise_alert
from safepassage.alerts.models import AlertKind, EscalationLevel
from safepassage.audit import services as audit
from safepassage.cases.models import CaseEventKind
from safepassage.cases.services import add_event
from safepassage.cells.models import Cell, CellMembership, CellStatus
from safepassage.checkins import deadlines
from safepassage.contacts.models import Contact, ContactStatus
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import (
    OPEN_LEG_STATUSES,
    Handoff,
    HandoffStatus,
    Leg,
    LegStatus,
)
from safepassage.members.models import Member, MemberStatus
from safepassage.notifications.models import Topic
from safepassage.notifications.outbox import notify, notify_topic
from safepassage.safehouses.models import SafeHouse, SafeHouseStatus
from safepassage.vault import services as vault
from safepassage.vault.keyring import Keyring, require
from safepassage.vault.models import Compartment, CompartmentGrant, HolderKind, PendingGrant

from .exposure import (
    ID_KINDS,
    TEXT_KINDS,
    Subject,
    SubjectKind,
    UnknownSubject,
    exposure_of,
    normalise,
)
from .models import BurnedKind, BurnedMark, Compromise, CompromiseStatus, Reason
from .selectors import Snapshot, burned_texts, readable_text, response_of, snapshot_of

MAX_NOTES = 4000
MAX_TEXT = 200
# A clock a little ahead of the server's is not a declaration from the future.
CLOCK_SKEW = timedelta(minutes=5)
# Kinds whose keys (or what they were told) are in the adversary's hands:
# the response rotates every compartment they expose.
ROTATED_KINDS = {SubjectKind.MEMBER, SubjectKind.CELL, SubjectKind.CONTACT}


# --- declaring ------------------------------------------------------------------------------


def _check_declaration(actor, subject: Subject, reason: str, occurred_at, notes: str) -> None:
    if subject.kind not in SubjectKind.values:
        raise ServiceError(_("Choose what was compromised."))
    if subject.kind in ID_KINDS and subject.id is None:
        raise ServiceError(_("Choose which one was compromised."))
    if subject.kind in TEXT_KINDS:
        if not subject.text.strip():
            raise ServiceError(_("Describe the vehicle or place that was compromised."))
        if len(subject.text) > MAX_TEXT:
            raise ServiceError(_("The description is too long."))
    if subject.kind == SubjectKind.MEMBER and subject.id == actor.pk:
        raise ServiceError(
            _("You cannot declare yourself compromised: ask another coordinator to do it.")
        )
    if reason not in Reason.values:
        raise ServiceError(_("Choose a reason."))
    if occurred_at is not None and occurred_at > timezone.now() + CLOCK_SKEW:
        raise ServiceError(_("The time it happened cannot be in the future."))
    if len(notes) > MAX_NOTES:
        raise ServiceError(_("The notes are too long."))


def do_declare_compromise(
    *,
    actor,
    subject: Subject,
    reason: str,
    occurred_at: datetime | None = None,
    notes: str = "",
) -> Compromise:
    """Record that ``subject`` is compromised, with its exposure, and alert
    every coordinator. Changes nothing in the network (see the response)."""
    roles.require_coordinator(actor)
    _check_declaration(actor, subject, reason, occurred_at, notes)
    keyring = require()
    now = timezone.now()
    with transaction.atomic():
        try:
            exposure = exposure_of(
                organisation=actor.organisation, subject=subject, keyring=keyring
            )
        except UnknownSubject:
            raise ServiceError(_("That does not exist in your organisation.")) from None
        snapshot = Snapshot.of(exposure)
        compromise = Compromise(
            organisation=actor.organisation,
            subject_kind=subject.kind,
            subject_id=subject.id if subject.kind in ID_KINDS else None,
            reason=reason,
            occurred_at=occurred_at or now,
            declared_at=now,
            declared_by=actor,
        )
        if subject.kind in TEXT_KINDS:
            compromise.subject_text = subject.text.strip()
        compromise.notes = notes.strip()
        compromise.exposure = snapshot.to_json()
        compromise.alert = _raise_alert(actor, now)
        compromise.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="compromise.declare",
            target=compromise,
            detail={
                "kind": subject.kind,
                "reason": reason,
                "legs": len(snapshot.leg_ids),
                "handoffs": len(snapshot.handoff_ids),
                "travellers": len(snapshot.traveller_ids),
                "open_legs": len(snapshot.open_leg_ids),
            },
        )
    return compromise


def _raise_alert(actor, now: datetime):
    """A critical alert with no case or leg: it reaches every coordinator at
    once, says nothing but its kind, and the compromise links to it."""
    return raise_alert(
        organisation_id=actor.organisation_id,
        kind=AlertKind.COMPROMISE,
        now=now,
        raised_by=actor,
    )


# --- responding -----------------------------------------------------------------------------


@dataclass
class Steps:
    freeze: bool = True
    notify: bool = True
    revoke: bool = True
    burn: bool = True

    def names(self) -> list[str]:
        return [name for name in ("freeze", "notify", "revoke", "burn") if getattr(self, name)]


def _require_own(actor, compromise: Compromise) -> None:
    roles.require_coordinator(actor)
    if compromise.organisation_id != actor.organisation_id:
        raise ServiceError(_("That compromise does not exist."))


def do_respond_to_compromise(
    *,
    actor,
    compromise: Compromise,
    freeze: bool = True,
    notify: bool = True,
    revoke: bool = True,
    burn: bool = True,
) -> Compromise:
    """Act on a declared compromise (see the module docstring for each step).

    May run again (for a step left out the first time): frozen legs stay
    frozen, members already told are not told twice. Returns the compromise
    with ``response`` holding what was done (ids and counts).
    """
    _require_own(actor, compromise)
    if compromise.status != CompromiseStatus.OPEN:
        raise ServiceError(_("This compromise is closed."))
    steps = Steps(freeze=freeze, notify=notify, revoke=revoke, burn=burn)
    if not steps.names():
        raise ServiceError(_("Choose at least one step of the response."))
    keyring = require()
    now = timezone.now()
    with transaction.atomic():
        snapshot = snapshot_of(compromise)
        done = _Done.load(response_of(compromise))
        # Before the freeze changes their status.
        custody = _custody_legs(actor, compromise)
        if steps.freeze:
            _freeze(actor, keyring, snapshot, done)
        if steps.notify:
            _notify(actor, compromise, snapshot, now, done)
        if steps.revoke:
            _revoke(actor, keyring, compromise, snapshot, done)
        if steps.burn:
            _burn(actor, keyring, compromise, snapshot, done)
        _raise_custody_alerts(actor, custody, now, done)
        compromise.response = done.to_json()
        compromise.responded_at = now
        compromise.responded_by = actor
        compromise.save(update_fields=["response", "responded_at", "responded_by"])
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="compromise.respond",
            target=compromise,
            detail={"steps": steps.names(), **done.counts()},
        )
    return compromise


def do_declare_and_respond(
    *,
    actor,
    subject: Subject,
    reason: str,
    occurred_at: datetime | None = None,
    notes: str = "",
) -> Compromise:
    """Declare and respond with every step, in one transaction."""
    with transaction.atomic():
        compromise = do_declare_compromise(
            actor=actor, subject=subject, reason=reason, occurred_at=occurred_at, notes=notes
        )
        return do_respond_to_compromise(actor=actor, compromise=compromise)


@dataclass
class _Done:
    """What the responses to one compromise did, accumulated (ids as strings)."""

    frozen_leg_ids: set[str]
    frozen_handoff_ids: set[str]
    notified_cell_ids: set[str]
    notified_member_ids: set[str]
    revoked_member_ids: set[str]
    disabled_member_ids: set[str]
    rotated_compartment_ids: set[str]
    rotation_due_ids: set[str]
    burned_mark_ids: set[str]
    new_phrase_handoff_ids: set[str]
    phrases_due_handoff_ids: set[str]
    phrase_notified_member_ids: set[str]
    custody_alert_leg_ids: set[str]
    subject_status: str

    SETS = (
        "frozen_leg_ids",
        "frozen_handoff_ids",
        "notified_cell_ids",
        "notified_member_ids",
        "revoked_member_ids",
        "disabled_member_ids",
        "rotated_compartment_ids",
        "rotation_due_ids",
        "burned_mark_ids",
        "new_phrase_handoff_ids",
        "phrases_due_handoff_ids",
        "phrase_notified_member_ids",
        "custody_alert_leg_ids",
    )

    @classmethod
    def load(cls, data: dict) -> _Done:
        return cls(
            **{name: set(data.get(name, [])) for name in cls.SETS},
            subject_status=str(data.get("subject_status", "")),
        )

    def to_json(self) -> dict:
        data: dict = {name: sorted(getattr(self, name)) for name in self.SETS}
        data["subject_status"] = self.subject_status
        return data

    def counts(self) -> dict[str, int]:
        return {name.removesuffix("_ids"): len(getattr(self, name)) for name in self.SETS}


def _timeline_compartment(actor, keyring: Keyring, case):
    """The case's compartment when the actor holds it, else the coordinators'
    (every coordinator of the case holds both): the entry must be written
    whoever responds, and it says nothing beyond the leg's number."""
    if keyring.can_open(case.compartment_id):
        return case.compartment
    return actor.organisation.coordinators_compartment


def _freeze(actor, keyring: Keyring, snapshot: Snapshot, done: _Done) -> None:
    legs = list(
        Leg.objects.filter(
            pk__in=list(snapshot.open_leg_ids),
            status__in=list(OPEN_LEG_STATUSES),
            journey__case__organisation=actor.organisation,
        ).select_related("journey__case", "compartment")
    )
    for leg in legs:
        leg.status = LegStatus.FROZEN
        leg.save(update_fields=["status"])
        # A frozen leg expects no check-in: its deadlines are cancelled.
        deadlines.sync(leg)
        case = leg.journey.case
        add_event(
            case=case,
            kind=CaseEventKind.LEG,
            message="leg_frozen",
            params={"number": leg.position + 1},
            actor=actor,
            compartment=_timeline_compartment(actor, keyring, case),
        )
        done.frozen_leg_ids.add(str(leg.pk))
    frozen = [uuid.UUID(i) for i in done.frozen_leg_ids]
    handoffs = Handoff.objects.filter(
        Q(from_leg_id__in=frozen) | Q(to_leg_id__in=frozen) | Q(pk__in=list(snapshot.handoff_ids)),
        status=HandoffStatus.PENDING,
        journey__case__organisation=actor.organisation,
        journey__status__in=["planning", "active"],
    )
    ids = list(handoffs.values_list("pk", flat=True))
    Handoff.objects.filter(pk__in=ids).update(status=HandoffStatus.FROZEN)
    done.frozen_handoff_ids |= {str(i) for i in ids}


def _notify(actor, compromise: Compromise, snapshot: Snapshot, now: datetime, done: _Done) -> None:
    """Tell the affected cells' members that something needs them: nothing else.

    The affected cells are the adjacent ones and, for a member, the member's
    own cells (their colleagues' legs are frozen too); never the compromised
    members themselves (a compromised cell's members are among those)."""
    cells = set(snapshot.adjacent_cell_ids)
    if compromise.subject_kind == SubjectKind.MEMBER:
        cells |= snapshot.cell_ids
    # A cell none of whose legs has been released to it knows nothing of
    # these journeys yet: telling it would be the first it hears of them.
    cells &= set(
        Leg.objects.filter(
            Q(journey_id__in=list(snapshot.active_journey_ids))
            | Q(pk__in=list(snapshot.leg_ids | snapshot.open_leg_ids)),
            cell_id__in=list(cells),
            released_at__isnull=False,
        ).values_list("cell_id", flat=True)
    )
    members = (
        set(
            CellMembership.objects.filter(
                cell_id__in=list(cells),
                cell__organisation=actor.organisation,
                member__status=MemberStatus.ACTIVE,
                member__is_active=True,
            ).values_list("member_id", flat=True)
        )
        - snapshot.member_ids
    )
    if compromise.alert is None:
        compromise.alert = _raise_alert(actor, now)
        compromise.save(update_fields=["alert"])
    notify(alert=compromise.alert, member_ids=members, level=EscalationLevel.CELL_LEAD, now=now)
    done.notified_cell_ids |= {str(i) for i in cells}
    done.notified_member_ids |= {str(i) for i in members}


def _revoke_every_grant(member: Member) -> None:
    """Destroy every copy of every key ``member`` holds (each compartment is
    marked for rotation) and every grant waiting for them."""
    held = CompartmentGrant.objects.filter(member=member, holder_kind=HolderKind.MEMBER)
    for compartment in Compartment.objects.filter(pk__in=held.values("compartment_id")):
        vault.revoke_member(compartment=compartment, member=member)
    PendingGrant.objects.filter(member=member).delete()


def _revoke(
    actor, keyring: Keyring, compromise: Compromise, snapshot: Snapshot, done: _Done
) -> None:
    from safepassage.members.services import do_remove_member, end_sessions

    kind = compromise.subject_kind
    org = actor.organisation
    subject_id = compromise.subject_id or uuid.UUID(int=0)
    exposed: list[uuid.UUID] = []
    before: dict[uuid.UUID, int] = {}
    if kind in ROTATED_KINDS:
        # Every exposed key is replaced, not only those the subject held
        # directly: a case key opens its legs' keys too.
        exposed = list(
            Compartment.objects.filter(
                pk__in=list(snapshot.compartment_ids), organisation=org
            ).values_list("pk", flat=True)
        )
        before = dict(
            Compartment.objects.filter(pk__in=exposed).values_list("pk", "current_version")
        )
        Compartment.objects.filter(pk__in=exposed).update(rotation_due=True)
    if kind == SubjectKind.MEMBER:
        member = Member.objects.filter(pk=subject_id, organisation=org).first()
        if member is not None and member.status != MemberStatus.REMOVED:
            # Removal destroys the member's grants and rotates what is due.
            do_remove_member(actor=actor, member=member)
            done.revoked_member_ids.add(str(member.pk))
            done.subject_status = MemberStatus.REMOVED
    elif kind == SubjectKind.CELL:
        cell = Cell.objects.filter(pk=subject_id, organisation=org).first()
        if cell is not None:
            Cell.objects.filter(pk=cell.pk).update(status=CellStatus.COMPROMISED)
            done.subject_status = CellStatus.COMPROMISED
            for member in Member.objects.filter(cell_memberships__cell=cell).exclude(pk=actor.pk):
                _revoke_every_grant(member)
                member.is_active = False
                member.save(update_fields=["is_active"])
                done.revoked_member_ids.add(str(member.pk))
                done.disabled_member_ids.add(str(member.pk))
            # Their sessions (with the key material sealed in them) end now.
            # Their duress password still opens its decoy account and raises
            # the duress alert: a tripwire while they are under review.
            end_sessions(uuid.UUID(i) for i in done.disabled_member_ids)
    elif kind == SubjectKind.CONTACT:
        Contact.objects.filter(pk=subject_id, organisation=org).update(
            status=ContactStatus.COMPROMISED
        )
        done.subject_status = ContactStatus.COMPROMISED
    if kind in ROTATED_KINDS or kind == SubjectKind.HANDOFF:
        _new_phrases(actor, keyring, compromise, snapshot, done)
    if exposed:
        _rotate(actor, keyring, before, done)


def _new_phrases(
    actor, keyring: Keyring, compromise: Compromise, snapshot: Snapshot, done: _Done
) -> None:
    """Redraw the phrases of every exposed handoff still to come (and of the
    compromised handoff itself), then tell the members of the cells at them.

    Runs after the subject's members are removed or disabled, so none of
    them is told and their other handoffs no longer count for uniqueness;
    and before the rotation, which re-seals the new phrases with the rest."""
    from safepassage.journeys.models import JourneyStatus
    from safepassage.journeys.services import redraw_phrases

    org = actor.organisation
    live = Q(
        pk__in=list(snapshot.handoff_ids),
        journey__status__in=[JourneyStatus.PLANNING, JourneyStatus.ACTIVE],
    ) & ~Q(status=HandoffStatus.DONE)
    if compromise.subject_kind == SubjectKind.HANDOFF and compromise.subject_id is not None:
        live |= Q(pk=compromise.subject_id)
    handoffs = list(
        Handoff.objects.filter(live, journey__case__organisation=org)
        .select_related("from_leg", "to_leg")
        .defer("photo")
        .order_by("journey_id", "position")
    )
    keyring.load({h.compartment_id for h in handoffs})
    cells: set[uuid.UUID] = set()
    for handoff in handoffs:
        if not keyring.can_open(handoff.compartment_id):
            # Only a holder of its key can seal new phrases: a coordinator of its case.
            done.phrases_due_handoff_ids.add(str(handoff.pk))
            continue
        redraw_phrases(handoff=handoff, keyring=keyring)
        done.new_phrase_handoff_ids.add(str(handoff.pk))
        done.phrases_due_handoff_ids.discard(str(handoff.pk))
        cells |= {leg.cell_id for leg in (handoff.from_leg, handoff.to_leg) if leg and leg.cell_id}
    members = (
        set(
            CellMembership.objects.filter(
                cell_id__in=list(cells),
                cell__organisation=org,
                member__status=MemberStatus.ACTIVE,
                member__is_active=True,
            ).values_list("member_id", flat=True)
        )
        - snapshot.member_ids
    )
    told = notify_topic(
        organisation_id=org.pk,
        member_ids=members,
        topic=Topic.PHRASES_CHANGED,
        now=timezone.now(),
    )
    done.phrase_notified_member_ids |= {str(m) for m in told}


def _custody_legs(actor, compromise: Compromise) -> list[Leg]:
    """The legs a traveller is on now (started, not handed off) that the
    compromised cell runs, or a compromised member's cells, or the
    compromised contact."""
    kind = compromise.subject_kind
    subject_id = compromise.subject_id
    if subject_id is None:
        return []
    if kind == SubjectKind.CELL:
        whose = Q(cell_id=subject_id)
    elif kind == SubjectKind.MEMBER:
        whose = Q(
            cell_id__in=list(
                CellMembership.objects.filter(member_id=subject_id).values_list(
                    "cell_id", flat=True
                )
            )
        )
    elif kind == SubjectKind.CONTACT:
        whose = Q(contact_id=subject_id)
    else:
        return []
    return list(
        Leg.objects.filter(
            whose,
            journey__case__organisation=actor.organisation,
            status__in=[LegStatus.STARTED, LegStatus.FROZEN],
            started_at__isnull=False,
            handed_off_at__isnull=True,
        ).select_related("journey")
    )


def _raise_custody_alerts(actor, legs: list[Leg], now: datetime, done: _Done) -> None:
    """A critical alert on each leg whose traveller is in the subject's
    custody, once per leg however often the response runs."""
    for leg in legs:
        if str(leg.pk) in done.custody_alert_leg_ids:
            continue
        raise_alert(
            organisation_id=actor.organisation_id,
            kind=AlertKind.CUSTODY_COMPROMISED,
            now=now,
            leg=leg,
            raised_by=actor,
        )
        done.custody_alert_leg_ids.add(str(leg.pk))


def _rotate(actor, keyring: Keyring, before: dict[uuid.UUID, int], done: _Done) -> None:
    """Rotate every compartment marked due that the actor holds now (the
    exposed ones among them); the others stay due, for the next login of one
    of their holders. ``before`` is the exposed compartments' versions
    before the response, to tell which were replaced."""
    vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
    now = dict(Compartment.objects.filter(pk__in=list(before)).values_list("pk", "current_version"))
    rotated = {str(c) for c, version in now.items() if version > before[c]}
    done.rotated_compartment_ids |= rotated
    still_due = Compartment.objects.filter(pk__in=list(before), rotation_due=True)
    done.rotation_due_ids = (
        done.rotation_due_ids | {str(c) for c in still_due.values_list("pk", flat=True)}
    ) - done.rotated_compartment_ids


def _burn(actor, keyring: Keyring, compromise: Compromise, snapshot: Snapshot, done: _Done) -> None:
    kind = compromise.subject_kind
    org = actor.organisation
    subject_id = compromise.subject_id or uuid.UUID(int=0)
    existing = burned_texts(org, keyring)
    wanted: list[tuple[str, str]] = []
    if kind == SubjectKind.SAFE_HOUSE:
        SafeHouse.objects.filter(pk=subject_id, organisation=org).update(
            status=SafeHouseStatus.BURNED
        )
        done.subject_status = SafeHouseStatus.BURNED
    elif kind in TEXT_KINDS:
        wanted.append((BurnedKind(kind), readable_text(compromise, "subject_text")))
    else:
        # What the subject knew: the places and vehicles of the exposed
        # handoffs and legs (those the actor's keys open).
        handoffs = list(
            Handoff.objects.filter(
                pk__in=list(snapshot.handoff_ids), journey__case__organisation=org
            ).defer("photo")
        )
        legs = list(
            Leg.objects.filter(pk__in=list(snapshot.leg_ids), journey__case__organisation=org)
        )
        keyring.load({h.compartment_id for h in handoffs} | {leg.compartment_id for leg in legs})
        for h in handoffs:
            if keyring.can_open(h.compartment_id):
                wanted.append((BurnedKind.PLACE, readable_text(h, "place")))
                wanted.append((BurnedKind.VEHICLE, readable_text(h, "vehicle_plate")))
        for leg in legs:
            if keyring.can_open(leg.compartment_id):
                wanted.append((BurnedKind.VEHICLE, readable_text(leg, "vehicle")))
    for mark_kind, text in wanted:
        key = normalise(text)
        if not key or key in existing[mark_kind]:
            continue
        mark = BurnedMark(organisation=org, kind=mark_kind, compromise=compromise, marked_by=actor)
        mark.text = text.strip()
        mark.save()
        existing[mark_kind].append(key)
        done.burned_mark_ids.add(str(mark.pk))


# --- after the response -----------------------------------------------------------------------


def do_release_leg(*, actor, leg: Leg) -> Leg:
    """Unfreeze a leg: back to planned (or started, if the traveller was
    already on it), with its frozen handoffs pending again where no frozen
    leg still touches them. Its cell's members get its keys again if they
    lack them (disabled and removed members never do).

    A frozen leg's cell cannot be changed in the planner; release it first,
    then give it a new cell (a released leg of a compromised cell reaches
    nobody: that cell's members are disabled or removed)."""
    from safepassage.journeys.services import sync_handoff_grants, sync_leg_grants

    roles.require_case_coordinator(actor, leg.journey.case)
    if leg.status != LegStatus.FROZEN:
        raise ServiceError(_("This leg is not frozen."))
    keyring = require()
    with transaction.atomic():
        leg.status = LegStatus.STARTED if leg.started_at else LegStatus.PLANNED
        leg.save(update_fields=["status"])
        deadlines.sync(leg)
        ends = Handoff.objects.filter(
            Q(from_leg=leg) | Q(to_leg=leg), status=HandoffStatus.FROZEN
        ).select_related("from_leg", "to_leg")
        for handoff in ends:
            others = [
                x for x in (handoff.from_leg, handoff.to_leg) if x is not None and x.pk != leg.pk
            ]
            if any(other.status == LegStatus.FROZEN for other in others):
                continue
            handoff.status = HandoffStatus.PENDING
            handoff.save(update_fields=["status"])
            sync_handoff_grants(handoff=handoff, keyring=keyring)
        sync_leg_grants(leg=leg, keyring=keyring)
        case = leg.journey.case
        add_event(
            case=case,
            kind=CaseEventKind.LEG,
            message="leg_released",
            params={"number": leg.position + 1},
            actor=actor,
            compartment=_timeline_compartment(actor, keyring, case),
        )
        audit.record(
            organisation=actor.organisation, actor=actor, verb="compromise.release", target=leg
        )
    return leg


def do_close_compromise(*, actor, compromise: Compromise) -> Compromise:
    """The coordinators have dealt with it: it leaves the open count."""
    _require_own(actor, compromise)
    if compromise.status == CompromiseStatus.CLOSED:
        raise ServiceError(_("This compromise is already closed."))
    with transaction.atomic():
        compromise.status = CompromiseStatus.CLOSED
        compromise.closed_at = timezone.now()
        compromise.save(update_fields=["status", "closed_at"])
        audit.record(
            organisation=actor.organisation, actor=actor, verb="compromise.close", target=compromise
        )
    return compromise
