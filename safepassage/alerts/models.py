"""Alerts: missed deadlines, problem reports and duress, and who has been told.

What an alert is about (its kind, severity, status and escalation) is
plaintext: the worker escalates it with nobody logged in. What a person wrote
about it is sealed: the details in the leg's compartment (the reporting cell
and the case's coordinators hold it), notes in the case's compartment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safepassage.vault.fields import SealedField, SealedModel


class AlertKind(models.TextChoices):
    MISSED_DEPARTURE = "missed_departure", _("Did not depart on time")
    MISSED_CHECKIN = "missed_checkin", _("Missed a check-in")
    MISSED_HANDOFF = "missed_handoff", _("Did not hand off on time")
    DURESS = "duress", _("Duress")
    UNSCHEDULED_STOP = "unscheduled_stop", _("Unscheduled stop")
    ROUTE_CHANGE = "route_change", _("Route change")
    MONEY_DEMAND = "money_demand", _("Demand for more money")
    POLICE_CHECK = "police_check", _("Police check")
    LOST_CONTACT = "lost_contact", _("Lost contact with the traveller")
    MEDICAL = "medical", _("Medical")
    TRAVELLER_PROBLEM = "traveller_problem", _("The traveller says something is wrong")
    LINK_REUSED = "link_reused", _("A used traveller link was opened again")
    COMPROMISE = "compromise", _("Compromise declared")
    # A compromise was declared while a traveller was on a leg of the
    # compromised cell, member or contact (started, not handed off).
    CUSTODY_COMPROMISED = "custody_compromised", _("A traveller is with a compromised cell")
    LOGIN_GUESSING = "login_guessing", _("Passwords being guessed for a handle")
    OTHER = "other", _("Other problem")


# The problems a cell can report from the field, each its own kind of alert.
PROBLEM_KINDS = (
    AlertKind.UNSCHEDULED_STOP,
    AlertKind.ROUTE_CHANGE,
    AlertKind.MONEY_DEMAND,
    AlertKind.POLICE_CHECK,
    AlertKind.LOST_CONTACT,
    AlertKind.MEDICAL,
    AlertKind.OTHER,
)
MISSED_KINDS = (AlertKind.MISSED_DEPARTURE, AlertKind.MISSED_CHECKIN, AlertKind.MISSED_HANDOFF)


class Severity(models.TextChoices):
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


# Most severe first: the order every alert list is sorted by, before age. It
# is spelt out because the values' alphabetical order is an accident.
SEVERITY_ORDER: tuple[str, ...] = (Severity.CRITICAL, Severity.WARNING)

SEVERITY_BY_KIND: dict[str, str] = {
    AlertKind.MISSED_DEPARTURE: Severity.WARNING,
    AlertKind.MISSED_CHECKIN: Severity.WARNING,
    AlertKind.MISSED_HANDOFF: Severity.CRITICAL,
    AlertKind.DURESS: Severity.CRITICAL,
    AlertKind.UNSCHEDULED_STOP: Severity.WARNING,
    AlertKind.ROUTE_CHANGE: Severity.WARNING,
    AlertKind.MONEY_DEMAND: Severity.WARNING,
    AlertKind.POLICE_CHECK: Severity.CRITICAL,
    AlertKind.LOST_CONTACT: Severity.CRITICAL,
    AlertKind.MEDICAL: Severity.CRITICAL,
    AlertKind.TRAVELLER_PROBLEM: Severity.CRITICAL,
    AlertKind.LINK_REUSED: Severity.WARNING,
    AlertKind.COMPROMISE: Severity.CRITICAL,
    AlertKind.CUSTODY_COMPROMISED: Severity.CRITICAL,
    # Someone knows a member's handle and is trying their password.
    AlertKind.LOGIN_GUESSING: Severity.CRITICAL,
    AlertKind.OTHER: Severity.WARNING,
}


class AlertStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("status", "Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class EscalationLevel(models.IntegerChoices):
    CELL_LEAD = 0, _("The cell's lead")
    CASE_COORDINATORS = 1, _("The case's coordinators")
    ALL_COORDINATORS = 2, _("Every coordinator")


class Alert(SealedModel):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    leg = models.ForeignKey(
        "journeys.Leg", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    # The leg's compartment: the reporting cell and the case's coordinators hold it.
    compartment = models.ForeignKey(
        "vault.Compartment", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    # The exactly-once guard: a deadline can carry one alert, ever.
    deadline = models.OneToOneField(
        "checkins.Deadline", null=True, blank=True, on_delete=models.CASCADE, related_name="alert"
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_at = models.DateTimeField()
    escalation_level = models.PositiveSmallIntegerField(
        choices=EscalationLevel.choices, default=EscalationLevel.CELL_LEAD
    )
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = SealedField(compartment="compartment", max_chars=4000)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [
            models.Index(fields=["status", "next_escalation_at"]),
            models.Index(fields=["organisation", "status"]),
        ]

    @property
    def is_critical(self) -> bool:
        return self.severity == Severity.CRITICAL


class AlertNote(SealedModel):
    """A coordinator's note on an alert, sealed in the case's compartment."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notes")
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    text = SealedField(compartment="compartment", max_chars=10000)

    class Meta:
        ordering = ["at"]
