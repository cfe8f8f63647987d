"""A member's notifications pages: the list, the badge fragment, addresses."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.alerts.models import AlertKind
from safepassage.checkins.services import do_report_problem
from safepassage.notifications.addresses import internal_hosts, open_address
from safepassage.notifications.models import (
    InternalWebhookHosts,
    Notification,
    NotificationAddress,
)
from safepassage.vault.keyring import unlocked
from tests.alerts.support import start_first_leg

from .support import INTERNAL_HOST, PUBLIC_ADDRESS

pytestmark = pytest.mark.django_db

URLS = (
    "notifications:list",
    "notifications:badge",
    "notifications:read",
    "notifications:settings",
    "notifications:internal_hosts",
)


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


def test_setting_addresses(client, login, world, fake_dns):
    fake_dns.names["bridge.example.org"] = [PUBLIC_ADDRESS]
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


def test_a_refused_webhook_address_is_shown_on_the_form(client, login, world, fake_dns):
    member, ring = world.member(0)
    login(member, ring)
    response = client.post(
        reverse("notifications:settings"), {"action": "webhook", "url": "https://10.0.0.7/in"}
    )
    assert response.status_code == 200
    assert "private, local or reserved network address" in response.content.decode()
    assert not NotificationAddress.objects.exists()


# --- the organisation's internal webhook hosts: coordinators only ---------------------------


def test_a_coordinator_sets_the_internal_hosts(client, login, world):
    login(world.coord, world.coord_keyring)
    url = reverse("notifications:internal_hosts")
    assert "No internal host is allowed." in client.get(url).content.decode()

    response = client.post(url, {"hosts": f"{INTERNAL_HOST.upper()}\n\nsignal-bridge.lan.\n"})

    assert response.status_code == 302
    assert internal_hosts(world.org.pk) == {INTERNAL_HOST, "signal-bridge.lan"}
    page = client.get(url).content.decode()
    assert INTERNAL_HOST in page and "signal-bridge.lan" in page
    # The settings page links to it for a coordinator.
    assert url in client.get(reverse("notifications:settings")).content.decode()
    # Refusals are shown and change nothing.
    response = client.post(url, {"hosts": "not a host\n169.254.169.254"})
    assert response.status_code == 200 and "Nothing was saved." in response.content.decode()
    assert internal_hosts(world.org.pk) == {INTERNAL_HOST, "signal-bridge.lan"}
    client.post(url, {"hosts": ""})
    assert not InternalWebhookHosts.objects.exists()


def test_a_cell_member_cannot_see_or_set_the_internal_hosts(client, login, world):
    from safepassage.core.errors import ServiceError
    from safepassage.notifications.services import do_set_internal_webhook_hosts

    member, ring = world.member(0)
    login(member, ring)
    url = reverse("notifications:internal_hosts")

    assert client.get(url).status_code == 404
    assert client.post(url, {"hosts": INTERNAL_HOST}).status_code == 404
    assert url not in client.get(reverse("notifications:settings")).content.decode()
    with unlocked(ring), pytest.raises(ServiceError):
        do_set_internal_webhook_hosts(actor=member, hosts=[INTERNAL_HOST])
    assert not InternalWebhookHosts.objects.exists()


def test_another_organisations_coordinator_sets_only_their_own_list(client, login, world):
    from tests.factories import OrganisationFactory

    other = OrganisationFactory()
    login(world.coord, world.coord_keyring)
    client.post(reverse("notifications:internal_hosts"), {"hosts": INTERNAL_HOST})
    client.logout()
    login(other.founder, other.keyring)

    page = client.get(reverse("notifications:internal_hosts")).content.decode()
    assert INTERNAL_HOST not in page
    client.post(reverse("notifications:internal_hosts"), {"hosts": "other-bridge.lan"})

    assert internal_hosts(world.org.pk) == {INTERNAL_HOST}
    assert internal_hosts(other.founder.organisation_id) == {"other-bridge.lan"}
