"""The audit log: sealed to the coordinators, chained by hash over ciphertext,
anchored by a MAC under the environment's dispatch key."""

from __future__ import annotations

from django.db import models

from safepassage.vault.fields import SealedField, SealedModel


class AuditEvent(models.Model):
    """One entry. ``sealed_entry`` holds who did what to which record (never the
    record's contents), sealed to the organisation's audit public key.
    ``entry_hash`` = BLAKE2b(prev_hash | seq | at | sealed_entry);
    ``entry_mac`` = a MAC of (organisation, seq, entry_hash) under a key derived
    from the dispatch key, so an entry rewritten with database access alone
    (its hash and every later hash recomputed) still shows."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="audit_events"
    )
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    sealed_entry = models.BinaryField()
    prev_hash = models.BinaryField()
    entry_hash = models.BinaryField()
    entry_mac = models.BinaryField(default=b"")

    class Meta:
        ordering = ["organisation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="one_audit_entry_per_seq")
        ]


class AuditHead(models.Model):
    """The newest entry of an organisation's chain, written in the same
    transaction as that entry, with a MAC under the dispatch key.

    Deleting the newest entries leaves a chain that verifies on its own; the
    head says how long it was. Rewriting the head needs the dispatch key.
    """

    organisation = models.OneToOneField(
        "organisations.Organisation",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="audit_head",
    )
    seq = models.PositiveBigIntegerField()
    entry_hash = models.BinaryField()
    mac = models.BinaryField()


class AuditKey(SealedModel):
    """A retired audit key pair. Entries up to ``last_seq`` (and after the
    previous retired key's ``last_seq``) were sealed to it; later ones to the
    organisation's current ``audit_public_key``.

    A new pair is drawn each time the coordinators' compartment is rotated (a
    coordinator removed, a compromise declared), so a former coordinator who
    kept the old private key reads no entry written after they left. The old
    private keys stay sealed in the coordinators' compartment, so current
    coordinators still read the whole log.
    """

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="audit_keys"
    )
    last_seq = models.PositiveBigIntegerField()
    public_key = models.BinaryField()
    private_key = SealedField(compartment="organisation.coordinators_compartment", kind="bytes")
    retired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "last_seq"]
