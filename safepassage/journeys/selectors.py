"""Reading journeys, legs and handoffs. Coordinators see those of their cases;
cell members see their cells' released legs, and the
handoffs at those legs' ends (the same rule as the key grants in
``journeys.services``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles
from safepassage.cases.selectors import cases_for

from .models import Handoff, Journey, JourneyStatus, Leg


def journeys_for(member) -> QuerySet[Journey]:
    return Journey.objects.filter(case__in=cases_for(member))


def get_journey(member, journey_id) -> Journey:
    return get_object_or_404(journeys_for(member).select_related("case"), pk=journey_id)


def legs_for_coordinator(member) -> QuerySet[Leg]:
    return Leg.objects.filter(journey__case__in=cases_for(member))


def legs_for_cell_member(member) -> QuerySet[Leg]:
    """The legs a cell member may see: their cells' legs once released to the
    cell (the journey started, or the cell was briefed)."""
    if not roles.is_cell_member(member):
        return Leg.objects.none()
    return Leg.objects.filter(
        cell__organisation_id=member.organisation_id,
        cell__memberships__member=member,
        released_at__isnull=False,
    ).distinct()


def legs_for(member) -> QuerySet[Leg]:
    if roles.is_coordinator(member):
        return legs_for_coordinator(member)
    return legs_for_cell_member(member)


def get_leg(member, leg_id) -> Leg:
    return get_object_or_404(
        legs_for(member).select_related("journey", "journey__case", "cell"), pk=leg_id
    )


def handoffs_for_cell_member(member) -> QuerySet[Handoff]:
    mine = legs_for_cell_member(member)
    return Handoff.objects.filter(Q(from_leg__in=mine) | Q(to_leg__in=mine)).distinct()


def handoffs_for(member) -> QuerySet[Handoff]:
    if roles.is_coordinator(member):
        return Handoff.objects.filter(journey__case__in=cases_for(member))
    return handoffs_for_cell_member(member)


def get_handoff(member, handoff_id) -> Handoff:
    return get_object_or_404(
        handoffs_for(member).select_related("journey", "journey__case", "from_leg", "to_leg"),
        pk=handoff_id,
    )


def active_legs_for_dashboard(member) -> QuerySet[Leg]:
    """Legs of the member's active and planned journeys, in journey order."""
    return (
        legs_for_coordinator(member)
        .filter(journey__status__in=[JourneyStatus.ACTIVE, JourneyStatus.PLANNING])
        .select_related("journey", "journey__case", "cell")
        .order_by("journey__case__opened_at", "journey_id", "position")
    )


def my_field_legs(member) -> QuerySet[Leg]:
    """A cell member's legs, with the handoffs at both ends, newest journeys first."""
    return (
        legs_for_cell_member(member)
        .select_related("journey", "start_handoff", "end_handoff")
        .order_by("-journey__created_at", "position")
    )


def plan_legs(journey: Journey) -> QuerySet[Leg]:
    """A journey's legs in order, with their cell, contact and safe house (and
    the organisation whose compartment seals those names)."""
    return journey.legs.select_related(
        "cell__organisation", "contact__organisation", "safe_house__organisation"
    ).order_by("position")


def plan_handoffs(journey: Journey) -> QuerySet[Handoff]:
    """A journey's handoffs in order, without loading photos (``has_photo`` says
    whether there is one)."""
    from django.db.models import BooleanField, ExpressionWrapper

    return (
        journey.handoffs.defer("photo")
        .annotate(has_photo=ExpressionWrapper(Q(photo__isnull=False), output_field=BooleanField()))
        .order_by("position")
    )
