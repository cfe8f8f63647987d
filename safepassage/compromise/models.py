"""Declared compromises and the places and vehicles they burned.

A ``Compromise`` records that something is in the adversary's hands: what
(the subject), why (the reason), when it happened and who declared it. Its
exposure is computed at declaration (``exposure.exposure_of``) and kept as a
snapshot of ids, sealed in the coordinators' compartment, so the report
stays what it was at declaration after keys are rotated, members removed
and legs frozen.

A ``BurnedMark`` is a vehicle or place the planner must not use again. Its
text is sealed in the coordinators' compartment; the planner's warning
opens it with the planner's keys and compares normalised text
(``exposure.normalise``): nothing about it can be searched in the database.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safepassage.vault.fields import SealedField, SealedModel

from .exposure import SubjectKind

COORDINATORS = "organisation.coordinators_compartment"


class Reason(models.TextChoices):
    ARRESTED = "arrested", _("Arrested")
    DEVICE_SEIZED = "device_seized", _("Device seized")
    SUSPECTED_BETRAYAL = "suspected_betrayal", _("Suspected betrayal")
    RAID = "raid", _("Raid")
    OTHER = "other", _("Other")


class CompromiseStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("status", "Open")
    CLOSED = "closed", _("Closed")


class Compromise(SealedModel):
    """One declaration. ``subject_id`` names a member, cell, contact, safe house
    or handoff (plaintext: ids are the graph, and the response acts on them);
    a vehicle's or place's text is sealed in ``subject_text``."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="compromises"
    )
    subject_kind = models.CharField(max_length=20, choices=SubjectKind.choices)
    subject_id = models.UUIDField(null=True, blank=True)
    subject_text = SealedField(compartment=COORDINATORS)
    reason = models.CharField(max_length=30, choices=Reason.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    declared_at = models.DateTimeField(default=timezone.now)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = SealedField(compartment=COORDINATORS, max_chars=10000)
    status = models.CharField(
        max_length=10, choices=CompromiseStatus.choices, default=CompromiseStatus.OPEN
    )
    # {"leg_ids": [...], ...}: the Exposure's sets as lists of id strings,
    # plus its flags and counts. Sealed: which travellers a cell could betray
    # is itself a map of the network.
    exposure = SealedField(compartment=COORDINATORS, kind="json")
    # The critical alert that told every coordinator (see services).
    alert = models.OneToOneField(
        "alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the response did: ids frozen, cells notified, members revoked,
    # compartments rotated now or left due (ids and counts only).
    response = SealedField(compartment=COORDINATORS, kind="json")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-declared_at"]
        indexes = [models.Index(fields=["organisation", "status"])]

    def __str__(self) -> str:
        return f"compromise {self.pk}"

    @property
    def responded(self) -> bool:
        return self.responded_at is not None


class BurnedKind(models.TextChoices):
    VEHICLE = "vehicle", _("Vehicle")
    PLACE = "place", _("Place")


class BurnedMark(SealedModel):
    """A vehicle or place the adversary knows: the planner warns on its reuse."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="burned_marks"
    )
    kind = models.CharField(max_length=10, choices=BurnedKind.choices)
    text = SealedField(compartment=COORDINATORS, max_chars=500)
    compromise = models.ForeignKey(
        Compromise, null=True, blank=True, on_delete=models.CASCADE, related_name="burned_marks"
    )
    marked_at = models.DateTimeField(default=timezone.now)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-marked_at"]
