"""Reading safe houses (coordinators of the organisation only)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles
from safepassage.journeys.models import LegStatus

from .models import SafeHouse


def safe_houses_for(member) -> QuerySet[SafeHouse]:
    """Each with ``occupancy``: travellers on a stay leg that has started and not ended."""
    if not roles.is_coordinator(member):
        return SafeHouse.objects.none()
    return (
        SafeHouse.objects.filter(organisation_id=member.organisation_id)
        .annotate(
            occupancy=Count(
                "stays__journey__case__travellers",
                filter=Q(stays__status=LegStatus.STARTED),
                distinct=True,
            )
        )
        .order_by("created_at")
    )


def get_safe_house(member, house_id) -> SafeHouse:
    return get_object_or_404(safe_houses_for(member), pk=house_id)
