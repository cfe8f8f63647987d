"""Handling alerts: acknowledge (stops the escalation), resolve, and notes.

Who may handle an alert:
- a coordinator of its case;
- any coordinator of the organisation once it has escalated to everyone
  (level 2), even one who cannot open its details;
- the lead of the leg's cell may acknowledge an alert of their leg (they are
  its first level), except a duress alert, which the cell never sees.
Notes are sealed in the case's compartment, so only the case's coordinators
write them.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.cells.models import CellMembership
from safepassage.core.errors import ServiceError

from .escalation import TOP_LEVEL
from .models import Alert, AlertKind, AlertNote, AlertStatus

MAX_NOTE = 4000


def _coordinates_case(actor, alert: Alert) -> bool:
    return alert.case_id is not None and roles.coordinates_case(actor, alert.case_id)


def _is_cell_lead(actor, alert: Alert) -> bool:
    if alert.kind == AlertKind.DURESS or alert.leg_id is None or not roles.is_cell_member(actor):
        return False
    return CellMembership.objects.filter(
        cell__legs__pk=alert.leg_id, member=actor, is_lead=True
    ).exists()


def can_handle(actor, alert: Alert) -> bool:
    if alert.organisation_id != getattr(actor, "organisation_id", None):
        return False
    if _coordinates_case(actor, alert):
        return True
    if roles.is_coordinator(actor) and alert.escalation_level >= TOP_LEVEL:
        return True
    return _is_cell_lead(actor, alert)


def _require_handler(actor, alert: Alert) -> None:
    if not can_handle(actor, alert):
        raise ServiceError(_("This alert is not yours to handle."))


def do_acknowledge_alert(*, actor, alert: Alert, now: datetime | None = None) -> Alert:
    """Someone is on it: the alert stops escalating."""
    _require_handler(actor, alert)
    if alert.status != AlertStatus.OPEN:
        raise ServiceError(_("This alert has already been acknowledged."))
    now = now or timezone.now()
    with transaction.atomic():
        updated = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=actor,
            next_escalation_at=None,
        )
        if not updated:  # someone else acknowledged it a moment ago
            raise ServiceError(_("This alert has already been acknowledged."))
        audit.record(
            organisation=actor.organisation, actor=actor, verb="alert.acknowledge", target=alert
        )
    alert.refresh_from_db()
    return alert


def do_resolve_alert(*, actor, alert: Alert, note: str = "", now: datetime | None = None) -> Alert:
    """Close the alert (with an optional sealed note on what happened)."""
    _require_handler(actor, alert)
    if _is_cell_lead(actor, alert) and not roles.is_coordinator(actor):
        raise ServiceError(_("Only a coordinator can resolve an alert."))
    if alert.status == AlertStatus.RESOLVED:
        raise ServiceError(_("This alert is already resolved."))
    if note.strip() and not _coordinates_case(actor, alert):
        raise ServiceError(_("Only a coordinator of this case can add notes."))
    now = now or timezone.now()
    with transaction.atomic():
        fields = {
            "status": AlertStatus.RESOLVED,
            "resolved_at": now,
            "resolved_by": actor,
            "next_escalation_at": None,
        }
        if alert.acknowledged_at is None:
            fields.update(acknowledged_at=now, acknowledged_by=actor)
        Alert.objects.filter(pk=alert.pk).update(**fields)
        if note.strip():
            _add_note(actor, alert, note)
        audit.record(
            organisation=actor.organisation, actor=actor, verb="alert.resolve", target=alert
        )
    alert.refresh_from_db()
    return alert


def _add_note(actor, alert: Alert, text: str) -> AlertNote:
    if len(text) > MAX_NOTE:
        raise ServiceError(_("The note is too long."))
    if alert.case is None:
        raise ServiceError(_("Only a coordinator of this case can add notes."))
    note = AlertNote(alert=alert, compartment_id=alert.case.compartment_id, author=actor)
    note.text = text.strip()
    note.save()
    return note


def do_add_alert_note(*, actor, alert: Alert, text: str) -> AlertNote:
    """A note on the alert, sealed in the case's compartment."""
    if alert.organisation_id != actor.organisation_id or not _coordinates_case(actor, alert):
        raise ServiceError(_("Only a coordinator of this case can add notes."))
    if not text.strip():
        raise ServiceError(_("Write a note first."))
    with transaction.atomic():
        note = _add_note(actor, alert, text)
        audit.record(organisation=actor.organisation, actor=actor, verb="alert.note", target=alert)
    return note
