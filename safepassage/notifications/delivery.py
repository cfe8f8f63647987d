"""Sending the outbox: email over SMTP and signed webhooks, with retries.

1. claim: in a short transaction, take due rows (``pending`` and due, or
   ``sending`` with an expired claim) with ``SKIP LOCKED`` on PostgreSQL,
   mark them ``sending`` until ``claimed_until`` under a fresh claim id;
2. send each one outside any transaction;
3. record the attempt in the delivery log and settle the row (sent, retry
   later with exponential backoff, or failed after the last attempt), but
   only while the claim is still ours.

A worker killed between 2 and 3 leaves a claim that expires; the row is then
sent again. Delivery is therefore at least once: the webhook body carries the
delivery id as an idempotency key, so a bridge can drop a repeat.

Webhooks follow the Standard Webhooks scheme: ``webhook-id`` (the delivery
id, the same on every retry), ``webhook-timestamp`` (the attempt's time) and
``webhook-signature`` over ``id.timestamp.body``, so a receiver refuses an
old delivery replayed. The legacy ``X-Safepassage-Signature`` (body only) is
sent alongside until version 0.2. Where a webhook may go, and the connection
to exactly the address checked, is ``egress``; a refused address, a redirect
or any other failure is a failed attempt, retried like the rest.

What is sent is fixed: "Something needs you in safepassage" and a link to
the notifications page. No name, place, kind of alert or id of a record.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage.vault import crypto

from . import egress
from .addresses import OpenedAddress, internal_hosts, open_address
from .models import Channel, Delivery, DeliveryAttempt, DeliveryStatus, NotificationAddress

log = logging.getLogger("safepassage.notifications")

# The legacy signature header (HMAC of the body alone); see the module docstring.
SIGNATURE_HEADER = "X-Safepassage-Signature"
FIXED_TEXT = "Something needs you in safepassage"


class DeliveryFailed(Exception):
    """A send failed; the message is a short code for the log (no content)."""


def notifications_link() -> str:
    return settings.SAFEPASSAGE_BASE_URL.rstrip("/") + reverse("notifications:list")


def webhook_body(delivery: Delivery) -> bytes:
    """The JSON a webhook receives. ``id`` is the same on every retry."""
    return json.dumps(
        {
            "id": str(delivery.id),
            "type": "notification",
            "text": FIXED_TEXT,
            "link": notifications_link(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def send_email(delivery: Delivery, address: OpenedAddress) -> None:
    link = notifications_link()
    message = EmailMessage(
        subject=_("Something needs you in safepassage"),
        body=_("Something needs you in safepassage.\n\nOpen it here: %(link)s\n") % {"link": link},
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address.target],
        headers={"X-Safepassage-Delivery": str(delivery.id)},
    )
    try:
        with get_connection(timeout=settings.EMAIL_TIMEOUT) as conn:
            if conn.send_messages([message]) != 1:
                raise DeliveryFailed("smtp:not-sent")
    except DeliveryFailed:
        raise
    except Exception as exc:  # SMTP and socket errors alike
        raise DeliveryFailed(f"smtp:{type(exc).__name__}") from exc


def signing_time() -> datetime:
    """The clock a webhook's ``webhook-timestamp`` is read from (the receiver
    compares it with its own clock, so this is the wall clock, not the tick's
    ``now``)."""
    return datetime.now(UTC)


def send_webhook(delivery: Delivery, address: OpenedAddress) -> None:
    organisation_id = delivery.notification.organisation_id
    try:
        target = egress.check_url(address.target, internal_hosts=internal_hosts(organisation_id))
        addresses = egress.resolve_checked(target)
    except egress.AddressRefused as exc:
        raise DeliveryFailed(f"webhook:refused-{exc.code}") from exc
    body = webhook_body(delivery)
    headers = {"Content-Type": "application/json", "User-Agent": "safepassage"}
    if address.secret:
        headers.update(
            crypto.webhook_signature_headers(
                address.secret, message_id=str(delivery.id), timestamp=signing_time(), body=body
            )
        )
        headers[SIGNATURE_HEADER] = crypto.sign_webhook(address.secret, body)
    try:
        status = egress.post(
            target, addresses, body, headers, timeout=settings.NOTIFY_TIMEOUT_SECONDS
        )
    except Exception as exc:  # refused connections, TLS errors, timeouts, resets
        raise DeliveryFailed(f"webhook:{type(exc).__name__}") from exc
    if not 200 <= status < 300:  # a redirect (3xx) included: never followed
        raise DeliveryFailed(f"webhook:http-{status}")


SENDERS: dict[str, Callable[[Delivery, OpenedAddress], None]] = {
    Channel.EMAIL: send_email,
    Channel.WEBHOOK: send_webhook,
}


def backoff(attempts: int) -> timedelta:
    """Seconds before the next try after ``attempts`` tries: doubled each time, capped."""
    seconds = settings.NOTIFY_BACKOFF_SECONDS * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.NOTIFY_BACKOFF_CAP_SECONDS))


def _due(now: datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


@dataclass
class Claimed:
    delivery: Delivery
    claim: uuid.UUID


def claim_due(*, now: datetime, batch: int = 50) -> list[Claimed]:
    """Mark up to ``batch`` due deliveries as ours for the claim period."""
    if not Delivery.objects.filter(_due(now)).exists():
        return []  # no write transaction (and no SQLite write lock) when idle
    claimed = []
    with transaction.atomic():
        qs = Delivery.objects.filter(_due(now)).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        rows = list(qs[:batch])
        until = now + timedelta(seconds=settings.NOTIFY_CLAIM_SECONDS)
        for row in rows:
            claim = uuid.uuid4()
            row.status = DeliveryStatus.SENDING
            row.claim = claim
            row.claimed_until = until
            row.attempts += 1
            row.save(update_fields=["status", "claim", "claimed_until", "attempts"])
            claimed.append(Claimed(row, claim))
    return claimed


def _settle(item: Claimed, *, ok: bool, error: str, duration_ms: int, now: datetime) -> None:
    delivery = item.delivery
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempt=delivery.attempts,
            at=now,
            ok=ok,
            error=error[:100],
            duration_ms=duration_ms,
        )
        mine = Delivery.objects.filter(pk=delivery.pk, claim=item.claim)
        if ok:
            mine.update(status=DeliveryStatus.SENT, sent_at=now, claim=None, claimed_until=None)
        elif delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            mine.update(status=DeliveryStatus.FAILED, claim=None, claimed_until=None)
        else:
            mine.update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=now + backoff(delivery.attempts),
                claim=None,
                claimed_until=None,
            )


def send_one(item: Claimed, *, now: datetime | None = None) -> bool:
    delivery = item.delivery
    started = time.monotonic()
    error = ""
    try:
        member_id = delivery.notification.member_id
        row = NotificationAddress.objects.filter(
            member_id=member_id, channel=delivery.channel
        ).first()
        if row is None:
            raise DeliveryFailed("no-address")
        SENDERS[delivery.channel](delivery, open_address(row))
    except DeliveryFailed as exc:
        error = str(exc)
    except crypto.VaultError as exc:
        error = f"address:{type(exc).__name__}"
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = not error
    if not ok:
        log.warning("delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, error)
    _settle(item, ok=ok, error=error, duration_ms=duration_ms, now=now or timezone.now())
    return ok


def deliver_due(*, now: datetime | None = None, batch: int = 50) -> int:
    """Claim, send and settle due deliveries. Returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for item in claim_due(now=now, batch=batch):
        if send_one(item, now=now):
            sent += 1
    return sent
