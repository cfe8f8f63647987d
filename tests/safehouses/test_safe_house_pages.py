"""Safe house pages: list with occupancy, create, edit."""

from __future__ import annotations

import re

from django.urls import reverse

from safepassage.journeys.models import TransportKind
from safepassage.journeys.services import do_add_leg, do_mark_leg_started, do_start_journey
from safepassage.safehouses.models import SafeHouse, SafeHouseStatus
from safepassage.safehouses.services import do_create_safe_house
from safepassage.vault.keyring import unlocked
from tests.dashboard.permissions import assert_matrix


def _house(world, capacity=2) -> SafeHouse:
    with unlocked(world.coord_keyring):
        return do_create_safe_house(
            actor=world.coord, codename="Pine Cottage", place="behind the mill", capacity=capacity
        )


def test_permission_matrix(client, world):
    house = _house(world)
    assert_matrix(
        client,
        world,
        record_urls=[reverse("safehouses:edit", args=[house.pk])],
        open_urls=[reverse("safehouses:list"), reverse("safehouses:new")],
        secrets=["Pine Cottage"],
    )
    assert SafeHouse.objects.get(pk=house.pk).status == SafeHouseStatus.AVAILABLE


def test_list_shows_capacity_and_current_occupancy(client, world, login):
    house = _house(world, capacity=3)
    keeper, keeper_ring = world.member(2)
    with unlocked(world.coord_keyring):
        stay = do_add_leg(
            actor=world.coord,
            journey=world.journey,
            cell=world.cells[2],
            safe_house=house,
            transport=TransportKind.STAY,
        )
        do_start_journey(actor=world.coord, journey=world.journey)
    with unlocked(keeper_ring):
        stay.refresh_from_db(fields=["released_at"])  # released by the start
        do_mark_leg_started(actor=keeper, leg=stay)
    login(world.coord)
    body = client.get(reverse("safehouses:list")).content.decode()
    row = re.search(r"Pine Cottage</th>(.*?)</tr>", body, re.S)
    assert row
    numbers = re.findall(r'<td class="num">(\d+)', row.group(1))
    assert numbers == ["1", "3"]  # one traveller staying, room for three


def test_create_a_safe_house_and_refuse_bad_input(client, world, login):
    login(world.coord)
    before = SafeHouse.objects.count()
    response = client.post(
        reverse("safehouses:new"), {"codename": "Reed", "place": "", "capacity": "0"}
    )
    body = response.content.decode()
    assert "This field is required." in body
    assert "Ensure this value is greater than or equal to 1." in body
    assert SafeHouse.objects.count() == before
    response = client.post(
        reverse("safehouses:new"),
        {"codename": "Reed", "place": "river bank", "capacity": "4", "keeper_notes": ""},
    )
    assert response.status_code == 302
    assert "Reed" in client.get(reverse("safehouses:list")).content.decode()


def test_edit_a_safe_house_and_mark_it_burned(client, world, login):
    house = _house(world)
    login(world.coord)
    url = reverse("safehouses:edit", args=[house.pk])
    assert "behind the mill" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "codename": "Pine Cottage",
            "place": "behind the mill",
            "capacity": "2",
            "keeper_notes": "",
            "status": SafeHouseStatus.BURNED,
        },
    )
    assert response.status_code == 302
    assert SafeHouse.objects.get(pk=house.pk).status == SafeHouseStatus.BURNED
    assert "Burned" in client.get(reverse("safehouses:list")).content.decode()
    form = client.get(reverse("journeys:leg_new", args=[world.journey.pk])).content.decode()
    assert f'value="{house.pk}"' not in form
