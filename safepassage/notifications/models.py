"""Notifications: in-app entries, the outbox of deliveries, and their log.

No notification carries a name, place or detail: every one says the same
fixed sentence and links to the notifications page. Addresses (an email, a
webhook URL and its signing secret) must be usable by the worker while
nobody is logged in, so they are sealed under the dispatch key, an
environment secret that never enters the database (DESIGN.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook")


class NotificationAddress(models.Model):
    """Where one member is told that something needs them, for one channel.

    ``sealed_target`` (the email address or webhook URL) and
    ``sealed_secret`` (the webhook's signing secret) are sealed with
    ``vault.crypto.seal_for_dispatcher``; the associated data binds them to
    this row and field.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_addresses"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    sealed_target = models.BinaryField()
    sealed_secret = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "channel"], name="one_address_per_channel")
        ]


class Topic(models.TextChoices):
    """Which fixed sentence an in-app notification shows. None names a record."""

    ALERT = "alert", _("Something needs you in safepassage.")
    PHRASES_CHANGED = (
        "phrases_changed",
        _(
            "The recognition phrases for one of your handoffs have changed: "
            "read them again on your field page."
        ),
    )


class InternalWebhookHosts(models.Model):
    """The hosts an organisation's members may send webhooks to although they
    are internal (a bridge on the organisation's own network): ``http://`` and
    private or loopback addresses are allowed for them, and only for them.
    Set by a coordinator; read by the worker with nobody logged in, so the
    list (a JSON array of host names) is sealed under the dispatch key like
    the addresses themselves, bound to the organisation's row.
    """

    organisation = models.OneToOneField(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    sealed_hosts = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)


class Notification(models.Model):
    """An in-app notification: one member was told about one alert, or (with
    no alert) one of the fixed sentences of ``Topic``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    alert = models.ForeignKey(
        "alerts.Alert",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    # The escalation level that reached this member (0 cell lead, 1 case, 2 all).
    level = models.PositiveSmallIntegerField(default=0)
    topic = models.CharField(max_length=20, choices=Topic.choices, default=Topic.ALERT)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["member", "read_at"])]
        constraints = [
            # A member is told about an alert once, whichever level reached them.
            models.UniqueConstraint(fields=["alert", "member"], name="one_notification_per_alert")
        ]

    @property
    def sentence(self) -> str:
        """What the notification says, in the active language."""
        return str(Topic(self.topic).label)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """The outbox: one notification to send over one channel.

    Written in the same transaction as the alert that causes it, so a crash
    loses nothing. A worker claims a row (``sending`` until
    ``claimed_until``) in a short transaction, sends outside it, and records
    the attempt; a claim that expires (a killed worker) is taken over.
    The row's id goes in the webhook body as the idempotency key.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_until"]),
        ]


class DeliveryAttempt(models.Model):
    """The delivery log: one row per try, with an error class, never content."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    attempt = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField()
    # A short error code (exception class, HTTP status): never an address or body.
    error = models.CharField(max_length=100, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at"]
