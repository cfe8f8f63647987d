"""Cells: the independent teams (driver, broker, safe-house keeper, guide) that run legs.

A leg's key is wrapped to each member of its cell, so a cell is, in the key
graph, exactly the set of its members.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.vault.fields import SealedField, SealedModel


class CellStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")
    COMPROMISED = "compromised", _("Compromised")


class Cell(SealedModel):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="cells"
    )
    codename = SealedField(compartment="organisation.coordinators_compartment", max_chars=200)
    specialty = SealedField(compartment="organisation.coordinators_compartment", max_chars=500)
    notes = SealedField(compartment="organisation.coordinators_compartment")
    status = models.CharField(max_length=20, choices=CellStatus.choices, default=CellStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"cell {self.pk}"


class CellMembership(models.Model):
    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cell_memberships"
    )
    is_lead = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cell", "member"], name="one_membership_per_cell"),
            # The escalation ladder alerts "the cell's lead": at most one.
            models.UniqueConstraint(
                fields=["cell"], condition=models.Q(is_lead=True), name="one_lead_per_cell"
            ),
        ]
