"""What the worker does on each tick. The database is the only source of truth.

- ``raise_overdue``: in one transaction, lock pending deadlines whose
  ``alert_at`` has passed (``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so two workers take disjoint rows; SQLite's IMMEDIATE
  transactions serialise writers), mark them missed and write each one's
  alert, notifications and outbox rows. Either all of that commits or none
  of it does, and ``Alert.deadline`` is unique: each deadline alerts exactly
  once, whatever crashes or how many workers run.
- ``escalate_due``: the same for unacknowledged alerts whose next escalation
  time has passed.
- ``deliver_due`` (notifications.delivery): send the outbox.
- ``purge_expired`` (cases.retention): purge cases past their retention period.
- ``wipe_ended_links`` (travellers.tasks): expired traveller links stop
  opening, even with their URL.
- ``alert_login_guessing``: one alert to the coordinators for each handle
  the login page marked as under attack (``members.lockout``), then
  ``lockout.forget_quiet`` drops the counts of handles quiet for a day.

Every function takes ``now`` so tests drive time instead of sleeping.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from safepassage.audit import services as audit
from safepassage.cases.retention import purge_expired
from safepassage.checkins.models import Deadline, DeadlineKind, DeadlineState
from safepassage.journeys.models import OPEN_LEG_STATUSES, JourneyStatus
from safepassage.members import lockout
from safepassage.members.models import LoginThrottle, Member, MemberStatus
from safepassage.notifications.delivery import deliver_due
from safepassage.organisations.models import Organisation
from safepassage.travellers.tasks import wipe_ended_links

from .escalation import TOP_LEVEL, escalate_to, raise_alert
from .models import Alert, AlertKind, AlertStatus

# Rows per transaction: small enough that a second worker (and the web app,
# which shares the audit chain's lock) never waits long.
BATCH = 100

KIND_FOR_DEADLINE = {
    DeadlineKind.DEPARTED: AlertKind.MISSED_DEPARTURE,
    DeadlineKind.IN_TRANSIT: AlertKind.MISSED_CHECKIN,
    DeadlineKind.HANDED_OFF: AlertKind.MISSED_HANDOFF,
}


def _locking(qs: QuerySet) -> QuerySet:
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def _overdue(now: datetime) -> QuerySet[Deadline]:
    # Deadlines of journeys not yet started stay pending: they alert once the
    # journey is under way (if by then they are overdue).
    return Deadline.objects.filter(
        state=DeadlineState.PENDING,
        alert_at__lte=now,
        leg__journey__status=JourneyStatus.ACTIVE,
        leg__status__in=list(OPEN_LEG_STATUSES),
    )


def _stale(now: datetime) -> QuerySet[Deadline]:
    """Pending deadlines that can no longer mean anything: their leg or journey ended."""
    return Deadline.objects.filter(state=DeadlineState.PENDING, alert_at__lte=now).filter(
        Q(leg__journey__status__in=[JourneyStatus.COMPLETED, JourneyStatus.ABORTED])
        | ~Q(leg__status__in=list(OPEN_LEG_STATUSES))
    )


class _Orgs(dict):
    def __missing__(self, key: uuid.UUID) -> Organisation:
        org = Organisation.objects.only("id", "audit_public_key").get(pk=key)
        self[key] = org
        return org


def raise_overdue(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Alert every overdue deadline (up to ``batch``). Returns the alerts raised."""
    now = now or timezone.now()
    if not _overdue(now).exists() and not _stale(now).exists():
        return 0  # idle: no write transaction
    orgs = _Orgs()
    raised = 0
    with transaction.atomic():
        stale_ids = list(_locking(_stale(now)).values_list("pk", flat=True)[:batch])
        if stale_ids:
            Deadline.objects.filter(pk__in=stale_ids, state=DeadlineState.PENDING).update(
                state=DeadlineState.CANCELLED
            )
        deadlines = list(
            _locking(_overdue(now))
            .select_related("leg", "leg__journey")
            .order_by("alert_at")[:batch]
        )
        if deadlines:
            Deadline.objects.filter(pk__in=[d.pk for d in deadlines]).update(
                state=DeadlineState.MISSED
            )
        cache: dict = {}
        for deadline in deadlines:
            deadline.state = DeadlineState.MISSED
            alert = raise_alert(
                organisation_id=deadline.organisation_id,
                kind=KIND_FOR_DEADLINE[deadline.kind],
                now=now,
                leg=deadline.leg,
                deadline=deadline,
                cache=cache,
            )
            audit.record(
                organisation=orgs[deadline.organisation_id],
                actor=None,
                verb="alert.raise",
                target=alert,
                detail={"kind": alert.kind, "deadline": str(deadline.pk)},
            )
            raised += 1
    return raised


def _escalation_due(now: datetime) -> QuerySet[Alert]:
    return Alert.objects.filter(
        status=AlertStatus.OPEN,
        next_escalation_at__isnull=False,
        next_escalation_at__lte=now,
        escalation_level__lt=TOP_LEVEL,
    )


def escalate_due(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Move unacknowledged alerts one level up when their time has come."""
    now = now or timezone.now()
    if not _escalation_due(now).exists():
        return 0
    orgs = _Orgs()
    done = 0
    with transaction.atomic():
        cache: dict = {}
        for alert in list(_locking(_escalation_due(now)).order_by("next_escalation_at")[:batch]):
            before = alert.escalation_level
            escalate_to(alert, before + 1, now, cache)
            audit.record(
                organisation=orgs[alert.organisation_id],
                actor=None,
                verb="alert.escalate",
                target=alert,
                detail={"from": before, "to": alert.escalation_level},
            )
            done += 1
    return done


def _guessing_noticed() -> QuerySet[LoginThrottle]:
    return LoginThrottle.objects.filter(attack_noticed_at__isnull=False).filter(
        Q(alerted_at__isnull=True) | Q(alerted_at__lt=F("attack_noticed_at"))
    )


def alert_login_guessing(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Raise one ``login_guessing`` alert for each handle marked as under attack
    since its last alert, to the coordinators of the member with that handle.

    The login page only marks the handle's row, whether or not anybody has
    that handle, so its answers cannot differ; the worker, which nobody
    waits on, finds the member by the handle's digest here. A handle nobody
    has raises nothing. The alert names the member (``raised_by``), never a
    password tried. Returns the alerts raised."""
    now = now or timezone.now()
    if not _guessing_noticed().exists():
        return 0
    orgs = _Orgs()
    raised = 0
    with transaction.atomic():
        rows = list(_locking(_guessing_noticed()).order_by("attack_noticed_at")[:batch])
        if not rows:
            return 0
        members = {
            lockout.digest_of_handle(member.handle): member
            for member in Member.objects.filter(decoy_of__isnull=True).exclude(
                status=MemberStatus.REMOVED
            )
        }
        cache: dict = {}
        for row in rows:
            member = members.get(row.handle_digest)
            # The notice is handled, alerted or not: once per handle per window.
            row.alerted_at = row.attack_noticed_at
            if member is None:
                continue
            alert = raise_alert(
                organisation_id=member.organisation_id,
                kind=AlertKind.LOGIN_GUESSING,
                now=now,
                raised_by=member,
                cache=cache,
            )
            audit.record(
                organisation=orgs[member.organisation_id],
                actor=None,
                verb="alert.raise",
                target=alert,
                detail={"kind": alert.kind},
            )
            raised += 1
        LoginThrottle.objects.bulk_update(rows, ["alerted_at"])
    return raised


def tick(*, now: datetime | None = None) -> dict[str, int]:
    """One pass of everything the worker does."""
    raised = 0
    while True:  # drain a backlog (a worker back from a crash) before moving on
        batch = raise_overdue(now=now)
        raised += batch
        if batch < BATCH:
            break
    return {
        "raised": raised,
        "escalated": escalate_due(now=now),
        "delivered": deliver_due(now=now),
        # Cases past their retention period are crypto-shredded (a few per tick).
        "purged": len(purge_expired(now=now)),
        # Expired traveller links stop opening even with their URL.
        "links_wiped": wipe_ended_links(now=now),
        # Handles whose passwords are being guessed: one alert each per window.
        "login_guessing": alert_login_guessing(now=now),
        "login_counts_forgotten": lockout.forget_quiet(now=now or timezone.now()),
    }
