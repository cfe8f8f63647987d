"""Reading cases. Access is decided here, inside the query: a case exists for a
member only if they coordinate it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles

from .models import Case, CaseEvent, CaseEventKind, Traveller


def cases_for(member) -> QuerySet[Case]:
    """The cases ``member`` coordinates (none for anyone else)."""
    if not roles.is_coordinator(member):
        return Case.objects.none()
    return Case.objects.filter(
        organisation_id=member.organisation_id, coordinator_links__member=member
    ).distinct()


def get_case(member, case_id) -> Case:
    """The case, or Http404 for a missing case and an inaccessible one alike."""
    return get_object_or_404(cases_for(member), pk=case_id)


def travellers_for(member) -> QuerySet[Traveller]:
    return Traveller.objects.filter(case__in=cases_for(member))


def get_traveller(member, traveller_id) -> Traveller:
    return get_object_or_404(travellers_for(member).select_related("case"), pk=traveller_id)


def get_note(member, note_id) -> CaseEvent:
    """A note of a case timeline the member coordinates, or Http404 for a
    missing note, an inaccessible one and any other timeline entry alike."""
    return get_object_or_404(
        CaseEvent.objects.filter(
            case__in=cases_for(member), kind=CaseEventKind.NOTE
        ).select_related("case", "actor"),
        pk=note_id,
    )


def timeline(case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").order_by("-at")


def cases_with_traveller_counts(member) -> QuerySet[Case]:
    """The member's cases, each with ``traveller_count``."""
    from django.db.models import Count

    return cases_for(member).annotate(traveller_count=Count("travellers", distinct=True))


def case_coordinators(case: Case):
    """The members who coordinate ``case`` (their display names need the organisation)."""
    from safepassage.members.models import Member

    return (
        Member.objects.filter(case_links__case=case)
        .select_related("organisation")
        .order_by("handle")
    )


def coordinators_not_on_case(member, case: Case):
    """Approved coordinators of the member's organisation who do not coordinate ``case``."""
    from safepassage.members.models import Member, MemberStatus
    from safepassage.roles import Role

    if not roles.is_coordinator(member):
        return Member.objects.none()
    return (
        Member.objects.filter(
            organisation_id=member.organisation_id,
            role=Role.COORDINATOR,
            status=MemberStatus.ACTIVE,
            is_active=True,
        )
        .exclude(case_links__case=case)
        .select_related("organisation")
        .order_by("handle")
    )
