"""The need-to-know graph: compartments and the grants that wrap their keys.

A compartment's data key is stored only wrapped: to a member's public key, to
the organisation's recovery public key, or under a parent compartment's key.
Only the current key version has grants; rotation replaces them all.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CompartmentKind(models.TextChoices):
    COORDINATORS = "coordinators", _("Coordinators of an organisation")
    CASE = "case", _("Case")
    LEG = "leg", _("Leg")
    HANDOFF = "handoff", _("Handoff")


class Compartment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="compartments"
    )
    kind = models.CharField(max_length=20, choices=CompartmentKind.choices)
    current_version = models.PositiveIntegerField(default=1)
    # Set when a holder was removed but nobody holding the key has rotated it yet.
    rotation_due = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.pk}"


class HolderKind(models.TextChoices):
    MEMBER = "member", _("Member")
    PARENT = "parent", _("Parent compartment")
    RECOVERY = "recovery", _("Organisation recovery key")


class CompartmentGrant(models.Model):
    """One wrapped copy of a compartment's current data key."""

    compartment = models.ForeignKey(Compartment, on_delete=models.CASCADE, related_name="grants")
    version = models.PositiveIntegerField()
    holder_kind = models.CharField(max_length=10, choices=HolderKind.choices)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="compartment_grants",
    )
    parent = models.ForeignKey(
        Compartment, null=True, blank=True, on_delete=models.CASCADE, related_name="child_grants"
    )
    parent_version = models.PositiveIntegerField(null=True, blank=True)
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["compartment", "member"],
                condition=models.Q(holder_kind="member"),
                name="one_member_grant_per_compartment",
            ),
            models.UniqueConstraint(
                fields=["compartment", "parent"],
                condition=models.Q(holder_kind="parent"),
                name="one_parent_grant_per_compartment",
            ),
            models.UniqueConstraint(
                fields=["compartment"],
                condition=models.Q(holder_kind="recovery"),
                name="one_recovery_grant_per_compartment",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(holder_kind="member", member__isnull=False, parent__isnull=True)
                    | models.Q(holder_kind="parent", member__isnull=True, parent__isnull=False)
                    | models.Q(holder_kind="recovery", member__isnull=True, parent__isnull=True)
                ),
                name="grant_has_exactly_one_holder",
            ),
        ]
        indexes = [models.Index(fields=["member"]), models.Index(fields=["parent"])]


class PendingGrant(models.Model):
    """A member who should hold a compartment's key, waiting for a holder to wrap it.

    Created when the member who made the change could not open the compartment
    (for example a new cell member joining legs of a case the approving
    coordinator does not coordinate). Fulfilled at the next request of anyone
    who holds the key.
    """

    compartment = models.ForeignKey(Compartment, on_delete=models.CASCADE, related_name="pending")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_grants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["compartment", "member"], name="one_pending_grant")
        ]
