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


def cells_with_member_counts(member) -> QuerySet[Cell]:
    """The member's cells with ``member_count`` and the organisation (whose
    compartment seals the code names) fetched with them."""
    from django.db.models import Count

    return (
        cells_for(member)
        .select_related("organisation")
        .annotate(member_count=Count("memberships", distinct=True))
    )


def cell_member_candidates(member, cell: Cell):
    """Approved cell members of the organisation who are not in ``cell`` yet."""
    from safepassage.members.models import Member, MemberStatus
    from safepassage.roles import Role

    if not roles.is_coordinator(member) or cell.organisation_id != member.organisation_id:
        return Member.objects.none()
    return (
        Member.objects.filter(
            organisation_id=member.organisation_id,
            role=Role.CELL_MEMBER,
            status=MemberStatus.ACTIVE,
            is_active=True,
        )
        .exclude(cell_memberships__cell=cell)
        .select_related("organisation")
        .order_by("handle")
    )


def cell_members(cell: Cell):
    """The members of ``cell`` (for choosing one to remove)."""
    from safepassage.members.models import Member

    return Member.objects.filter(cell_memberships__cell=cell).select_related("organisation")
