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


def _require_coordinator(actor) -> None:
    if not roles.is_coordinator(actor):
        raise ServiceError(_("Only a coordinator can do this."))


def do_create_cell(*, actor, codename: str, specialty: str = "", notes: str = "") -> Cell:
    _require_coordinator(actor)
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
    _require_coordinator(actor)
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


def add_member_to_cell_keys(*, actor, member, cell: Cell, is_lead: bool) -> CellMembership:
    """Record the membership and wrap the cell's open leg and handoff keys to the
    member (deferred where the actor cannot open them). Runs in the caller's
    transaction."""
    from safepassage.journeys.services import sync_cell_grants

    membership, _created = CellMembership.objects.get_or_create(
        cell=cell, member=member, defaults={"is_lead": is_lead}
    )
    sync_cell_grants(cell=cell, keyring=require())
    return membership


def do_add_member_to_cell(*, actor, member, cell: Cell, is_lead: bool = False) -> CellMembership:
    _require_coordinator(actor)
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
            detail={"member": str(member.pk)},
        )
    return membership


def do_remove_member_from_cell(*, actor, member, cell: Cell) -> None:
    """End the membership; the member loses every leg and handoff key of the
    cell, and those compartments are rotated."""
    from safepassage.journeys.services import sync_cell_grants

    _require_coordinator(actor)
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
