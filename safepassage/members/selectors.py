"""Reading members and invitations (coordinators of the organisation)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles

from .models import Invitation, Member, MemberStatus


def members_for(member) -> QuerySet[Member]:
    if not roles.is_coordinator(member):
        return Member.objects.none()
    return Member.objects.filter(organisation_id=member.organisation_id).exclude(
        status=MemberStatus.REMOVED
    )


def get_member(member, member_id) -> Member:
    return get_object_or_404(members_for(member), pk=member_id)


def awaiting_approval(member) -> QuerySet[Member]:
    return members_for(member).filter(status=MemberStatus.AWAITING_APPROVAL)


def invitations_for(member) -> QuerySet[Invitation]:
    if not roles.is_coordinator(member):
        return Invitation.objects.none()
    return Invitation.objects.filter(organisation_id=member.organisation_id).order_by("-created_at")


def get_invitation(member, invitation_id) -> Invitation:
    return get_object_or_404(invitations_for(member), pk=invitation_id)


def member_directory(member) -> QuerySet[Member]:
    """Members for the members page, with what it shows fetched in a few queries:
    the organisation (whose compartment seals display names), the invitation
    each accepted (its display name stands in until approval) and cells."""
    from django.db.models import Prefetch

    from safepassage.cells.models import CellMembership

    return (
        members_for(member)
        .select_related("organisation", "invitation__organisation", "invitation__cell")
        .prefetch_related(
            Prefetch(
                "cell_memberships",
                queryset=CellMembership.objects.select_related("cell__organisation"),
            )
        )
        .order_by("role", "handle")
    )


def open_invitations(member) -> QuerySet[Invitation]:
    """Invitations not yet used, revoked or expired."""
    from django.utils import timezone

    return (
        invitations_for(member)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("organisation", "cell__organisation", "created_by")
    )
