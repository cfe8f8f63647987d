"""Cases: one or more travellers taken in by the organisation, from intake to safety."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.vault.fields import SealedField, SealedModel


class CaseStatus(models.TextChoices):
    INTAKE = "intake", _("Intake")
    PLANNING = "planning", _("Planning")
    IN_TRANSIT = "in_transit", _("In transit")
    IN_SAFE_HOUSE = "in_safe_house", _("In safe house")
    AT_EMBASSY = "at_embassy", _("At embassy")
    ARRIVED = "arrived", _("Arrived")
    DETAINED = "detained", _("Detained")
    REPATRIATED = "repatriated", _("Repatriated")
    WHEREABOUTS_UNKNOWN = "whereabouts_unknown", _("Whereabouts unknown")
    CLOSED = "closed", _("Closed")


# The statuses a case may move to from each status. The outcomes that can
# befall a journey (detained, repatriated, whereabouts unknown) are reachable
# from any active status; closed is reachable from everything but itself.
_ACTIVE = [
    CaseStatus.INTAKE,
    CaseStatus.PLANNING,
    CaseStatus.IN_TRANSIT,
    CaseStatus.IN_SAFE_HOUSE,
    CaseStatus.AT_EMBASSY,
]
_ADVERSE = [CaseStatus.DETAINED, CaseStatus.REPATRIATED, CaseStatus.WHEREABOUTS_UNKNOWN]
CASE_TRANSITIONS: dict[str, set[str]] = {
    CaseStatus.INTAKE: {CaseStatus.PLANNING, *_ADVERSE, CaseStatus.CLOSED},
    CaseStatus.PLANNING: {CaseStatus.IN_TRANSIT, CaseStatus.INTAKE, *_ADVERSE, CaseStatus.CLOSED},
    CaseStatus.IN_TRANSIT: {
        CaseStatus.IN_SAFE_HOUSE,
        CaseStatus.AT_EMBASSY,
        CaseStatus.PLANNING,
        *_ADVERSE,
        CaseStatus.CLOSED,
    },
    CaseStatus.IN_SAFE_HOUSE: {
        CaseStatus.IN_TRANSIT,
        CaseStatus.PLANNING,
        *_ADVERSE,
        CaseStatus.CLOSED,
    },
    CaseStatus.AT_EMBASSY: {
        CaseStatus.ARRIVED,
        CaseStatus.IN_TRANSIT,
        *_ADVERSE,
        CaseStatus.CLOSED,
    },
    CaseStatus.ARRIVED: {CaseStatus.CLOSED},
    CaseStatus.DETAINED: {
        CaseStatus.REPATRIATED,
        CaseStatus.WHEREABOUTS_UNKNOWN,
        CaseStatus.PLANNING,
        CaseStatus.CLOSED,
    },
    CaseStatus.REPATRIATED: {
        CaseStatus.WHEREABOUTS_UNKNOWN,
        CaseStatus.DETAINED,
        CaseStatus.CLOSED,
    },
    CaseStatus.WHEREABOUTS_UNKNOWN: {
        CaseStatus.DETAINED,
        CaseStatus.REPATRIATED,
        CaseStatus.PLANNING,
        CaseStatus.CLOSED,
    },
    CaseStatus.CLOSED: set(),
}
ACTIVE_STATUSES = set(_ACTIVE)


class Case(SealedModel):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="cases"
    )
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=30, choices=CaseStatus.choices, default=CaseStatus.INTAKE)
    codename = SealedField(compartment="compartment", max_chars=200)
    needs = SealedField(compartment="compartment")
    # {"given": bool, "recorded_at": iso date, "scope": text, "by": text}
    consent = SealedField(compartment="compartment", kind="json")
    summary = SealedField(compartment="compartment", max_chars=10000)
    opened_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]


class CaseCoordinator(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="coordinator_links")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_links"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "member"], name="one_link_per_coordinator")
        ]


class Traveller(SealedModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="travellers")
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    name = SealedField(compartment="compartment", max_chars=200)
    alias = SealedField(compartment="compartment", max_chars=200)
    birth_year = SealedField(compartment="compartment", max_chars=4)
    phone = SealedField(compartment="compartment", max_chars=40)
    description = SealedField(compartment="compartment")
    needs = SealedField(compartment="compartment")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("Case opened")
    STATUS = "status", _("Status changed")
    NOTE = "note", _("Note")
    TRAVELLER = "traveller", _("Traveller added")
    JOURNEY = "journey", _("Journey planned")
    LEG = "leg", _("Leg update")
    HANDOFF = "handoff", _("Handoff update")


class CaseEvent(SealedModel):
    """The case timeline. What happened is sealed; only its kind and time are not.

    ``message`` (sealed) is ``{"key": ..., "params": {...}}``: which sentence of
    ``cases.timeline.MESSAGES`` the entry is, and its parameters (a traveller's
    name, a note). ``sentence`` writes it in the reader's language. Entries
    from before (``message`` empty) hold their sentence in ``text``, in the
    language of whoever acted, and are shown as written.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=CaseEventKind.choices)
    message = SealedField(compartment="compartment", kind="json")
    # Only entries written before ``message`` existed: their sentence, as written.
    text = SealedField(compartment="compartment", max_chars=10000)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    @property
    def sentence(self) -> str:
        """What happened, in the language in force (the reader's)."""
        from .timeline import render

        message = cast(dict | None, self.message)
        if not message:
            return cast(str, self.text or "")
        return render(message.get("key", ""), message.get("params"))
