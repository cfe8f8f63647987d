"""Safe houses."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError

from .models import SafeHouse, SafeHouseStatus


def do_create_safe_house(
    *, actor, codename: str, place: str, capacity: int, keeper_notes: str = ""
) -> SafeHouse:
    roles.require_coordinator(actor)
    if capacity < 1:
        raise ServiceError(_("Capacity must be at least one person."))
    with transaction.atomic():
        house = SafeHouse(organisation=actor.organisation, capacity=capacity)
        house.codename = codename.strip()
        house.place = place
        house.keeper_notes = keeper_notes
        house.save()
        audit.record(
            organisation=actor.organisation, actor=actor, verb="safehouse.create", target=house
        )
    return house


def do_update_safe_house(
    *,
    actor,
    house: SafeHouse,
    codename: str,
    place: str,
    capacity: int,
    keeper_notes: str,
    status: str,
) -> SafeHouse:
    roles.require_coordinator(actor)
    if capacity < 1:
        raise ServiceError(_("Capacity must be at least one person."))
    if status not in SafeHouseStatus.values:
        raise ServiceError(_("Unknown status."))
    with transaction.atomic():
        house.codename = codename.strip()
        house.place = place
        house.capacity = capacity
        house.keeper_notes = keeper_notes
        house.status = status
        house.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="safehouse.update",
            target=house,
            detail={"status": status},
        )
    return house
