"""Raising an alert and walking it up the escalation ladder.

Level 0 is the cell's lead, level 1 the case's coordinators, level 2 every
coordinator of the organisation. An alert waits at each level for the
minutes in ``settings.ALERT_ESCALATION_MINUTES`` and then moves up unless
someone acknowledged it. A level with nobody on it is passed over at once.
Duress and critical problem reports start at level 1.

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
    if kind == AlertKind.DURESS:
        return EscalationLevel.CASE_COORDINATORS
    if kind in PROBLEM_KINDS and SEVERITY_BY_KIND[kind] == Severity.CRITICAL:
        return EscalationLevel.CASE_COORDINATORS
    return EscalationLevel.CELL_LEAD


def _active(members):
    return members.filter(status=MemberStatus.ACTIVE, is_active=True)


def recipients(alert: Alert, level: int) -> set[uuid.UUID]:
    """The members the alert reaches at ``level``. The member who raised a duress
    alert is never among them (their phone may be in someone else's hands)."""
    if level == EscalationLevel.CELL_LEAD:
        if alert.kind == AlertKind.DURESS or alert.leg_id is None:
            return set()
        from safepassage.journeys.models import Leg

        cell_id = Leg.objects.filter(pk=alert.leg_id).values_list("cell_id", flat=True).first()
        if cell_id is None:
            return set()
        found = set(
            _active(
                Member.objects.filter(
                    cell_memberships__cell_id=cell_id, cell_memberships__is_lead=True
                )
            ).values_list("pk", flat=True)
        )
    elif level == EscalationLevel.CASE_COORDINATORS:
        if alert.case_id is None:
            return set()
        found = set(
            _active(
                Member.objects.filter(case_links__case_id=alert.case_id, role=Role.COORDINATOR)
            ).values_list("pk", flat=True)
        )
    else:
        found = set(
            _active(
                Member.objects.filter(organisation_id=alert.organisation_id, role=Role.COORDINATOR)
            ).values_list("pk", flat=True)
        )
    if alert.kind == AlertKind.DURESS and alert.raised_by_id is not None:
        found.discard(alert.raised_by_id)
    return found


def _step_minutes(level: int) -> int | None:
    steps = list(getattr(settings, "ALERT_ESCALATION_MINUTES", [5, 10]))
    if level >= TOP_LEVEL or level >= len(steps):
        return None
    return int(steps[level])


def escalate_to(alert: Alert, level: int, now: datetime) -> set[uuid.UUID]:
    """Move the alert to ``level`` (or the first level above it with anyone on
    it), notify whoever there has not been told yet, and schedule the next
    step. Saves the alert. Returns the members notified now."""
    from safepassage.notifications.outbox import notify

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("escalation must run inside the caller's transaction")
    level = min(level, TOP_LEVEL)
    found = recipients(alert, level)
    while not found and level < TOP_LEVEL:
        level += 1
        found = recipients(alert, level)
    alert.escalation_level = level
    minutes = _step_minutes(level)
    alert.next_escalation_at = now + timedelta(minutes=minutes) if minutes is not None else None
    alert.save(update_fields=["escalation_level", "next_escalation_at"])
    return notify(alert=alert, member_ids=found, level=level, now=now)


def raise_alert(
    *,
    organisation_id: uuid.UUID,
    kind: str,
    now: datetime,
    leg=None,
    raised_by: Member | None = None,
    deadline=None,
    details: str | None = None,
) -> Alert:
    """Create an alert and notify its first level. ``details`` is sealed in the
    leg's compartment, so it needs keys in force that open it."""
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
    alert.save()
    escalate_to(alert, start_level(kind), now)
    return alert
