"""Delivery: email to a real SMTP server on loopback, signed webhooks, retries, the log."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from safepassage.alerts.models import AlertKind
from safepassage.checkins.services import do_report_problem
from safepassage.notifications.addresses import open_address
from safepassage.notifications.delivery import (
    FIXED_TEXT,
    SIGNATURE_HEADER,
    claim_due,
    deliver_due,
)
from safepassage.notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    NotificationAddress,
)
from safepassage.notifications.services import do_set_email_address, do_set_webhook
from safepassage.vault import crypto
from safepassage.vault.keyring import unlocked
from tests.alerts.support import start_first_leg

from .support import PUBLIC_ADDRESS, Hook, allow_internal_host

pytestmark = pytest.mark.django_db

SECRETS = ("Camellia", "Yanji", "Changchun", "Traveller", "checkpoint", "Heron")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def hook(world, fake_dns):
    """A receiver on the organisation's internal host (listed by its coordinator)."""
    allow_internal_host(world)
    receiver = Hook()
    try:
        yield receiver
    finally:
        receiver.close()


def report_problem(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        return do_report_problem(
            actor=member, leg=leg, kind=AlertKind.POLICE_CHECK, details="checkpoint at the bridge"
        )


def test_address_is_sealed_under_the_dispatch_key(world, settings):
    with unlocked(world.coord_keyring):
        do_set_email_address(actor=world.coord, email="heron-watch@example.org")
    row = NotificationAddress.objects.get(member=world.coord)
    assert b"heron-watch" not in bytes(row.sealed_target)
    assert open_address(row).target == "heron-watch@example.org"
    # Moved to another member's row, it no longer opens.
    row.member_id = world.coord2.pk
    with pytest.raises(crypto.SealBroken):
        open_address(row)
    # Without the right dispatch key, nothing opens.
    row.member_id = world.coord.pk
    settings.SAFEPASSAGE_DISPATCH_KEY = "11" * 32
    with pytest.raises(crypto.SealBroken):
        open_address(row)


def test_email_reaches_a_real_smtp_server_and_says_nothing(world, smtp_server):
    with unlocked(world.coord_keyring):
        do_set_email_address(actor=world.coord, email="heron-watch@example.org")
    alert = report_problem(world)
    delivery = Delivery.objects.get(notification__alert=alert)
    assert delivery.channel == "email" and delivery.status == DeliveryStatus.PENDING

    assert deliver_due(now=alert.raised_at) == 1
    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["heron-watch@example.org"]
    text = envelope.content.decode("utf-8", "replace")
    assert FIXED_TEXT in text
    assert "/notifications/" in text
    for secret in (*SECRETS, str(alert.pk), alert.kind):
        assert secret not in text, secret
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("ok", flat=True)) == [
        True
    ]
    # Sent once: another pass sends nothing.
    assert deliver_due(now=alert.raised_at + timedelta(hours=1)) == 0
    assert len(smtp_server.envelopes) == 1


def test_failed_email_is_retried_with_backoff_and_logged(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.NOTIFY_BACKOFF_SECONDS = 30
    settings.NOTIFY_MAX_ATTEMPTS = 3
    with unlocked(world.coord_keyring):
        do_set_email_address(actor=world.coord, email="heron-watch@example.org")
    alert = report_problem(world)
    t0 = alert.raised_at
    assert deliver_due(now=t0) == 0
    delivery = Delivery.objects.get(notification__alert=alert)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
    # Not before its time; then again with the wait doubled.
    assert claim_due(now=t0 + timedelta(seconds=29)) == []
    deliver_due(now=t0 + timedelta(seconds=30))
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30 + 60)
    deliver_due(now=t0 + timedelta(seconds=90))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    log = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("attempt"))
    assert [a.attempt for a in log] == [1, 2, 3]
    assert all(not a.ok and a.error.startswith("smtp:") for a in log)
    assert all("heron" not in a.error for a in log)


def test_a_claim_left_by_a_killed_worker_is_taken_over(world, smtp_server):
    with unlocked(world.coord_keyring):
        do_set_email_address(actor=world.coord, email="heron-watch@example.org")
    alert = report_problem(world)
    t0 = alert.raised_at
    [claimed] = claim_due(now=t0)  # a worker claims it, then dies before sending
    delivery = Delivery.objects.get(pk=claimed.delivery.pk)
    assert delivery.status == DeliveryStatus.SENDING
    assert deliver_due(now=t0 + timedelta(seconds=60)) == 0  # the claim still holds
    assert deliver_due(now=delivery.claimed_until + timedelta(seconds=1)) == 1
    assert len(smtp_server.envelopes) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2


def test_webhook_is_signed_and_a_tampered_body_fails(world, hook):
    with unlocked(world.coord_keyring):
        secret = do_set_webhook(actor=world.coord, url=hook.url)
    alert = report_problem(world)
    assert deliver_due(now=alert.raised_at) == 1
    [(headers, body)] = hook.posts
    signature = headers[SIGNATURE_HEADER]
    assert signature.startswith("sha256=")
    assert crypto.webhook_signature_valid(secret, body, signature)
    # Any change to the body breaks the signature, and so does a wrong secret.
    tampered = body.replace(b"safepassage", b"safepassagE")
    assert tampered != body
    assert not crypto.webhook_signature_valid(secret, tampered, signature)
    assert not crypto.webhook_signature_valid(secret + "x", body, signature)
    payload = json.loads(body)
    delivery = Delivery.objects.get(notification__alert=alert)
    assert payload == {
        "id": str(delivery.pk),
        "type": "notification",
        "text": FIXED_TEXT,
        "link": payload["link"],
    }
    assert payload["link"].endswith("/notifications/")
    for secret_word in (*SECRETS, str(alert.pk)):
        assert secret_word not in body.decode()


def test_webhook_retries_carry_the_same_idempotency_id(world, hook):
    hook.status = 503
    with unlocked(world.coord_keyring):
        do_set_webhook(actor=world.coord, url=hook.url, secret=crypto.new_webhook_secret())
    alert = report_problem(world)
    assert deliver_due(now=alert.raised_at) == 0
    delivery = Delivery.objects.get(notification__alert=alert)
    assert DeliveryAttempt.objects.get(delivery=delivery).error == "webhook:http-503"
    hook.status = 200
    delivery.refresh_from_db()
    assert deliver_due(now=delivery.next_attempt_at) == 1
    first, second = (json.loads(body) for _headers, body in hook.posts)
    assert first["id"] == second["id"] == str(delivery.pk)


def test_bad_addresses_are_refused(world, fake_dns):
    from safepassage.core.errors import ServiceError

    fake_dns.names["example.org"] = [PUBLIC_ADDRESS]

    with unlocked(world.coord_keyring):
        with pytest.raises(ServiceError):
            do_set_email_address(actor=world.coord, email="not an email")
        with pytest.raises(ServiceError):
            do_set_webhook(actor=world.coord, url="ftp://example.org/hook")
        with pytest.raises(ServiceError):
            do_set_webhook(actor=world.coord, url="https://example.org/hook", secret="short")
    assert not NotificationAddress.objects.exists()
