"""Documented failure 1, end to end over HTTP: a broker makes an unscheduled
stop, the cell reports it from the field page, and the alert is waiting in
the coordinator's inbox."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from safepassage.alerts.models import Alert, AlertKind, AlertStatus
from safepassage.journeys.models import JourneyStatus
from safepassage.journeys.services import do_start_journey
from safepassage.vault.keyring import unlocked
from tests.conftest import vault_login
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

DETAILS = "Driver stopped at a petrol station near Siping, 20 minutes, camera over the pumps"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _browser(member, keyring) -> Client:
    client = Client(enforce_csrf_checks=True)
    vault_login(client, member, keyring)
    return client


def test_an_unscheduled_stop_reported_in_the_field_reaches_the_coordinators_inbox(world):
    # The coordinator starts the journey.
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    world.journey.refresh_from_db()
    assert world.journey.status == JourneyStatus.ACTIVE

    # The driver opens their legs, then their leg, and reports the stop.
    driver, driver_ring = world.member(0)
    phone = _browser(driver, driver_ring)
    my_legs = phone.get(reverse("field:my_legs")).content.decode()
    leg_url = reverse("field:leg", kwargs={"leg": world.legs[0].pk})
    assert f'href="{leg_url}"' in my_legs
    leg_page = phone.get(leg_url).content.decode()
    report_url = reverse("field:report_problem", kwargs={"leg": world.legs[0].pk})
    assert f'action="{report_url}"' in leg_page
    assert 'value="unscheduled_stop"' in leg_page
    response = phone.post(
        report_url,
        {
            "csrfmiddlewaretoken": CSRF.search(leg_page).group(1),
            "kind": "unscheduled_stop",
            "details": DETAILS,
        },
    )
    assert response.status_code == 302
    confirmation = phone.get(response["Location"]).content.decode()
    assert "Your coordinators have been alerted." in confirmation

    alert = Alert.objects.get()
    assert alert.kind == AlertKind.UNSCHEDULED_STOP
    assert alert.status == AlertStatus.OPEN
    assert alert.leg_id == world.legs[0].pk

    # The coordinator finds it in the inbox, with the details the driver wrote.
    desk = _browser(world.coord, world.coord_keyring)
    inbox = desk.get(reverse("alerts:list"))
    assert inbox.status_code == 200
    body = inbox.content.decode()
    detail_url = reverse("alerts:detail", args=[alert.pk])
    row = re.search(rf'<a href="{detail_url}">([^<]+)</a>(.*?)</tr>', body, re.S)
    assert row, "the alert is not in the inbox"
    assert row.group(1) == "Unscheduled stop"
    # Named by its case, journey and leg.
    assert "Camellia" in row.group(2) and "North route" in row.group(2)
    assert "leg 1" in row.group(2)
    assert "Alerts (1)" in body
    detail = desk.get(detail_url).content.decode()
    assert DETAILS in detail
    assert f'action="{reverse("alerts:acknowledge", args=[alert.pk])}"' in detail

    # The case's other coordinator sees it too; another organisation does not.
    assert (
        detail_url
        in _browser(world.coord2, world.coord2_keyring).get(reverse("alerts:list")).content.decode()
    )
    other = OrganisationFactory()
    elsewhere = _browser(other.founder, other.keyring)
    assert detail_url not in elsewhere.get(reverse("alerts:list")).content.decode()
    assert elsewhere.get(detail_url).status_code == 404
