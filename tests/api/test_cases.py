"""Cases over the API (coordinators only)."""

from __future__ import annotations

import pytest

from safepassage.cases.models import Traveller

from .helpers import case_url, cases_url, handoffs

pytestmark = pytest.mark.django_db


def test_coordinator_lists_their_cases(client, world, login):
    login(world.coord, world.coord_keyring)
    rows = {row["codename"]: row for row in client.get(cases_url()).json()}
    assert set(rows) == {"Camellia", "Wisteria"}
    assert rows["Camellia"]["id"] == str(world.case.pk)
    assert rows["Camellia"]["status"] == "planning"
    assert rows["Camellia"]["traveller_count"] == 1


def test_second_coordinator_lists_only_the_case_they_coordinate(client, world, login):
    login(world.coord2, world.coord2_keyring)
    rows = client.get(cases_url()).json()
    assert [row["codename"] for row in rows] == ["Camellia"]


def test_case_detail_has_travellers_and_journeys_with_legs(client, world, login):
    login(world.coord, world.coord_keyring)
    response = client.get(case_url(world.case))
    assert response.status_code == 200
    case = response.json()
    assert case["codename"] == "Camellia"
    assert case["traveller_count"] == 1
    (traveller,) = case["travellers"]
    assert traveller["name"] == "Traveller Secret-Name"
    assert traveller["phone"] == "+86 139 0000 1111"
    (journey,) = case["journeys"]
    assert journey["title"] == "North route"
    assert journey["status"] == "planning"
    assert [leg["route"] for leg in journey["legs"]] == [
        "Yanji to Changchun",
        "Changchun to Dandong",
    ]
    assert [leg["cell_codename"] for leg in journey["legs"]] == ["Heron", "Otter"]
    pickup, middle, arrival = handoffs(world)
    first, second = journey["legs"]
    assert first["start_handoff"]["id"] == str(pickup.pk)
    assert first["end_handoff"]["id"] == second["start_handoff"]["id"] == str(middle.pk)
    assert second["end_handoff"]["id"] == str(arrival.pk)
    assert first["end_handoff"]["signal"] == "umbrella in the right hand"


def test_case_detail_queries_do_not_grow_with_the_case(client, world, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safepassage.cases.services import do_add_traveller
    from safepassage.journeys.services import do_add_leg, do_create_journey
    from safepassage.vault.keyring import unlocked

    login(world.coord, world.coord_keyring)
    client.get(case_url(world.case))  # the first request of a session does extra work
    with CaptureQueriesContext(connection) as small:
        assert client.get(case_url(world.case)).status_code == 200
    with unlocked(world.coord_keyring):
        do_add_traveller(actor=world.coord, case=world.case, name="Second Traveller")
        journey = do_create_journey(actor=world.coord, case=world.case, title="Fallback")
        for cell in world.cells:
            do_add_leg(actor=world.coord, journey=journey, cell=cell, route="r")
    with CaptureQueriesContext(connection) as large:
        response = client.get(case_url(world.case))
    assert len(response.json()["journeys"]) == 2
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]


def test_tampered_traveller_name_is_409(client, world, login):
    traveller = Traveller.objects.get(case=world.case)
    raw = bytearray(Traveller.objects.filter(pk=traveller.pk).values_list("name", flat=True).get())
    raw[-1] ^= 0x01
    Traveller.objects.filter(pk=traveller.pk).update(name=bytes(raw))
    login(world.coord, world.coord_keyring)
    response = client.get(case_url(world.case))
    assert response.status_code == 409
    assert response.json() == {"detail": "This record failed its integrity check."}
