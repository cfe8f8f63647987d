"""Reading cases. Access is decided here, inside the query: a case exists for a
member only if they coordinate it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles

from .models import Case, CaseEvent, Traveller


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


def timeline(case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").order_by("-at")
