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
