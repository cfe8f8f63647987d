"""Reads for the dashboard, built on the journeys selectors."""

from __future__ import annotations

from dataclasses import dataclass, field

from safepassage.journeys.models import Journey, Leg
from safepassage.journeys.selectors import active_legs_for_dashboard


@dataclass
class JourneyRow:
    journey: Journey
    legs: list[Leg] = field(default_factory=list)


def dashboard_legs(member) -> list[Leg]:
    """The coordinator's active and planned legs with everything the dashboard
    shows fetched in one query (the cell's organisation names the compartment
    its code name is sealed in)."""
    return list(active_legs_for_dashboard(member).select_related("cell__organisation"))


def group_by_journey(legs: list[Leg]) -> list[JourneyRow]:
    rows: dict[object, JourneyRow] = {}
    for leg in legs:
        row = rows.get(leg.journey_id)
        if row is None:
            row = rows[leg.journey_id] = JourneyRow(journey=leg.journey)
        row.legs.append(leg)
    return list(rows.values())


def compartments_shown(member, legs: list[Leg]) -> set:
    """Every compartment whose key the dashboard needs, to resolve them in one go."""
    ids = {leg.journey.compartment_id for leg in legs} | {
        leg.journey.case.compartment_id for leg in legs
    }
    ids.add(member.organisation.coordinators_compartment_id)
    return ids
