"""Members log in with a handle; their name and private key are sealed."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.roles import Role
from safepassage.vault.fields import SealedField, SealedModel


class MemberStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    ACTIVE = "active", _("Active")
    REMOVED = "removed", _("Removed")


class MemberManager(BaseUserManager["Member"]):
    def get_by_natural_key(self, username):
        return self.get(handle=username)


class Member(SealedModel, AbstractBaseUser):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="members"
    )
    handle = models.CharField(_("handle"), max_length=40, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(
        max_length=20, choices=MemberStatus.choices, default=MemberStatus.AWAITING_APPROVAL
    )
    display_name = SealedField(compartment="organisation.coordinators_compartment")
    # X25519 key pair; the private half is sealed under an Argon2id key from
    # the password (salt and cost stored beside it).
    public_key = models.BinaryField()
    sealed_private_key = models.BinaryField()
    kdf_salt = models.BinaryField()
    kdf_opslimit = models.PositiveIntegerField()
    kdf_memlimit = models.PositiveBigIntegerField()
    language = models.CharField(max_length=10, default="en")
    time_zone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)  # type: ignore[assignment,misc]
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = MemberManager()

    USERNAME_FIELD = "handle"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["handle"]

    def __str__(self) -> str:
        return self.handle

    @property
    def is_approved(self) -> bool:
        return self.status == MemberStatus.ACTIVE and self.is_active

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR


class Invitation(SealedModel):
    """A one-time link for a new member to set a password and create a key pair.

    Only a digest of the token is stored. A coordinator approves the member
    after comparing key fingerprints; only then are keys wrapped to them.
    """

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="invitations"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    cell = models.ForeignKey("cells.Cell", null=True, blank=True, on_delete=models.CASCADE)
    token_digest = models.CharField(max_length=64, unique=True)
    display_name = SealedField(compartment="organisation.coordinators_compartment")
    created_by = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.OneToOneField(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
