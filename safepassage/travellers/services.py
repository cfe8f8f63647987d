"""Issuing, revoking, opening and using traveller links.

Coordinators issue and revoke (``do_issue_traveller_link``,
``do_revoke_traveller_link``) with the case's keys in force. The traveller
has no account and nobody is logged in: their services take the token from
the URL (and the browser's link cookie) instead of an actor, and their audit
entries have no actor and name the link as target.

- ``do_open_traveller_link``: the first opening binds the link to that
  browser (a random cookie whose digest is stored) and marks it opened;
- ``do_traveller_report``: a button on the traveller's page ("I am out",
  "I am in the car", "Something is wrong"); "I am in the car" completes the
  link, "Something is wrong" raises a critical alert to the case's
  coordinators;
- ``do_refuse_traveller_link``: a link that cannot be used (already used by
  another browser, expired, revoked) is recorded as such; a used link opened
  from another browser may mean the link or the phone was taken, so the
  first such opening raises a warning alert.

A link's traveller copy is wiped as soon as the link ends (completed,
revoked, or found expired; ``tasks.wipe_ended_links`` catches the rest), so
even the URL opens nothing after that.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safepassage import roles
from safepassage.alerts.escalation import escalate_to
from safepassage.alerts.models import Alert, AlertKind, AlertStatus, EscalationLevel, Severity
from safepassage.audit import services as audit
from safepassage.cases.models import Case, CaseStatus, Traveller
from safepassage.core.errors import ServiceError
from safepassage.members import preferences
from safepassage.vault import crypto

from .models import (
    BUTTONS,
    LinkState,
    LinkStatus,
    ReportKind,
    TravellerLink,
    TravellerReport,
)
from .selectors import MAX_TOKEN_LENGTH, USED, traveller_state

MAX_STEP = 1000
MAX_SIGNAL = 300
DEFAULT_HOURS = 12
MAX_HOURS = 7 * 24
# Refused openings of one link recorded one by one (report and audit entry);
# past this many only the count goes up, so a script replaying a stolen URL
# cannot fill the database.
MAX_RECORDED_REFUSALS = 20
# A case in one of these statuses gets no new link.
ENDED_CASE_STATUSES = (CaseStatus.CLOSED, CaseStatus.ARRIVED)

UNKNOWN = "unknown"

# What the traveller's page says for each reason a link cannot be used. Each
# is distinct and none reveals anything the link held.
REFUSALS = {
    UNKNOWN: gettext_lazy("This link is not valid."),
    USED: gettext_lazy("This link has already been used."),
    LinkState.EXPIRED: gettext_lazy("This link has expired."),
    LinkState.REVOKED: gettext_lazy("This link has been withdrawn."),
    LinkState.COMPLETED: gettext_lazy("This link has been completed and no longer works."),
    LinkState.ISSUED: gettext_lazy("Open the link first."),
}


class LinkRefused(ServiceError):
    """The link cannot be used; ``reason`` is a key of ``REFUSALS``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(str(REFUSALS[reason]))


@dataclass(frozen=True)
class IssuedLink:
    link: TravellerLink
    token: str  # goes into the URL shown once; never stored


@dataclass(frozen=True)
class OpenedLink:
    link: TravellerLink
    binding: str  # the browser's link cookie; only its digest is stored


# --- coordinators ---------------------------------------------------------------------------


def _plan(
    *, step: str, signal: str, at: datetime | None, zone: str, language: str
) -> dict[str, str]:
    return {
        "step": step,
        "signal": signal,
        "at": at.astimezone(zoneinfo.ZoneInfo(zone)).isoformat() if at is not None else "",
        "zone": zone if at is not None else "",
        "language": language,
    }


def do_issue_traveller_link(
    *,
    actor,
    case: Case,
    traveller: Traveller,
    step: str,
    signal: str = "",
    at: datetime | None = None,
    zone: str = "",
    expires_in_hours: int = DEFAULT_HOURS,
    language: str = "",
    now: datetime | None = None,
) -> IssuedLink:
    """A one-time link showing ``traveller`` one step: ``step``, the recognition
    ``signal`` and, if given, the time ``at`` (aware) shown in ``zone``.

    The link expires ``expires_in_hours`` after issue. Its token is returned
    once, for the coordinator to send; only its digest is kept. ``language``
    (a code of ``settings.LANGUAGES``, or "" for the phone's own) is the
    language of the traveller's page.
    """
    roles.require_case_coordinator(actor, case)
    if case.status in ENDED_CASE_STATUSES:
        raise ServiceError(_("This case has ended: it cannot issue traveller links."))
    if traveller.case_id != case.pk:
        raise ServiceError(_("Choose a traveller of this case."))
    step = (step or "").strip()
    signal = (signal or "").strip()
    if not step:
        raise ServiceError(_("Write the next step for the traveller."))
    if len(step) > MAX_STEP:
        raise ServiceError(_("The step is too long (at most 1000 characters)."))
    if len(signal) > MAX_SIGNAL:
        raise ServiceError(_("The signal is too long (at most 300 characters)."))
    if not 1 <= expires_in_hours <= MAX_HOURS:
        raise ServiceError(_("A link lasts from 1 to 168 hours."))
    if language and not preferences.is_language(language):
        raise ServiceError(_("Choose a language from the list."))
    now = now or timezone.now()
    expires_at = now + timedelta(hours=expires_in_hours)
    if at is not None:
        if timezone.is_naive(at):
            raise ServiceError(_("Give the time with its time zone."))
        if zone not in preferences.time_zone_names():
            raise ServiceError(_("Choose the time zone of the time given."))
        if at >= expires_at:
            raise ServiceError(_("The link would expire before the time it gives."))
    plan = _plan(step=step, signal=signal, at=at, zone=zone, language=language)
    token = crypto.random_token(32)
    with transaction.atomic():
        link = TravellerLink(
            case=case,
            traveller=traveller,
            compartment_id=case.compartment_id,
            token_digest=crypto.token_digest(token),
            issued_by=actor,
            issued_at=now,
            expires_at=expires_at,
        )
        link.plan = plan
        link.sealed_for_traveller = crypto.seal_for_link_holder(
            token, json.dumps(plan, sort_keys=True).encode("utf-8"), link.aad
        )
        link.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="traveller_link.issue",
            target=link,
            detail={"traveller": str(traveller.pk), "hours": expires_in_hours},
        )
    return IssuedLink(link=link, token=token)


def _wipe(link: TravellerLink) -> None:
    """Forget what the traveller's copy said and which browser held it (not saved)."""
    link.sealed_for_traveller = None
    link.binding_digest = ""


def do_revoke_traveller_link(*, actor, link: TravellerLink, now: datetime | None = None) -> None:
    """End a link at once: whoever opens it from now on is told it was withdrawn."""
    roles.require_case_coordinator(actor, link.case)
    if link.status in (LinkStatus.COMPLETED, LinkStatus.REVOKED):
        raise ServiceError(_("This link has already ended."))
    now = now or timezone.now()
    with transaction.atomic():
        link.status = LinkStatus.REVOKED
        link.revoked_at = now
        link.revoked_by = actor
        _wipe(link)
        link.save(
            update_fields=[
                "status",
                "revoked_at",
                "revoked_by",
                "sealed_for_traveller",
                "binding_digest",
            ]
        )
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="traveller_link.revoke",
            target=link,
        )


# --- the traveller (nobody logged in) -----------------------------------------------------


def _locked_link(token: str) -> TravellerLink | None:
    """The link for ``token``, locked for this transaction (the caller's)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        TravellerLink.objects.select_for_update(of=("self",))
        .select_related("case", "case__organisation")
        .filter(token_digest=crypto.token_digest(token))
        .first()
    )


def _raise_case_alert(link: TravellerLink, *, kind: str, severity: str, now: datetime) -> Alert:
    """An alert on the link's case, first to the case's coordinators, then up
    the ladder like any other. Nothing is sealed in it: the traveller holds no
    key; the case page shows what the traveller pressed."""
    alert = Alert(
        organisation_id=link.case.organisation_id,
        case_id=link.case_id,
        compartment_id=link.compartment_id,
        kind=kind,
        severity=severity,
        raised_at=now,
        escalation_level=EscalationLevel.CASE_COORDINATORS,
    )
    alert.save()
    escalate_to(alert, EscalationLevel.CASE_COORDINATORS, now)
    audit.record(
        organisation=link.case.organisation,
        actor=None,
        verb="alert.raise",
        target=alert,
        detail={"kind": alert.kind, "severity": severity, "traveller_link": str(link.pk)},
    )
    return alert


def do_refuse_traveller_link(
    *, link: TravellerLink, reason: str, now: datetime | None = None
) -> LinkRefused:
    """Record that ``link`` was asked for and could not be used, in its own
    transaction, and return the refusal to raise or show.

    - used (opened, and this browser does not hold it): counted; the first
      refusals are written to the audit log and the case page, and the very
      first raises a warning alert to the case's coordinators;
    - revoked: counted, and the first refusals written to the audit log (a
      link is often revoked because the phone was taken);
    - expired: the traveller's copy is wiped if it was not yet;
    - anything else (completed, not yet opened): nothing is written.
    """
    now = now or timezone.now()
    if reason not in (USED, LinkState.EXPIRED, LinkState.REVOKED):
        return LinkRefused(reason)
    with transaction.atomic():
        fresh = (
            TravellerLink.objects.select_for_update(of=("self",))
            .select_related("case", "case__organisation")
            .get(pk=link.pk)
        )
        record = True
        if reason in (USED, LinkState.REVOKED):
            fresh.refused_openings += 1
            fresh.save(update_fields=["refused_openings"])
            record = fresh.refused_openings <= MAX_RECORDED_REFUSALS
            if record and reason == USED:
                first = not fresh.reports.filter(kind=ReportKind.REFUSED_OPENING).exists()
                alert = (
                    _raise_case_alert(
                        fresh, kind=AlertKind.LINK_REUSED, severity=Severity.WARNING, now=now
                    )
                    if first
                    else None
                )
                TravellerReport.objects.create(
                    link=fresh, kind=ReportKind.REFUSED_OPENING, at=now, alert=alert
                )
        elif reason == LinkState.EXPIRED:
            record = fresh.sealed_for_traveller is not None
            if record:
                _wipe(fresh)
                fresh.save(update_fields=["sealed_for_traveller", "binding_digest"])
        if record:
            audit.record(
                organisation=fresh.case.organisation,
                actor=None,
                verb="traveller_link.refused",
                target=fresh,
                detail={"reason": str(reason)},
            )
    return LinkRefused(reason)


def do_open_traveller_link(*, token: str, now: datetime | None = None) -> OpenedLink:
    """Bind a link not yet opened to the browser opening it: a new random
    binding (for that browser's cookie) whose digest is stored. Exactly one
    browser wins, however many try at once. Refuses (``LinkRefused``) a link
    that is unknown, already opened, expired, revoked or completed."""
    now = now or timezone.now()
    with transaction.atomic():
        link = _locked_link(token)
        if link is None:
            raise LinkRefused(UNKNOWN)
        state = link.state_at(now)
        if state == LinkState.ISSUED:
            binding = crypto.random_token(32)
            link.binding_digest = crypto.token_digest(binding)
            link.status = LinkStatus.OPENED
            link.opened_at = now
            link.save(update_fields=["binding_digest", "status", "opened_at"])
            audit.record(
                organisation=link.case.organisation,
                actor=None,
                verb="traveller_link.open",
                target=link,
            )
            return OpenedLink(link=link, binding=binding)
    reason = USED if state == LinkState.OPENED else state
    raise do_refuse_traveller_link(link=link, reason=reason, now=now)


def do_traveller_report(
    *, token: str, binding: str | None, kind: str, now: datetime | None = None
) -> TravellerReport:
    """The traveller pressed a button. Only the browser holding the link may.

    - "I am out" and "Something is wrong" are recorded; "Something is wrong"
      raises a critical alert to the case's coordinators (one open alert per
      link: pressing again while it is open adds to the same alert);
    - "I am in the car" is recorded and completes the link, which then ends.
    """
    if kind not in BUTTONS:
        raise ServiceError(_("Choose one of the buttons."))
    now = now or timezone.now()
    with transaction.atomic():
        link = _locked_link(token)
        if link is None:
            raise LinkRefused(UNKNOWN)
        state = traveller_state(link, binding, now)
        if state == LinkState.OPENED:
            alert = None
            if kind == ReportKind.WRONG:
                alert = (
                    Alert.objects.filter(
                        pk__in=link.reports.filter(kind=ReportKind.WRONG).values("alert_id"),
                        status=AlertStatus.OPEN,
                    ).first()
                ) or _raise_case_alert(
                    link, kind=AlertKind.TRAVELLER_PROBLEM, severity=Severity.CRITICAL, now=now
                )
            report = TravellerReport.objects.create(link=link, kind=kind, at=now, alert=alert)
            if kind == ReportKind.IN_CAR:
                link.status = LinkStatus.COMPLETED
                link.completed_at = now
                _wipe(link)
                link.save(
                    update_fields=[
                        "status",
                        "completed_at",
                        "sealed_for_traveller",
                        "binding_digest",
                    ]
                )
            audit.record(
                organisation=link.case.organisation,
                actor=None,
                verb="traveller_link.report",
                target=link,
                detail={"kind": kind},
            )
            return report
    raise do_refuse_traveller_link(link=link, reason=state, now=now)
