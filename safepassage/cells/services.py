"""Cells: creation, profile, and who is in them (which decides who holds leg keys)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.roles import Role
from safepassage.vault.keyring import require

from .models import Cell, CellMembership, CellStatus


def do_create_cell(*, actor, codename: str, specialty: str = "", notes: str = "") -> Cell:
    roles.require_coordinator(actor)
    if not codename.strip():
        raise ServiceError(_("A cell needs a code name."))
    with transaction.atomic():
        cell = Cell(organisation=actor.organisation)
        cell.codename = codename.strip()
        cell.specialty = specialty
        cell.notes = notes
        cell.save()
        audit.record(organisation=actor.organisation, actor=actor, verb="cell.create", target=cell)
    return cell


def do_update_cell(
    *, actor, cell: Cell, codename: str, specialty: str, notes: str, status: str
) -> Cell:
    roles.require_coordinator(actor)
    if status not in CellStatus.values:
        raise ServiceError(_("Unknown status."))
    with transaction.atomic():
        cell.codename = codename.strip()
        cell.specialty = specialty
        cell.notes = notes
        cell.status = status
        cell.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="cell.update",
            target=cell,
            detail={"status": status},
        )
    return cell


def _set_lead(*, cell: Cell, membership: CellMembership, is_lead: bool) -> CellMembership:
    """Make ``membership`` the cell's only lead, or end its lead role. Runs in
    the caller's transaction.

    A cell has at most one lead: the escalation ladder alerts "the cell's lead"
    first, so a new lead replaces the previous one. The cell row is locked
    first so that two coordinators choosing a lead at the same moment queue
    instead of leaving two leads.
    """
    Cell.objects.select_for_update().only("id").get(pk=cell.pk)
    if is_lead:
        cell.memberships.filter(is_lead=True).exclude(pk=membership.pk).update(is_lead=False)
    CellMembership.objects.filter(pk=membership.pk).update(is_lead=is_lead)
    membership.is_lead = is_lead
    return membership


def add_member_to_cell_keys(*, actor, member, cell: Cell, is_lead: bool) -> CellMembership:
    """Record the membership and wrap the cell's open leg and handoff keys to the
    member (deferred where the actor cannot open them). With ``is_lead`` the
    member also becomes the cell's only lead. Runs in the caller's transaction."""
    from safepassage.journeys.services import sync_cell_grants

    membership, _created = CellMembership.objects.get_or_create(cell=cell, member=member)
    if is_lead:
        _set_lead(cell=cell, membership=membership, is_lead=True)
    sync_cell_grants(cell=cell, keyring=require())
    return membership


def do_add_member_to_cell(*, actor, member, cell: Cell, is_lead: bool = False) -> CellMembership:
    """Add ``member`` to ``cell``. With ``is_lead`` they become the cell's only
    lead, also when they are in the cell already; without it an existing
    member keeps their role (ending a lead role is ``do_set_cell_lead``'s job)."""
    roles.require_coordinator(actor)
    if (
        member.organisation_id != actor.organisation_id
        or cell.organisation_id != actor.organisation_id
        or member.role != Role.CELL_MEMBER
    ):
        raise ServiceError(_("Only a cell member of this organisation can join a cell."))
    if not member.is_approved:
        raise ServiceError(_("Approve this member before adding them to a cell."))
    with transaction.atomic():
        membership = add_member_to_cell_keys(actor=actor, member=member, cell=cell, is_lead=is_lead)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="cell.add_member",
            target=cell,
            detail={"member": str(member.pk), "is_lead": is_lead},
        )
    return membership


def do_set_cell_lead(*, actor, cell: Cell, member, is_lead: bool) -> CellMembership:
    """Make ``member`` the lead of ``cell`` (the previous lead, if any, stops
    being lead) or end their lead role, leaving the cell without a lead."""
    roles.require_coordinator(actor)
    if cell.organisation_id != actor.organisation_id:
        raise ServiceError(_("That cell does not exist."))
    if member.organisation_id != actor.organisation_id:
        raise ServiceError(_("That member is not in this cell."))
    with transaction.atomic():
        membership = CellMembership.objects.filter(cell=cell, member=member).first()
        if membership is None:
            raise ServiceError(_("That member is not in this cell."))
        if is_lead and not member.is_approved:
            raise ServiceError(_("Only an approved member can lead a cell."))
        _set_lead(cell=cell, membership=membership, is_lead=is_lead)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="cell.set_lead" if is_lead else "cell.unset_lead",
            target=cell,
            detail={"member": str(member.pk)},
        )
    return membership


def do_remove_member_from_cell(*, actor, member, cell: Cell) -> None:
    """End the membership; the member loses every leg and handoff key of the
    cell, and those compartments are rotated."""
    from safepassage.journeys.services import sync_cell_grants

    roles.require_coordinator(actor)
    if cell.organisation_id != actor.organisation_id:
        raise ServiceError(_("That cell does not exist."))
    keyring = require()
    with transaction.atomic():
        deleted, _unused = CellMembership.objects.filter(cell=cell, member=member).delete()
        if not deleted:
            raise ServiceError(_("That member is not in this cell."))
        sync_cell_grants(cell=cell, keyring=keyring)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="cell.remove_member",
            target=cell,
            detail={"member": str(member.pk)},
        )
    from safepassage.vault import services as vault

    vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
