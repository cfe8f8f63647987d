"""Reading alerts. Access is decided inside the query.

- A coordinator sees the alerts of the cases they coordinate, and every
  alert of their organisation that has escalated to everyone (level 2).
  They may not hold the key to the latter's details: pages then show only
  its kind and time (``can_open``).
- A cell's lead sees the alerts of their cell's legs, except duress alerts.
- A cell member sees the problem reports they made themselves (not a
  duress alert, nor one saying their handle's password is being guessed:
  those name them but are for the coordinators).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case as SqlCase
from django.db.models import IntegerField, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from safepassage import roles
from safepassage.cases.selectors import cases_for
from safepassage.checkins.models import Checkin, Deadline, DeadlineState

from .escalation import TOP_LEVEL
from .models import SEVERITY_ORDER, Alert, AlertKind, AlertNote, AlertStatus


def alerts_for(member) -> QuerySet[Alert]:
    if roles.is_coordinator(member):
        return Alert.objects.filter(organisation_id=member.organisation_id).filter(
            Q(case__in=cases_for(member)) | Q(escalation_level__gte=TOP_LEVEL)
        )
    if roles.is_cell_member(member):
        led = Q(
            leg__cell__memberships__member=member,
            leg__cell__memberships__is_lead=True,
        )
        return (
            Alert.objects.filter(organisation_id=member.organisation_id)
            .filter(led | Q(raised_by=member))
            .exclude(kind__in=[AlertKind.DURESS, AlertKind.LOGIN_GUESSING])
            .distinct()
        )
    return Alert.objects.none()


def get_alert(member, alert_id) -> Alert:
    """The alert, or Http404 for a missing alert and an inaccessible one alike."""
    return get_object_or_404(
        alerts_for(member).select_related("leg", "leg__journey", "case", "deadline", "raised_by"),
        pk=alert_id,
    )


def most_urgent_first(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """``alerts`` sorted for a person to act on: alerts still live (open or
    acknowledged) before resolved ones, then most severe first
    (``SEVERITY_ORDER``: critical, then warning), then newest first."""
    severity_rank = SqlCase(
        *(
            When(severity=severity, then=Value(rank))
            for rank, severity in enumerate(SEVERITY_ORDER)
        ),
        default=Value(len(SEVERITY_ORDER)),
        output_field=IntegerField(),
    )
    resolved = SqlCase(
        When(status=AlertStatus.RESOLVED, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return alerts.annotate(_resolved=resolved, _severity_rank=severity_rank).order_by(
        "_resolved", "_severity_rank", "-raised_at", "pk"
    )


def inbox(member, *, include_resolved: bool = False) -> QuerySet[Alert]:
    """The member's alerts, most urgent first (``most_urgent_first``), with what
    names them (case, journey, leg) fetched in the same query. Resolved alerts
    only with ``include_resolved``."""
    qs = alerts_for(member).select_related("leg", "leg__journey", "case", "deadline", "raised_by")
    if not include_resolved:
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    return most_urgent_first(qs)


def open_alert_count(member) -> int:
    return alerts_for(member).filter(status=AlertStatus.OPEN).count()


def notes_of(alert: Alert) -> QuerySet[AlertNote]:
    return alert.notes.select_related("author").order_by("at")


# --- a journey's timeline ---------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    leg_number: int
    checkin: Checkin | None = None
    alert: Alert | None = None

    @property
    def is_alert(self) -> bool:
        return self.alert is not None

    @property
    def compartment_id(self):
        record = self.alert or self.checkin
        return record.compartment_id if record is not None else None


def journey_timeline(journey) -> list[TimelineEntry]:
    """Check-ins (with leg starts and handoffs), misses and problem reports of
    ``journey``, oldest first. The caller decides access (``get_journey``)."""
    entries = [
        TimelineEntry(at=c.at, leg_number=c.leg.position + 1, checkin=c)
        for c in Checkin.objects.filter(leg__journey=journey).select_related("leg", "member")
    ]
    entries += [
        TimelineEntry(at=a.raised_at, leg_number=a.leg.position + 1, alert=a)
        for a in Alert.objects.filter(leg__journey=journey).select_related("leg", "deadline")
        if a.leg is not None
    ]
    entries.sort(key=lambda e: (e.at, e.alert is not None))
    return entries


def expected_checkins(journey) -> QuerySet[Deadline]:
    """The journey's pending deadlines, soonest first."""
    return (
        Deadline.objects.filter(leg__journey=journey, state=DeadlineState.PENDING)
        .select_related("leg")
        .order_by("due_at")
    )
