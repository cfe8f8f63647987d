"""Reads for the dashboard, built on the journeys selectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from safepassage.journeys.models import Journey, JourneyStatus, Leg
from safepassage.journeys.selectors import active_legs_for_dashboard, journeys_for

SHOWN_STATUSES = [JourneyStatus.ACTIVE, JourneyStatus.PLANNING]


@dataclass
class JourneyRow:
    journey: Journey
    legs: list[Leg] = field(default_factory=list)


@dataclass
class Dashboard:
    under_way: list[JourneyRow]
    being_planned: list[JourneyRow]
    # Every compartment whose key the page needs, to resolve them in one go.
    compartments: set


def dashboard_legs(member) -> list[Leg]:
    """The coordinator's active and planned legs with everything the dashboard
    shows fetched in one query (the cell's organisation names the compartment
    its code name is sealed in)."""
    return list(active_legs_for_dashboard(member).select_related("cell__organisation"))


def journeys_without_legs(member) -> list[Journey]:
    """The coordinator's active and planned journeys that have no leg yet, with
    their case, in one query."""
    return list(
        journeys_for(member)
        .filter(status__in=SHOWN_STATUSES)
        .filter(~Exists(Leg.objects.filter(journey=OuterRef("pk"))))
        .select_related("case")
        .order_by("case__opened_at", "pk")
    )


def group_by_journey(legs: list[Leg], empty: Sequence[Journey] = ()) -> list[JourneyRow]:
    """One row per journey with its legs in order, and a row without legs for
    each journey in ``empty``; rows by case (oldest first), then journey."""
    rows: dict[object, JourneyRow] = {}
    for leg in legs:
        row = rows.get(leg.journey_id)
        if row is None:
            row = rows[leg.journey_id] = JourneyRow(journey=leg.journey)
        row.legs.append(leg)
    for journey in empty:
        rows.setdefault(journey.pk, JourneyRow(journey=journey))
    return sorted(rows.values(), key=lambda row: (row.journey.case.opened_at, row.journey.pk))


def compartments_shown(member, legs: list[Leg], journeys: Sequence[Journey] = ()) -> set:
    """Every compartment whose key the dashboard needs, to resolve them in one go."""
    shown = [leg.journey for leg in legs] + list(journeys)
    ids = {journey.compartment_id for journey in shown} | {
        journey.case.compartment_id for journey in shown
    }
    ids.add(member.organisation.coordinators_compartment_id)
    return ids


def dashboard_for(member) -> Dashboard:
    """The coordinator's journeys under way, then those being planned (journeys
    without legs among them), in two queries however many there are."""
    legs = dashboard_legs(member)
    empty = journeys_without_legs(member)
    rows = group_by_journey(legs, empty)
    return Dashboard(
        under_way=[row for row in rows if row.journey.status == JourneyStatus.ACTIVE],
        being_planned=[row for row in rows if row.journey.status != JourneyStatus.ACTIVE],
        compartments=compartments_shown(member, legs, empty),
    )
