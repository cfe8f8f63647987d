"""Safe houses hold travellers between legs; raids are rare but fatal."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.vault.fields import SealedField, SealedModel


class SafeHouseStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    CLOSED = "closed", _("Closed")
    BURNED = "burned", _("Burned")


class SafeHouse(SealedModel):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="safe_houses"
    )
    codename = SealedField(compartment="organisation.coordinators_compartment", max_chars=200)
    place = SealedField(compartment="organisation.coordinators_compartment", max_chars=500)
    keeper_notes = SealedField(compartment="organisation.coordinators_compartment")
    capacity = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=20, choices=SafeHouseStatus.choices, default=SafeHouseStatus.AVAILABLE
    )
    created_at = models.DateTimeField(auto_now_add=True)
