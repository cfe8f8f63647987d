"""The PIN page (cell members) and the check-in plan page (case coordinators)."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse

from safepassage.checkins.models import CheckinPlan, MemberPins
from tests.dashboard.permissions import assert_matrix

pytestmark = pytest.mark.django_db


def test_plan_page_permission_matrix(client, world):
    assert_matrix(client, world, record_urls=[reverse("checkins:plan", args=[world.legs[0].pk])])


def test_coordinator_sets_a_plan(client, login, world):
    login(world.coord, world.coord_keyring)
    url = reverse("checkins:plan", args=[world.legs[0].pk])
    page = client.get(url)
    assert page.status_code == 200 and 'value="60"' in page.content.decode()
    response = client.post(
        url, {"departed_grace": 5, "interval": 2, "interval_grace": 5, "handed_off_grace": 5}
    )
    assert response.status_code == 200  # 2 minutes is refused by the service
    assert CheckinPlan.objects.get(leg=world.legs[0]).interval == 60
    response = client.post(
        url, {"departed_grace": 5, "interval": 45, "interval_grace": 5, "handed_off_grace": 5}
    )
    assert response.status_code == 302
    assert CheckinPlan.objects.get(leg=world.legs[0]).interval == 45


def test_pins_page_is_for_cell_members_only(client, login, world):
    url = reverse("checkins:pins")
    assert client.get(url).status_code == 302  # anonymous: to the login page
    login(world.coord, world.coord_keyring)
    assert client.get(url).status_code == 404
    member, ring = world.member(0)
    login(member, ring)
    assert client.get(url).status_code == 200
    assert client.post(url, {"checkin_pin": "1234", "duress_pin": "1234"}).status_code == 200
    assert not MemberPins.objects.exists()
    response = client.post(url, {"checkin_pin": "1234", "duress_pin": "9876"})
    assert response.status_code == 302
    pins = MemberPins.objects.get(member=member)
    assert check_password("9876", pins.duress_pin) and check_password("1234", pins.checkin_pin)
    assert response["Cache-Control"].find("no-store") >= 0
