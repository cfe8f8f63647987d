"""An organisation: one rescue network, its coordinators' compartment and its keys."""

from __future__ import annotations

from django.db import models

from safepassage.vault.fields import SealedField, SealedModel


class Organisation(SealedModel):
    coordinators_compartment = models.ForeignKey(
        "vault.Compartment", on_delete=models.PROTECT, related_name="+"
    )
    name = SealedField(compartment="coordinators_compartment", max_chars=200)
    # Audit entries are sealed to this public key by whoever acts; only the
    # coordinators (who hold the private half, sealed below) can read them.
    audit_public_key = models.BinaryField()
    audit_private_key = SealedField(compartment="coordinators_compartment", kind="bytes")
    # Recovery: the private half exists only as k-of-n Shamir shares held offline.
    recovery_public_key = models.BinaryField(null=True, blank=True)
    recovery_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    recovery_holders = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"organisation {self.pk}"
