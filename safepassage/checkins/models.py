"""Check-in plans, the deadlines derived from them, and the check-ins themselves.

Deadlines are plaintext: the worker must find the overdue ones while nobody
is logged in. Everything a person writes about a check-in is sealed in the
leg's compartment (held by the leg's cell and the case's coordinators).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.journeys.models import TransportKind
from safepassage.vault.fields import SealedField, SealedModel


@dataclass(frozen=True)
class PlanDefaults:
    """Minutes. ``interval`` 0 means no in-transit check-ins."""

    departed_grace: int
    interval: int
    interval_grace: int
    handed_off_grace: int


# The one table of defaults by transport. Fast, watched road legs check in
# often; a boat or a border crossing on foot may have no signal for hours; a
# safe-house stay checks in a few times a day.
DEFAULT_PLANS: dict[str, PlanDefaults] = {
    TransportKind.CAR: PlanDefaults(
        departed_grace=15, interval=60, interval_grace=15, handed_off_grace=30
    ),
    TransportKind.MOTORBIKE: PlanDefaults(
        departed_grace=15, interval=60, interval_grace=15, handed_off_grace=30
    ),
    TransportKind.BUS: PlanDefaults(
        departed_grace=20, interval=90, interval_grace=20, handed_off_grace=45
    ),
    TransportKind.TRAIN: PlanDefaults(
        departed_grace=20, interval=120, interval_grace=30, handed_off_grace=45
    ),
    TransportKind.BOAT: PlanDefaults(
        departed_grace=30, interval=180, interval_grace=60, handed_off_grace=60
    ),
    TransportKind.ON_FOOT: PlanDefaults(
        departed_grace=30, interval=180, interval_grace=60, handed_off_grace=60
    ),
    TransportKind.STAY: PlanDefaults(
        departed_grace=30, interval=360, interval_grace=60, handed_off_grace=60
    ),
}
FALLBACK_PLAN = DEFAULT_PLANS[TransportKind.CAR]


def defaults_for(transport: str | None) -> PlanDefaults:
    return DEFAULT_PLANS.get(transport or "", FALLBACK_PLAN)


class CheckinPlan(models.Model):
    """When a leg's cell is expected to check in. One per leg; minutes, plaintext
    because the worker derives deadlines from them."""

    leg = models.OneToOneField(
        "journeys.Leg", on_delete=models.CASCADE, related_name="checkin_plan"
    )
    departed_grace = models.PositiveIntegerField()
    interval = models.PositiveIntegerField()
    interval_grace = models.PositiveIntegerField()
    handed_off_grace = models.PositiveIntegerField()
    # False while the plan follows the defaults of the leg's transport (it is
    # re-derived when the transport changes); True once a coordinator set it.
    is_custom = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)


class DeadlineKind(models.TextChoices):
    DEPARTED = "departed", _("Departed by")
    IN_TRANSIT = "in_transit", _("Check-in in transit")
    HANDED_OFF = "handed_off", _("Handed off by")


class DeadlineState(models.TextChoices):
    PENDING = "pending", _("Pending")
    MET = "met", _("Met")
    MISSED = "missed", _("Missed")
    CANCELLED = "cancelled", _("Cancelled")


class Deadline(models.Model):
    """One expected check-in. The worker raises exactly one alert for a
    pending deadline whose ``alert_at`` (due + grace) has passed."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    leg = models.ForeignKey("journeys.Leg", on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=20, choices=DeadlineKind.choices)
    due_at = models.DateTimeField()
    alert_at = models.DateTimeField()
    state = models.CharField(
        max_length=20, choices=DeadlineState.choices, default=DeadlineState.PENDING
    )
    met_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["state", "alert_at"]),
            models.Index(fields=["leg", "kind"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["leg", "kind"],
                condition=models.Q(state="pending"),
                name="one_pending_deadline_per_leg_and_kind",
            )
        ]


class CheckinKind(models.TextChoices):
    CHECKIN = "checkin", _("Check-in")
    STARTED = "started", _("Leg started")
    HANDED_OFF = "handed_off", _("Handed off")


class Checkin(SealedModel):
    """A sign of life from the leg's cell. A check-in made with the duress PIN
    is stored exactly like any other; only its alert tells them apart."""

    leg = models.ForeignKey("journeys.Leg", on_delete=models.CASCADE, related_name="checkins")
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=CheckinKind.choices, default=CheckinKind.CHECKIN)
    at = models.DateTimeField()
    note = SealedField(compartment="compartment")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["leg", "at"])]


class MemberPins(models.Model):
    """A member's check-in PIN and duress PIN, hashed with the project's Argon2id
    hasher. The duress PIN checks in normally and silently raises an alert."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkin_pins"
    )
    checkin_pin = models.CharField(max_length=200)
    duress_pin = models.CharField(max_length=200)
    updated_at = models.DateTimeField(auto_now=True)
