"""Journeys, their legs (each run by one cell) and the handoffs between legs.

Compartments (DESIGN.md): a leg's key is wrapped under its case's key (the
coordinators who plan it) and, once the leg is released (``released_at``),
to its cell's members; a handoff's key to the members of the cells of the
released legs it joins.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.vault.fields import SealedField, SealedModel


class JourneyStatus(models.TextChoices):
    PLANNING = "planning", _("Planning")
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    ABORTED = "aborted", _("Aborted")


class Journey(SealedModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="journeys")
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=JourneyStatus.choices, default=JourneyStatus.PLANNING
    )
    title = SealedField(compartment="compartment", max_chars=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class TransportKind(models.TextChoices):
    CAR = "car", _("Car")
    BUS = "bus", _("Bus")
    TRAIN = "train", _("Train")
    BOAT = "boat", _("Boat")
    ON_FOOT = "on_foot", _("On foot")
    MOTORBIKE = "motorbike", _("Motorbike")
    STAY = "stay", _("Safe-house stay")


class LegStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    STARTED = "started", _("Started")
    HANDED_OFF = "handed_off", _("Handed off")
    FROZEN = "frozen", _("Frozen")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_LEG_STATUSES = {LegStatus.PLANNED, LegStatus.STARTED}


class Leg(SealedModel):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="legs")
    position = models.PositiveSmallIntegerField()
    cell = models.ForeignKey(
        "cells.Cell", null=True, blank=True, on_delete=models.SET_NULL, related_name="legs"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="legs"
    )
    safe_house = models.ForeignKey(
        "safehouses.SafeHouse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stays",
    )
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=LegStatus.choices, default=LegStatus.PLANNED)
    # The window is plaintext: check-in deadlines are derived from it by the
    # worker while nobody is logged in.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    transport = SealedField(compartment="compartment", max_chars=200)
    route = SealedField(compartment="compartment")
    vehicle = SealedField(compartment="compartment", max_chars=200)
    notes = SealedField(compartment="compartment")
    started_at = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    # When the coordinators released the leg to its cell (by starting the
    # journey, or by briefing the cell earlier). Until then the cell holds no
    # key to it and its field pages do not list it.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["journey", "position"]
        indexes = [models.Index(fields=["cell", "status"])]

    @property
    def reference(self) -> str:
        """Four characters that tell a cell's legs apart ("Leg 1 · 4F2A").

        A cell may run leg 1 of two journeys at once; its pages show nothing
        of the case or the journey, so the leg's own id (already in the
        address of its page, so nothing new) tells them apart, short enough
        to read out on the phone. The coordinator's planner shows it too.
        """
        return self.pk.hex[:4].upper()

    @property
    def is_released(self) -> bool:
        return self.released_at is not None


class HandoffStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FROZEN = "frozen", _("Frozen")


class Handoff(SealedModel):
    """Where two legs touch, or where the journey starts (pickup) or ends (arrival).

    ``from_leg`` is empty for the pickup, ``to_leg`` for the arrival.
    """

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="handoffs")
    from_leg = models.OneToOneField(
        Leg, null=True, blank=True, on_delete=models.CASCADE, related_name="end_handoff"
    )
    to_leg = models.OneToOneField(
        Leg, null=True, blank=True, on_delete=models.CASCADE, related_name="start_handoff"
    )
    # The boundary this handoff sits on: 0 is the pickup, len(legs) the arrival.
    position = models.PositiveSmallIntegerField(default=0)
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=HandoffStatus.choices, default=HandoffStatus.PENDING
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    place = SealedField(compartment="compartment", max_chars=500)
    clothing = SealedField(compartment="compartment", max_chars=500)
    vehicle_colour = SealedField(compartment="compartment", max_chars=100)
    vehicle_plate = SealedField(compartment="compartment", max_chars=40)
    signal = SealedField(compartment="compartment", max_chars=500)
    photo = SealedField(compartment="compartment", kind="bytes")
    photo_type = SealedField(compartment="compartment", max_chars=50)
    # One-time verification phrase pair: the arriving side says the challenge,
    # the receiving side answers with the response. Each holds the language
    # it is said in and its words' indices (``journeys.phrases``), or, when
    # drawn before phrases had languages, the English text itself.
    phrase_challenge = SealedField(compartment="compartment", max_chars=300)
    phrase_response = SealedField(compartment="compartment", max_chars=300)
    notes = SealedField(compartment="compartment")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["journey", "position"]

    @property
    def spoken_challenge(self):
        """The challenge as it is said (``phrases.Spoken``), or None."""
        from .phrases import spoken

        return spoken(self.phrase_challenge)

    @property
    def spoken_response(self):
        """The response as it is said (``phrases.Spoken``), or None."""
        from .phrases import spoken

        return spoken(self.phrase_response)

    @property
    def is_pickup(self) -> bool:
        return self.from_leg_id is None

    @property
    def is_arrival(self) -> bool:
        return self.to_leg_id is None
