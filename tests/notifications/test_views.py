"""A member's notifications pages: the list, the badge fragment, addresses."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.alerts.models import AlertKind
from safepassage.checkins.services import do_report_problem
from safepassage.notifications.addresses import open_address
from safepassage.notifications.models import Notification, NotificationAddress
from safepassage.vault.keyring import unlocked
from tests.alerts.support import start_first_leg

pytestmark = pytest.mark.django_db

URLS = ("notifications:list", "notifications:badge", "notifications:read", "notifications:settings")


@pytest.fixture
def alerted(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        return do_report_problem(
            actor=member, leg=leg, kind=AlertKind.MEDICAL, details="Traveller Secret-Name fainted"
        )


def test_anonymous_is_sent_to_login(client):
    for name in URLS:
        for method in ("get", "post"):
            response = getattr(client, method)(reverse(name))
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("members:login")), name


def test_list_and_badge_say_only_that_something_needs_you(client, login, world, alerted):
    login(world.coord, world.coord_keyring)
    badge = client.get(reverse("notifications:badge"))
    assert badge.status_code == 200
    assert "1 new notification" in badge.content.decode()
    assert badge["Cache-Control"].find("no-store") >= 0
    page = client.get(reverse("notifications:list")).content.decode()
    assert "Something needs you in safepassage." in page
    assert reverse("alerts:detail", args=[alerted.pk]) in page
    assert "Secret-Name" not in page and "Medical" not in page
    client.post(reverse("notifications:read"))
    assert not Notification.objects.filter(member=world.coord, read_at__isnull=True).exists()
    assert "1 new" not in client.get(reverse("notifications:badge")).content.decode()


def test_members_see_only_their_own_notifications(client, login, world, alerted):
    cell_member, ring = world.member(1)
    login(cell_member, ring)
    assert "new notification" not in client.get(reverse("notifications:badge")).content.decode()
    page = client.get(reverse("notifications:list")).content.decode()
    assert str(alerted.pk) not in page
    client.post(reverse("notifications:read"))
    assert Notification.objects.filter(member=world.coord, read_at__isnull=True).exists()


def test_setting_addresses(client, login, world):
    login(world.coord, world.coord_keyring)
    url = reverse("notifications:settings")
    response = client.post(url, {"action": "email", "email": "not-an-email"})
    assert response.status_code == 200 and not NotificationAddress.objects.exists()
    client.post(url, {"action": "email", "email": "watch@example.org"})
    assert (
        open_address(NotificationAddress.objects.get(channel="email")).target == "watch@example.org"
    )
    response = client.post(url, {"action": "webhook", "url": "https://bridge.example.org/in"})
    row = NotificationAddress.objects.get(channel="webhook")
    secret = open_address(row).secret
    assert secret and secret in response.content.decode()  # shown once, now
    assert secret not in client.get(url).content.decode()
    client.post(url, {"action": "remove", "channel": "email"})
    assert list(NotificationAddress.objects.values_list("channel", flat=True)) == ["webhook"]
