"""Changing one thing about a leg in a test, through the planner's service."""

from __future__ import annotations

from safepassage.journeys.models import Leg
from safepassage.journeys.services import do_update_leg


def change_leg(*, actor, leg: Leg, **changes) -> Leg:
    """``do_update_leg`` with the leg's stored values except ``changes``
    (the keys in force must open the leg)."""
    leg = Leg.objects.select_related("cell", "contact", "safe_house").get(pk=leg.pk)
    current = {
        "cell": leg.cell,
        "contact": leg.contact,
        "safe_house": leg.safe_house,
        "window_start": leg.window_start,
        "window_end": leg.window_end,
        "transport": leg.transport,
        "route": leg.route,
        "vehicle": leg.vehicle,
        "notes": leg.notes,
    }
    return do_update_leg(actor=actor, leg=leg, **{**current, **changes})
