"""Where webhooks may go, and how they are signed.

A member's webhook address must not reach the server's own network (loopback,
private, link-local, metadata...), checked when it is set and again, on the
resolved addresses, at every delivery; redirects are never followed; each
delivery is signed the Standard Webhooks way, so an old one replayed fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from safepassage.alerts.models import AlertKind
from safepassage.checkins.services import do_report_problem
from safepassage.core.errors import ServiceError
from safepassage.notifications import delivery as delivery_module
from safepassage.notifications.addresses import seal_address
from safepassage.notifications.delivery import SIGNATURE_HEADER, deliver_due
from safepassage.notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    NotificationAddress,
)
from safepassage.notifications.services import do_set_webhook
from safepassage.vault import crypto
from safepassage.vault.keyring import unlocked
from tests.alerts.support import start_first_leg

from .support import INTERNAL_HOST, PUBLIC_ADDRESS, Hook, allow_internal_host

pytestmark = pytest.mark.django_db

# One URL per forbidden class, as a literal or as a name that resolves there.
FORBIDDEN = {
    "plain http to a public host": "http://hooks.example.org/in",
    "loopback": "https://127.0.0.1/in",
    "loopback, decimal form": "https://2130706433/in",
    "loopback, short form": "https://127.1/in",
    "loopback IPv6": "https://[::1]/in",
    "a name for loopback": "https://localhost/in",
    "private 10/8": "https://10.1.2.3/in",
    "private 172.16/12": "https://172.16.0.9/in",
    "private 192.168/16": "https://192.168.1.20/in",
    "unique local IPv6": "https://[fc00::5]/in",
    "shared address space": "https://100.64.0.1/in",
    "link-local": "https://169.254.10.10/in",
    "link-local IPv6": "https://[fe80::1]/in",
    "cloud metadata": "https://169.254.169.254/latest/meta-data/",
    "cloud metadata IPv6": "https://[fd00:ec2::254]/latest/meta-data/",
    "cloud metadata by name": "https://metadata.example/computeMetadata/v1/",
    "IPv4-mapped loopback": "https://[::ffff:127.0.0.1]/in",
    "IPv4-mapped metadata": "https://[::ffff:169.254.169.254]/in",
    "multicast": "https://224.0.0.251/in",
    "multicast IPv6": "https://[ff02::1]/in",
    "unspecified": "https://0.0.0.0/in",
    "unspecified IPv6": "https://[::]/in",
    "reserved": "https://240.0.0.1/in",
    "documentation range": "https://192.0.2.10/in",
    "one public and one private answer": "https://split.example/in",
}


@pytest.fixture
def dns(fake_dns):
    fake_dns.names.update(
        {
            "hooks.example.org": [PUBLIC_ADDRESS],
            "localhost": ["127.0.0.1", "::1"],
            "metadata.example": ["169.254.169.254"],
            "split.example": [PUBLIC_ADDRESS, "10.0.0.7"],
        }
    )
    return fake_dns


def report_problem(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        return do_report_problem(
            actor=member, leg=leg, kind=AlertKind.POLICE_CHECK, details="checkpoint"
        )


# --- when the address is set ----------------------------------------------------------


def test_each_forbidden_address_class_is_refused_when_set(world, dns):
    member, ring = world.member(0)  # a cell member sets their own webhook
    accepted = []
    with unlocked(ring):
        for label, url in FORBIDDEN.items():
            try:
                do_set_webhook(actor=member, url=url)
            except ServiceError:
                continue
            accepted.append(label)
    assert accepted == []
    assert not NotificationAddress.objects.exists()


def test_a_public_https_address_is_accepted(world, dns):
    member, ring = world.member(0)
    with unlocked(ring):
        secret = do_set_webhook(actor=member, url="https://hooks.example.org/in")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert NotificationAddress.objects.filter(member=member, channel="webhook").exists()


def test_a_host_that_does_not_resolve_is_refused(world, dns):
    with unlocked(world.coord_keyring), pytest.raises(ServiceError, match="could not be found"):
        do_set_webhook(actor=world.coord, url="https://nowhere.example/in")


def test_an_internal_host_allows_http_and_private_addresses_for_its_organisation_only(world, dns):
    dns.names[INTERNAL_HOST] = ["10.0.0.7"]
    member, ring = world.member(0)
    with unlocked(ring), pytest.raises(ServiceError, match="http"):
        do_set_webhook(actor=member, url=f"http://{INTERNAL_HOST}:8080/in")
    allow_internal_host(world)
    with unlocked(ring):
        do_set_webhook(actor=member, url=f"http://{INTERNAL_HOST}:8080/in")
    # Another organisation's member gains nothing from this organisation's list.
    from tests.factories import OrganisationFactory

    other = OrganisationFactory()
    with unlocked(other.keyring), pytest.raises(ServiceError):
        do_set_webhook(actor=other.founder, url=f"http://{INTERNAL_HOST}:8080/in")


def test_metadata_is_refused_even_for_an_internal_host(world, dns):
    dns.names[INTERNAL_HOST] = ["169.254.169.254"]
    allow_internal_host(world)
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_set_webhook(actor=world.coord, url=f"http://{INTERNAL_HOST}/latest/meta-data/")
    with unlocked(world.coord_keyring), pytest.raises(ServiceError, match="metadata"):
        allow_internal_host(world, "169.254.169.254")


def test_a_secret_of_the_wrong_form_is_refused(world, dns):
    with unlocked(world.coord_keyring):
        for secret in ("a-shared-secret-of-some-length", "whsec_not base64!", "whsec_c2hvcnQ="):
            with pytest.raises(ServiceError, match="whsec_"):
                do_set_webhook(actor=world.coord, url="https://hooks.example.org/", secret=secret)
        mine = "whsec_" + base64.b64encode(b"k" * 32).decode()
        assert do_set_webhook(actor=world.coord, url="https://hooks.example.org/", secret=mine) == (
            mine
        )


# --- when it is delivered ---------------------------------------------------------------


def test_a_host_resolving_to_loopback_at_delivery_time_is_refused(world, dns):
    receiver = Hook()  # listening on 127.0.0.1: it must see no connection at all
    try:
        with unlocked(world.coord_keyring):
            do_set_webhook(actor=world.coord, url=f"https://hooks.example.org:{receiver.port}/in")
        # The name was public when set; now it answers loopback (rebinding).
        dns.names["hooks.example.org"] = ["127.0.0.1"]
        alert = report_problem(world)

        assert deliver_due(now=alert.raised_at) == 0

        assert receiver.connections == 0
        delivery = Delivery.objects.get(notification__alert=alert)
        assert delivery.status == DeliveryStatus.PENDING  # retried, not dropped
        (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
        assert attempt.error == "webhook:refused-loopback"
    finally:
        receiver.close()


def test_the_connection_goes_to_the_address_that_was_checked(world, dns, monkeypatch):
    # A name that answers public to the first lookup and loopback afterwards:
    # the worker must connect to the address it checked, not look it up again.
    answers = iter([[PUBLIC_ADDRESS], [PUBLIC_ADDRESS]])
    dns.names["flip.example"] = lambda: next(answers, ["127.0.0.1"])
    with unlocked(world.coord_keyring):
        do_set_webhook(actor=world.coord, url="https://flip.example/in")  # first lookup
    connected_to = []

    def refuse_connection(address, *args, **kwargs):
        connected_to.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(socket, "create_connection", refuse_connection)
    alert = report_problem(world)

    deliver_due(now=alert.raised_at)

    assert connected_to == [(PUBLIC_ADDRESS, 443)]
    assert dns.lookups.count("flip.example") == 2  # once when set, once per attempt


def test_a_redirect_is_not_followed_and_the_delivery_is_retried(world, dns, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    allow_internal_host(world)
    elsewhere = Hook()
    first = Hook()
    first.status = 302
    first.location = elsewhere.url
    try:
        with unlocked(world.coord_keyring):
            do_set_webhook(actor=world.coord, url=first.url)
        alert = report_problem(world)

        assert deliver_due(now=alert.raised_at) == 0

        assert len(first.posts) == 1
        assert elsewhere.requests == [] and elsewhere.connections == 0
        delivery = Delivery.objects.get(notification__alert=alert)
        assert delivery.status == DeliveryStatus.PENDING
        assert DeliveryAttempt.objects.get(delivery=delivery).error == "webhook:http-302"
        # Retried per the usual rules, and after the last attempt it stays on
        # the record as failed.
        deliver_due(now=delivery.next_attempt_at)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2
        assert len(first.posts) == 2 and elsewhere.requests == []
    finally:
        first.close()
        elsewhere.close()


# --- signatures -----------------------------------------------------------------------------


@pytest.fixture
def hook(world, fake_dns):
    allow_internal_host(world)
    receiver = Hook()
    try:
        yield receiver
    finally:
        receiver.close()


def test_the_delivery_verifies_with_standard_webhooks(world, hook):
    with unlocked(world.coord_keyring):
        secret = do_set_webhook(actor=world.coord, url=hook.url)
    alert = report_problem(world)
    deliver_due(now=alert.raised_at)
    [(headers, body)] = hook.posts

    payload = Webhook(secret).verify(body, headers)

    delivery = Delivery.objects.get(notification__alert=alert)
    assert payload["id"] == str(delivery.pk)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["webhook-id"] == str(delivery.pk)
    assert abs(int(lowered["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert lowered["webhook-signature"].startswith("v1,")
    # The legacy header is still sent, over the body alone.
    assert crypto.webhook_signature_valid(secret, body, headers[SIGNATURE_HEADER])
    # A forged body fails.
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"notification", b"notificatioN"), headers)


def test_a_replay_older_than_the_tolerance_fails(world, hook, monkeypatch):
    with unlocked(world.coord_keyring):
        secret = do_set_webhook(actor=world.coord, url=hook.url)
    # A delivery captured ten minutes ago, resent now.
    monkeypatch.setattr(
        delivery_module, "signing_time", lambda: datetime.now(UTC) - timedelta(minutes=10)
    )
    alert = report_problem(world)
    deliver_due(now=alert.raised_at)
    [(headers, body)] = hook.posts

    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers)
    # Giving it a fresh timestamp breaks the signature instead.
    fresh = {k: v for k, v in headers.items() if k.lower() != "webhook-timestamp"}
    fresh["webhook-timestamp"] = str(int(datetime.now(UTC).timestamp()))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body, fresh)


def test_a_secret_set_before_the_whsec_form_still_signs_compatibly(world, hook):
    # A secret stored by an earlier version (any string of 16+ characters).
    old_secret = "a-shared-secret-of-some-length"
    row = NotificationAddress(member=world.coord, channel="webhook")
    seal_address(row, target=hook.url, secret=old_secret)
    row.save()
    alert = report_problem(world)
    deliver_due(now=alert.raised_at)
    [(headers, body)] = hook.posts

    # The legacy header is exactly what the old receiver computes...
    legacy = "sha256=" + hmac.new(old_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == legacy
    # ...and the Standard Webhooks form of the old secret is whsec_ + its base64.
    as_whsec = "whsec_" + base64.b64encode(old_secret.encode()).decode()
    assert json.loads(body) == Webhook(as_whsec).verify(body, headers)
