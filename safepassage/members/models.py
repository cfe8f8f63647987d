"""Members log in with a handle; their name and private key are sealed."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin

from safepassage.roles import Role
from safepassage.vault.fields import SealedField, SealedModel


class MemberStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    ACTIVE = "active", _("Active")
    REMOVED = "removed", _("Removed")


class MemberManager(BaseUserManager["Member"]):
    def get_by_natural_key(self, username):
        # A decoy shares its member's handle; the handle names the member.
        return self.get(handle=username, decoy_of__isnull=True)


# django-otp's device manager is untyped, so its reverse manager cannot be resolved.
class Member(SealedModel, AbstractBaseUser):  # type: ignore[django-manager-missing]
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="members"
    )
    # Unique among real members (see Meta); a decoy carries its member's handle.
    handle = models.CharField(_("handle"), max_length=40)
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(
        max_length=20, choices=MemberStatus.choices, default=MemberStatus.AWAITING_APPROVAL
    )
    display_name = SealedField(compartment="organisation.coordinators_compartment", max_chars=200)
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
    # Raised to end every session of the member at once (log out everywhere,
    # removal): it is part of the session hash Django checks on each request.
    session_generation = models.PositiveIntegerField(default=0)
    # Set on a decoy: the account a duress password opens. It belongs to an
    # organisation of its own (an innocuous cover with members, cases and a
    # past, see ``cover``), carries the member's handle and role, and logging
    # into it raises a duress alert for ``decoy_of``.
    decoy_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="decoys"
    )

    objects = MemberManager()

    USERNAME_FIELD = "handle"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["handle"],
                condition=models.Q(decoy_of__isnull=True),
                name="members_member_handle_unique",
            ),
            # At most one decoy in use per member (retired ones stay, inactive).
            models.UniqueConstraint(
                fields=["decoy_of"],
                condition=models.Q(is_active=True),
                name="members_member_one_active_decoy",
            ),
        ]

    def __str__(self) -> str:
        return self.handle

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's session hash (password hash) with the session generation
        mixed in, so raising the generation ends every session of the member."""
        key_salt = "safepassage.members.Member.get_session_auth_hash"
        return salted_hmac(
            key_salt,
            f"{self.password}|{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def is_decoy(self) -> bool:
        return self.decoy_of_id is not None

    @property
    def is_approved(self) -> bool:
        return self.status == MemberStatus.ACTIVE and self.is_active

    @property
    def is_disabled(self) -> bool:
        """Disabled pending review: their cell was declared compromised. They
        hold no key and cannot log in until a coordinator reinstates them."""
        return self.status == MemberStatus.ACTIVE and not self.is_active

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
    display_name = SealedField(compartment="organisation.coordinators_compartment", max_chars=200)
    created_by = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.OneToOneField(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Handles refused on the join page: the page would otherwise let whoever
    # holds the link probe, without end, which handles exist anywhere on the
    # server. At MAX_REFUSED_HANDLES the link stops working.
    refused_handles = models.PositiveSmallIntegerField(default=0)


class SecondFactorDevice(ThrottlingMixin, Device):
    """A coordinator's authenticator app (TOTP, RFC 6238, through django-otp).

    The shared secret is sealed to the member's public key, so it opens only
    after their password has unlocked their private key: a database dump does
    not give it away. When the member has a decoy (duress password), a second
    copy is sealed to the decoy's public key, so that a duress login asks for
    and accepts the very same codes as a real one. Failed codes slow down
    exponentially (django-otp's throttling); a code is accepted once.
    """

    sealed_secret = models.BinaryField()
    decoy_sealed_secret = models.BinaryField(null=True, blank=True)
    # The time step of the last code accepted: an older or equal one is refused.
    last_t = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(auto_now_add=True)

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "SECOND_FACTOR_THROTTLE_FACTOR", 1))


class LoginThrottle(models.Model):
    """The failed logins counted against one typed handle (``members.lockout``).

    Keyed by a digest of whatever was typed, not by a member: a handle nobody
    has gets a row exactly like a member's, so neither the answers nor the
    table tell them apart, and a dump cannot be matched against a list of
    handles without the environment's secret key. No address, browser or
    password is stored.
    """

    handle_digest = models.CharField(max_length=64, unique=True)
    # Failures in a row (reset by a login, forgotten after a quiet day); each
    # attempt is counted as one before its password is checked.
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # The next attempt for this handle is refused, unchecked, before this time.
    not_before = models.DateTimeField(null=True, blank=True)
    # The alert window: failures since ``window_started_at`` (at most an hour ago).
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_failures = models.PositiveIntegerField(default=0)
    # Set when a window reaches the alert threshold; the worker raises the
    # alert (if a member has the handle) and sets ``alerted_at``.
    attack_noticed_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["attack_noticed_at"])]
