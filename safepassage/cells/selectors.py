"""Reading cells. Coordinators manage every cell of their organisation; a cell
member sees only the cells they belong to (and only their ids: cell profiles
are sealed to the coordinators)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles

from .models import Cell, CellMembership


def cells_for(member) -> QuerySet[Cell]:
    if not roles.is_coordinator(member):
        return Cell.objects.none()
    return Cell.objects.filter(organisation_id=member.organisation_id).order_by("created_at")


def get_cell(member, cell_id) -> Cell:
    return get_object_or_404(cells_for(member), pk=cell_id)


def memberships(cell: Cell) -> QuerySet[CellMembership]:
    return cell.memberships.select_related("member").order_by("-is_lead", "member__handle")
