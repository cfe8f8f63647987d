"""Legs and handoffs over the API: what a cell member gets, what a coordinator
gets, the start / handed-off flow, and sealed values that fail their check."""

from __future__ import annotations

import pytest

from safepassage.cases.models import CaseStatus
from safepassage.journeys.models import (
    Handoff,
    HandoffStatus,
    Journey,
    JourneyStatus,
    Leg,
    LegStatus,
)
from safepassage.vault.models import CompartmentGrant, HolderKind

from .helpers import (
    NOT_FOUND,
    handed_off_url,
    handoff_url,
    handoffs,
    leg_url,
    legs_url,
    phrases,
    start_journey,
    start_url,
)

pytestmark = pytest.mark.django_db


# --- what a cell member reads ------------------------------------------------------------


def test_cell_member_gets_their_leg_with_both_handoffs_and_phrases(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    pickup, middle, _arrival = handoffs(world)

    response = client.get(legs_url())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    (leg,) = response.json()
    assert leg["id"] == str(world.legs[0].pk)
    assert leg["readable"] is True
    assert leg["route"] == "Yanji to Changchun"
    assert leg["status"] == "planned"
    start, end = leg["start_handoff"], leg["end_handoff"]
    assert start["id"] == str(pickup.pk) and start["kind"] == "pickup"
    assert end["id"] == str(middle.pk) and end["kind"] == "handoff"
    # Recognition details of the handoff at the end of their leg.
    assert end["place"] == "Car park behind the Changchun grain market"
    assert end["vehicle_colour"] == "grey"
    assert end["vehicle_plate"] == "吉A 7Q219"
    assert end["signal"] == "umbrella in the right hand"
    # The phrases of both ends, as the coordinators drew them.
    assert (start["phrase_challenge"], start["phrase_response"]) == phrases(world, pickup)
    assert (end["phrase_challenge"], end["phrase_response"]) == phrases(world, middle)
    assert all(start[k] for k in ("phrase_challenge", "phrase_response"))


def test_a_frozen_leg_tells_its_cell_only_to_stand_down(client, world, login):
    """After a compromise response freezes a leg, its cell reads its status and
    nothing else over the API (as on the field pages); its coordinators still
    read everything, to plan what replaces it."""
    pickup, middle, _arrival = handoffs(world)
    Leg.objects.filter(pk=world.legs[0].pk).update(status=LegStatus.FROZEN)
    Handoff.objects.filter(pk__in=[pickup.pk, middle.pk]).update(status=HandoffStatus.FROZEN)
    member, ring = world.member(0)
    login(member, ring)

    (leg,) = client.get(legs_url()).json()
    assert leg["status"] == "frozen"
    for name in ("route", "vehicle", "notes", "transport", "start_handoff", "end_handoff"):
        assert leg[name] is None, name
    handoff = client.get(handoff_url(middle)).json()
    assert handoff["status"] == "frozen"
    assert handoff["place"] is None and handoff["phrase_challenge"] is None
    body = client.get(leg_url(world.legs[0])).content.decode()
    assert "Yanji to Changchun" not in body and "grain market" not in body

    login(world.coord, world.coord_keyring)
    legs = {row["id"]: row for row in client.get(legs_url()).json()}
    assert legs[str(world.legs[0].pk)]["route"] == "Yanji to Changchun"
    assert "grain market" in legs[str(world.legs[0].pk)]["end_handoff"]["place"]


def test_cell_member_json_carries_nothing_beyond_their_leg(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    bodies = [
        client.get(legs_url()).content.decode(),
        client.get(leg_url(world.legs[0])).content.decode(),
        client.get(handoff_url(handoffs(world)[1])).content.decode(),
    ]
    for body in bodies:
        assert "Yanji to Changchun" in body or "grain market" in body  # not vacuous
        for secret in (
            "Traveller Secret-Name",  # the traveller
            "+86 139",  # their phone
            "Camellia",  # the case
            "insulin",  # the case's needs
            "North route",  # the journey's title
            "Changchun to Dandong",  # the next cell's route
            "Heron",  # cell code names are the coordinators'
            "Otter",
        ):
            assert secret not in body, secret


def test_leg_detail_and_handoff_detail_match_the_list(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    (listed,) = client.get(legs_url()).json()
    detail = client.get(leg_url(world.legs[0])).json()
    assert detail == listed
    handoff = client.get(handoff_url(handoffs(world)[1])).json()
    assert handoff == listed["end_handoff"]


def test_second_member_of_the_next_cell_sees_the_shared_handoff(client, world, login):
    member, ring = world.member(1)
    login(member, ring)
    (leg,) = client.get(legs_url()).json()
    assert leg["route"] == "Changchun to Dandong"
    assert leg["start_handoff"]["place"] == "Car park behind the Changchun grain market"
    assert leg["end_handoff"]["kind"] == "arrival"


def test_record_whose_key_has_not_reached_the_member_is_listed_unreadable(client, world, login):
    member, ring = world.member(0)
    leg = world.legs[0]
    CompartmentGrant.objects.filter(
        compartment_id=leg.compartment_id, holder_kind=HolderKind.MEMBER, member=member
    ).delete()
    login(member, ring)

    (row,) = client.get(legs_url()).json()

    assert row["id"] == str(leg.pk)
    assert row["readable"] is False
    assert row["route"] is None and row["transport"] is None and row["notes"] is None
    # The handoffs' keys did reach them.
    assert row["end_handoff"]["readable"] is True
    assert row["end_handoff"]["signal"] == "umbrella in the right hand"


# --- what a coordinator reads ----------------------------------------------------------------


def test_coordinator_gets_the_legs_of_their_cases(client, world, login):
    login(world.coord, world.coord_keyring)
    rows = client.get(legs_url()).json()
    assert [r["id"] for r in rows] == [str(leg.pk) for leg in world.legs]
    assert [r["route"] for r in rows] == ["Yanji to Changchun", "Changchun to Dandong"]
    assert rows[0]["end_handoff"]["id"] == rows[1]["start_handoff"]["id"]


# --- start and handed off ---------------------------------------------------------------------


def test_start_then_hand_off_through_the_api(client, world, login):
    start_journey(world)
    member, ring = world.member(0)
    login(member, ring)
    leg = world.legs[0]
    pickup, _middle, _arrival = handoffs(world)

    response = client.post(start_url(leg))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "started" and body["started_at"]
    assert body["start_handoff"]["status"] == "done"
    fresh = Leg.objects.get(pk=leg.pk)
    assert fresh.status == LegStatus.STARTED
    assert Handoff.objects.get(pk=pickup.pk).status == HandoffStatus.DONE
    assert fresh.journey.case.status == CaseStatus.IN_TRANSIT

    response = client.post(handed_off_url(leg))

    assert response.status_code == 200
    assert response.json()["status"] == "handed_off"
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.HANDED_OFF


def test_second_start_is_a_clear_400_and_changes_nothing(client, world, login):
    start_journey(world)
    member, ring = world.member(0)
    login(member, ring)
    leg = world.legs[0]
    assert client.post(start_url(leg)).status_code == 200
    started_at = Leg.objects.get(pk=leg.pk).started_at

    response = client.post(start_url(leg))

    assert response.status_code == 400
    assert response.json() == {"detail": "This leg has already been started."}
    fresh = Leg.objects.get(pk=leg.pk)
    assert fresh.status == LegStatus.STARTED and fresh.started_at == started_at


def test_start_before_the_journey_is_started_is_refused(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    response = client.post(start_url(world.legs[0]))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This journey has not been started by its coordinators yet."
    }
    assert Leg.objects.get(pk=world.legs[0].pk).status == LegStatus.PLANNED


def test_hand_off_before_start_is_refused(client, world, login):
    start_journey(world)
    member, ring = world.member(0)
    login(member, ring)
    response = client.post(handed_off_url(world.legs[0]))
    assert response.status_code == 400
    assert response.json() == {"detail": "Start this leg before marking it handed off."}


def test_coordinator_cannot_report_for_a_cell(client, world, login):
    start_journey(world)
    login(world.coord, world.coord_keyring)
    response = client.post(start_url(world.legs[0]))
    assert response.status_code == 400
    assert response.json() == {"detail": "This leg is not yours."}
    assert Leg.objects.get(pk=world.legs[0].pk).status == LegStatus.PLANNED


def test_handing_off_the_last_leg_completes_the_journey(client, world, login):
    start_journey(world)
    first, first_ring = world.member(0)
    last, last_ring = world.member(1)
    login(first, first_ring)
    client.post(start_url(world.legs[0]))
    client.post(handed_off_url(world.legs[0]))
    client.logout()
    login(last, last_ring)
    assert client.post(start_url(world.legs[1])).status_code == 200

    response = client.post(handed_off_url(world.legs[1]))

    assert response.status_code == 200
    assert response.json()["end_handoff"]["status"] == "done"
    assert Journey.objects.get(pk=world.journey.pk).status == JourneyStatus.COMPLETED


def test_start_and_handed_off_accept_only_post(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    assert client.get(start_url(world.legs[0])).status_code == 405
    assert client.get(handed_off_url(world.legs[0])).status_code == 405
    assert client.post(leg_url(world.legs[0])).status_code == 405


# --- tampering -----------------------------------------------------------------------------------


def _tamper(model, pk, field: str) -> None:
    raw = bytearray(model.objects.filter(pk=pk).values_list(field, flat=True).get())
    raw[-1] ^= 0x01
    model.objects.filter(pk=pk).update(**{field: bytes(raw)})


def test_tampered_leg_is_409_json_not_500(client, world, login):
    _tamper(Leg, world.legs[0].pk, "route")
    member, ring = world.member(0)
    login(member, ring)
    for url in (leg_url(world.legs[0]), legs_url()):
        response = client.get(url)
        assert response.status_code == 409, url
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "This record failed its integrity check."}
        assert "Yanji" not in response.content.decode()


def test_tampered_handoff_phrase_is_409(client, world, login):
    _pickup, middle, _arrival = handoffs(world)
    _tamper(Handoff, middle.pk, "phrase_response")
    login(world.coord, world.coord_keyring)
    response = client.get(handoff_url(middle))
    assert response.status_code == 409
    assert response.json() == {"detail": "This record failed its integrity check."}


def test_ciphertext_moved_between_legs_is_409(client, world, login):
    """The associated data binds a value to its row: a copy from another leg fails."""
    other = Leg.objects.filter(pk=world.legs[1].pk).values_list("route", flat=True).get()
    Leg.objects.filter(pk=world.legs[0].pk).update(route=bytes(other))
    login(world.coord, world.coord_keyring)
    assert client.get(leg_url(world.legs[0])).status_code == 409


# --- errors raised by the vault ---------------------------------------------------------------------


def test_locked_and_missing_answer_alike():
    """A record the keys do not open is answered like a missing one."""
    from django.http import Http404

    from safepassage.api.exceptions import api_exception_handler
    from safepassage.vault.keyring import Locked

    locked = api_exception_handler(Locked("no key"), {"request": None})
    missing = api_exception_handler(Http404("No Leg matches the given query."), {})
    assert locked is not None and missing is not None
    assert locked.status_code == missing.status_code == 404
    assert locked.data == missing.data == NOT_FOUND
