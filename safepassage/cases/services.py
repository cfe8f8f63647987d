"""Cases: opening, travellers, status, notes, and who coordinates them."""

from __future__ import annotations

from typing import cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.core.validation import clean_birth_year, clean_phone
from safepassage.vault import services as vault
from safepassage.vault.keyring import Locked, require
from safepassage.vault.models import CompartmentKind

from . import timeline
from .models import (
    CASE_TRANSITIONS,
    Case,
    CaseCoordinator,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Traveller,
)


def add_event(
    *,
    case: Case,
    kind: str,
    message: str,
    params: dict | None = None,
    actor=None,
    compartment=None,
) -> CaseEvent:
    """A timeline entry: sentence ``message`` of ``cases.timeline.MESSAGES`` with
    ``params``, stored as such (not as a sentence) so that each reader reads it
    in their own language. Sealed in the case's compartment unless another is
    given (a cell member's leg update is sealed in the leg's compartment, which
    the case's coordinators also hold)."""
    event = CaseEvent(
        case=case, compartment=compartment or case.compartment, kind=kind, actor=actor
    )
    event.message = timeline.sealed(message, **(params or {}))
    event.save()
    return event


def do_open_case(
    *,
    actor,
    codename: str,
    needs: str = "",
    consent: dict | None = None,
    summary: str = "",
    coordinators: list | None = None,
) -> Case:
    """Open a case with its own compartment, held by ``actor`` and ``coordinators``."""
    roles.require_coordinator(actor)
    if not codename.strip():
        raise ServiceError(_("A case needs a code name."))
    others = [m for m in (coordinators or []) if m.pk != actor.pk]
    for member in others:
        if member.organisation_id != actor.organisation_id or not roles.is_coordinator(member):
            raise ServiceError(_("Only coordinators of this organisation can coordinate a case."))
    keyring = require()
    with transaction.atomic():
        compartment = vault.create_compartment(
            organisation=actor.organisation, kind=CompartmentKind.CASE, keyring=keyring
        )
        case = Case(organisation=actor.organisation, compartment=compartment)
        case.codename = codename.strip()
        case.needs = needs
        case.consent = consent or {"given": False}
        case.summary = summary
        case.save()
        for member in [actor, *others]:
            CaseCoordinator.objects.create(case=case, member=member)
            vault.grant_to_member(compartment=compartment, member=member, keyring=keyring)
        add_event(case=case, kind=CaseEventKind.OPENED, message="case_opened", actor=actor)
        audit.record(organisation=actor.organisation, actor=actor, verb="case.open", target=case)
    return case


def do_update_case(
    *, actor, case: Case, codename: str, needs: str, consent: dict, summary: str
) -> Case:
    roles.require_case_coordinator(actor, case)
    with transaction.atomic():
        case.codename = codename.strip()
        case.needs = needs
        case.consent = consent
        case.summary = summary
        case.save()
        audit.record(organisation=actor.organisation, actor=actor, verb="case.update", target=case)
    return case


def do_add_case_coordinator(*, actor, case: Case, member) -> None:
    roles.require_case_coordinator(actor, case)
    if member.organisation_id != actor.organisation_id or not roles.is_coordinator(member):
        raise ServiceError(_("Only coordinators of this organisation can coordinate a case."))
    with transaction.atomic():
        CaseCoordinator.objects.get_or_create(case=case, member=member)
        vault.grant_to_member(compartment=case.compartment, member=member, keyring=require())
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="case.add_coordinator",
            target=case,
            detail={"member": str(member.pk)},
        )


def do_add_traveller(
    *,
    actor,
    case: Case,
    name: str,
    alias: str = "",
    birth_year: str = "",
    phone: str = "",
    description: str = "",
    needs: str = "",
) -> Traveller:
    roles.require_case_coordinator(actor, case)
    if not name.strip():
        raise ServiceError(_("A traveller needs a name."))
    birth_year, phone = clean_birth_year(birth_year), clean_phone(phone)
    with transaction.atomic():
        traveller = Traveller(case=case, compartment=case.compartment)
        traveller.name = name.strip()
        traveller.alias = alias
        traveller.birth_year = birth_year
        traveller.phone = phone
        traveller.description = description
        traveller.needs = needs
        traveller.save()
        add_event(
            case=case,
            kind=CaseEventKind.TRAVELLER,
            message="traveller_added",
            # The traveller's id lets a deletion find the entries that name them.
            params={"name": traveller.name, "traveller": str(traveller.pk)},
            actor=actor,
        )
        audit.record(
            organisation=actor.organisation, actor=actor, verb="traveller.add", target=traveller
        )
    return traveller


def do_update_traveller(
    *,
    actor,
    traveller: Traveller,
    name: str,
    alias: str,
    birth_year: str,
    phone: str,
    description: str,
    needs: str,
) -> Traveller:
    roles.require_case_coordinator(actor, traveller.case)
    if not name.strip():
        raise ServiceError(_("A traveller needs a name."))
    birth_year, phone = clean_birth_year(birth_year), clean_phone(phone)
    with transaction.atomic():
        traveller.name = name.strip()
        traveller.alias = alias
        traveller.birth_year = birth_year
        traveller.phone = phone
        traveller.description = description
        traveller.needs = needs
        traveller.save()
        audit.record(
            organisation=actor.organisation, actor=actor, verb="traveller.update", target=traveller
        )
    return traveller


def set_status(*, case: Case, status: str) -> None:
    """Move the case to ``status`` (no permission check: callers decide)."""
    now = timezone.now()
    case.status = status
    case.status_changed_at = now
    if status == CaseStatus.CLOSED:
        case.closed_at = now
    case.save(update_fields=["status", "status_changed_at", "closed_at"])


def do_change_case_status(*, actor, case: Case, status: str, note: str = "") -> Case:
    roles.require_case_coordinator(actor, case)
    if status not in CaseStatus.values:
        raise ServiceError(_("Unknown status."))
    if status not in CASE_TRANSITIONS[case.status]:
        raise ServiceError(
            _("A case that is %(current)s cannot become %(new)s.")
            % {"current": case.get_status_display(), "new": CaseStatus(status).label}
        )
    with transaction.atomic():
        previous = case.status
        set_status(case=case, status=status)
        add_event(
            case=case,
            kind=CaseEventKind.STATUS,
            message="status_changed",
            params={"old": previous, "new": status, "note": note},
            actor=actor,
        )
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="case.status",
            target=case,
            detail={"status": status},
        )
    return case


def do_add_case_note(*, actor, case: Case, text: str) -> CaseEvent:
    roles.require_case_coordinator(actor, case)
    if not text.strip():
        raise ServiceError(_("A note cannot be empty."))
    with transaction.atomic():
        event = add_event(
            case=case,
            kind=CaseEventKind.NOTE,
            message="note",
            params={"text": text.strip()},
            actor=actor,
        )
        audit.record(organisation=actor.organisation, actor=actor, verb="case.note", target=event)
    return event


def _shred_in(compartment_id, keyring) -> None:
    """Rotate the compartment an item was just deleted from (``vault.rotate_after_deletion``)."""
    try:
        vault.rotate_after_deletion(compartment_id=compartment_id, keyring=keyring)
    except Locked as error:
        raise ServiceError(_("Your keys do not open this case.")) from error


def _entries_naming(traveller: Traveller) -> list[CaseEvent]:
    """The timeline entries that record adding ``traveller``: those written with
    the traveller's id, and older ones whose sentence names them."""
    found = []
    for event in traveller.case.events.filter(kind=CaseEventKind.TRAVELLER):
        message = cast(dict | None, event.message)
        if message:
            if (message.get("params") or {}).get("traveller") == str(traveller.pk):
                found.append(event)
        elif traveller.name and traveller.name in (event.text or ""):
            found.append(event)
    return found


def do_delete_traveller(*, actor, traveller: Traveller) -> None:
    """Delete a traveller entered by mistake, with their links and the timeline
    entry that names them, then rotate the case's key (``_shred_in``). The audit
    entry says a traveller was deleted, not who."""
    case = traveller.case
    roles.require_case_coordinator(actor, case)
    keyring = require()
    with transaction.atomic():
        naming = _entries_naming(traveller)
        links = traveller.links.count()
        CaseEvent.objects.filter(pk__in=[e.pk for e in naming]).delete()
        traveller.delete()
        _shred_in(case.compartment_id, keyring)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="traveller.delete",
            target=case,
            detail={"item": "traveller", "links": links, "timeline_entries": len(naming)},
        )


def do_delete_note(*, actor, note: CaseEvent) -> None:
    """Delete a note of the case timeline, then rotate the case's key. The
    audit entry says a note was deleted, not what it said."""
    case = note.case
    roles.require_case_coordinator(actor, case)
    if note.kind != CaseEventKind.NOTE:
        raise ServiceError(_("Only notes can be deleted from the timeline."))
    keyring = require()
    with transaction.atomic():
        compartment_id = note.compartment_id
        note.delete()
        _shred_in(compartment_id, keyring)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="case_note.delete",
            target=case,
            detail={"item": "note"},
        )


def do_purge_case(*, actor, case: Case):
    """Purge ``case`` now (crypto-shredding, ``retention.purge_case``): its
    coordinators only, whatever its status. Returns the ``PurgeReport``."""
    from .retention import purge_case

    roles.require_case_coordinator(actor, case)
    with transaction.atomic():
        locked = (
            Case.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .filter(pk=case.pk)
            .first()
        )
        if locked is None:
            raise ServiceError(_("This case has been purged already."))
        return purge_case(case=locked, actor=actor)
