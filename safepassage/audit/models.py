"""The audit log: sealed to the coordinators, chained by hash over ciphertext."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One entry. ``sealed_entry`` holds who did what to which record (never the
    record's contents), sealed to the organisation's audit public key.
    ``entry_hash`` = BLAKE2b(prev_hash | seq | at | sealed_entry)."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="audit_events"
    )
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    sealed_entry = models.BinaryField()
    prev_hash = models.BinaryField()
    entry_hash = models.BinaryField()

    class Meta:
        ordering = ["organisation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="one_audit_entry_per_seq")
        ]
