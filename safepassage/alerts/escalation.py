"""Raising an alert and walking it up the escalation ladder.

Level 0 is the cell's lead, level 1 the case's coordinators, level 2 every
coordinator of the organisation. An alert waits at each level for the
minutes in ``settings.ALERT_ESCALATION_MINUTES`` and then moves up unless
someone acknowledged it. A level with nobody on it is passed over at once.
Duress, critical problem reports and a traveller in a compromised cell's
custody start at level 1.

Everything here runs inside the caller's transaction (a service or the
worker), so an alert, its notifications and their outbox rows are written
together or not at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from safepassage.members.models import Member, MemberStatus
from safepassage.roles import Role

from .models import (
    PROBLEM_KINDS,
    SEVERITY_BY_KIND,
    Alert,
    AlertKind,
    EscalationLevel,
    Severity,
)

TOP_LEVEL = EscalationLevel.ALL_COORDINATORS


def start_level(kind: str) -> int:
    # A traveller with a compromised cell: its lead is the last to tell.
    if kind in (AlertKind.DURESS, AlertKind.CUSTODY_COMPROMISED):
        return EscalationLevel.CASE_COORDINATORS
    if kind in PROBLEM_KINDS and SEVERITY_BY_KIND[kind] == Severity.CRITICAL:
        return EscalationLevel.CASE_COORDINATORS
    return EscalationLevel.CELL_LEAD


def _active(members):
    return members.filter(status=MemberStatus.ACTIVE, is_active=True)


def recipients(alert: Alert, level: int, cache: dict | None = None) -> set[uuid.UUID]:
    """The members the alert reaches at ``level``. The member who raised a duress
    alert is never among them (their phone may be in someone else's hands).

    ``cache`` (a dict the caller keeps for one transaction) saves the worker
    asking the same question for every alert of a batch."""
    if level == EscalationLevel.CELL_LEAD:
        if alert.kind == AlertKind.DURESS or alert.leg_id is None:
            return set()
        leg = alert.leg if Alert.leg.is_cached(alert) else None
        # A cell hears of a leg only once the leg is released to it.
        if leg is not None:
            cell_id = leg.cell_id if leg.released_at is not None else None
        else:
            cell_id = _cell_of(alert.leg_id)
        if cell_id is None:
            return set()
        key: tuple = ("lead", cell_id)
        query = Member.objects.filter(
            cell_memberships__cell_id=cell_id, cell_memberships__is_lead=True
        )
    elif level == EscalationLevel.CASE_COORDINATORS:
        if alert.case_id is None:
            return set()
        key = ("case", alert.case_id)
        query = Member.objects.filter(case_links__case_id=alert.case_id, role=Role.COORDINATOR)
    else:
        key = ("org", alert.organisation_id)
        query = Member.objects.filter(organisation_id=alert.organisation_id, role=Role.COORDINATOR)
    if cache is not None and key in cache:
        found = set(cache[key])
    else:
        found = set(_active(query).values_list("pk", flat=True))
        if cache is not None:
            cache[key] = frozenset(found)
    if alert.kind == AlertKind.DURESS and alert.raised_by_id is not None:
        found.discard(alert.raised_by_id)
    return found


def _cell_of(leg_id) -> uuid.UUID | None:
    """The cell the leg is released to (None before its release)."""
    from safepassage.journeys.models import Leg

    return (
        Leg.objects.filter(pk=leg_id, released_at__isnull=False)
        .values_list("cell_id", flat=True)
        .first()
    )


def _step_minutes(level: int) -> int | None:
    steps = list(getattr(settings, "ALERT_ESCALATION_MINUTES", [5, 10]))
    if level >= TOP_LEVEL or level >= len(steps):
        return None
    return int(steps[level])


def _climb(alert: Alert, level: int, now: datetime, cache: dict | None) -> set[uuid.UUID]:
    """Set the alert's level (the first from ``level`` up with anyone on it) and
    its next escalation time; return that level's members. Does not save."""
    level = min(level, TOP_LEVEL)
    found = recipients(alert, level, cache)
    while not found and level < TOP_LEVEL:
        level += 1
        found = recipients(alert, level, cache)
    alert.escalation_level = level
    minutes = _step_minutes(level)
    alert.next_escalation_at = now + timedelta(minutes=minutes) if minutes is not None else None
    return found


def escalate_to(
    alert: Alert, level: int, now: datetime, cache: dict | None = None
) -> set[uuid.UUID]:
    """Move the alert to ``level`` (or the first level above it with anyone on
    it), notify whoever there has not been told yet, and schedule the next
    step. Saves the alert. Returns the members notified now."""
    from safepassage.notifications.outbox import notify

    _in_transaction()
    found = _climb(alert, level, now, cache)
    alert.save(update_fields=["escalation_level", "next_escalation_at"])
    return notify(alert=alert, member_ids=found, level=alert.escalation_level, now=now, cache=cache)


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("alerts must be raised and escalated inside the caller's transaction")


def raise_alert(
    *,
    organisation_id: uuid.UUID,
    kind: str,
    now: datetime,
    leg=None,
    raised_by: Member | None = None,
    deadline=None,
    details: str | None = None,
    cache: dict | None = None,
) -> Alert:
    """Create an alert and notify its first level. ``details`` is sealed in the
    leg's compartment, so it needs keys in force that open it."""
    from safepassage.notifications.outbox import notify

    _in_transaction()
    alert = Alert(
        organisation_id=organisation_id,
        leg=leg,
        case_id=leg.journey.case_id if leg is not None else None,
        compartment_id=leg.compartment_id if leg is not None else None,
        kind=kind,
        severity=SEVERITY_BY_KIND[kind],
        deadline=deadline,
        raised_by=raised_by,
        raised_at=now,
    )
    if details:
        alert.details = details
    found = _climb(alert, start_level(kind), now, cache)
    alert.save()
    notify(
        alert=alert,
        member_ids=found,
        level=alert.escalation_level,
        now=now,
        cache=cache,
        fresh=True,
    )
    return alert
