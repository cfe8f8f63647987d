"""A messaging bridge with a cell token: check-ins and problem reports for its
cell's legs, nothing beyond that cell, and a duress check-in that answers
exactly like a normal one."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from safepassage.alerts.models import Alert, AlertKind, AlertStatus, Severity
from safepassage.cells.services import do_add_member_to_cell
from safepassage.checkins.models import Checkin, CheckinKind
from safepassage.journeys.models import Handoff
from safepassage.vault import keyring
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, DURESS_PIN, set_pins, start_first_leg

from ..conftest import vault_login
from .helpers import (
    NOT_FOUND,
    audit_entries,
    bearer,
    case_url,
    cases_url,
    checkins_url,
    handoff_url,
    handoffs,
    issue_token,
    leg_url,
    legs_url,
    problems_url,
    start_journey,
    start_url,
)

pytestmark = pytest.mark.django_db

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HTTP_DATE = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")


@pytest.fixture
def bridge() -> Client:
    return Client()


def _post(bridge, url, token, body):
    return bridge.post(url, body, "application/json", headers=bearer(token))


def _running_leg_with_token(world):
    """Leg 0 under way; its cell's member has PINs and a token for that cell."""
    leg, member, ring = start_first_leg(world)
    token, row = issue_token(member, ring, world.cells[0])
    return leg, member, ring, token, row


# --- check-ins ------------------------------------------------------------------------------


def test_bridge_checks_in_for_its_cells_leg(world, bridge):
    leg, member, _ring, token, _row = _running_leg_with_token(world)

    response = _post(bridge, checkins_url(leg), token, {"pin": CHECKIN_PIN, "note": "fuel stop"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"at", "next_due_at", "message"}
    assert body["message"] == "Check-in received. Thank you."
    assert TIME.match(body["at"]) and TIME.match(body["next_due_at"])
    assert "no-store" in response["Cache-Control"]
    checkin = Checkin.objects.get(leg=leg, kind=CheckinKind.CHECKIN)
    assert checkin.member == member
    # The note was sealed with the leg's key, which only the token's keyring held.
    with unlocked(world.coord_keyring):
        assert Checkin.objects.get(pk=checkin.pk).note == "fuel stop"
    (entry,) = audit_entries(world, "checkin.create")
    assert entry["actor"] == str(member.pk)
    # The token's keys were in force for the request only.
    assert keyring.current() is None


def test_bridge_reads_its_cells_legs_with_their_sealed_details(world, bridge):
    member, ring = world.member(0)
    token, _row = issue_token(member, ring, world.cells[0])
    response = bridge.get(legs_url(), headers=bearer(token))
    assert response.status_code == 200
    (leg,) = response.json()
    assert leg["id"] == str(world.legs[0].pk) and leg["route"] == "Yanji to Changchun"
    assert bridge.get(leg_url(world.legs[0]), headers=bearer(token)).status_code == 200


def test_another_cells_leg_an_unknown_leg_and_cases_are_404_and_recorded(world, bridge):
    _leg, _member, _ring, token, row = _running_leg_with_token(world)
    other_leg = world.legs[1]
    body = {"pin": CHECKIN_PIN}
    for url in (checkins_url(other_leg), checkins_url(uuid.uuid4())):
        response = _post(bridge, url, token, body)
        assert response.status_code == 404, url
        assert response.json() == NOT_FOUND
    for url in (problems_url(other_leg), problems_url(uuid.uuid4())):
        response = _post(bridge, url, token, {"kind": "unscheduled_stop"})
        assert response.status_code == 404 and response.json() == NOT_FOUND
    for url in (leg_url(other_leg), cases_url(), case_url(world.case), case_url(uuid.uuid4())):
        response = bridge.get(url, headers=bearer(token))
        assert response.status_code == 404, url
        assert response.json() == NOT_FOUND
    assert bridge.post(start_url(other_leg), headers=bearer(token)).status_code == 404
    assert not Checkin.objects.filter(kind=CheckinKind.CHECKIN).exists()
    assert not Alert.objects.exists()
    # Nothing dropped silently: each attempt is on the audit log, with the token.
    refused = audit_entries(world, "checkin.refused")
    assert len(refused) == 2
    assert {e["detail"]["reason"] for e in refused} == {"unreachable_leg"}
    assert {e["detail"]["token"] for e in refused} == {str(row.pk)}
    assert {e["target_id"] for e in refused} == {str(other_leg.pk), None}
    assert len(audit_entries(world, "alert.report_refused")) == 2


def test_a_token_reaches_one_cell_even_when_its_member_is_in_two(world, client, login, bridge):
    start_journey(world)
    member, ring = world.member(0)
    with unlocked(world.coord_keyring):
        do_add_member_to_cell(actor=world.coord, member=member, cell=world.cells[1])
    set_pins(member, ring)
    token, _row = issue_token(member, ring, world.cells[0])
    first, second = world.legs
    _pickup, middle, _arrival = handoffs(world)

    # The token: cell 0's leg only, and the middle handoff names only that leg.
    listed = bridge.get(legs_url(), headers=bearer(token)).json()
    assert [row["id"] for row in listed] == [str(first.pk)]
    assert bridge.get(leg_url(second), headers=bearer(token)).status_code == 404
    handoff = bridge.get(handoff_url(middle), headers=bearer(token)).json()
    assert handoff["from_leg"] == str(first.pk) and handoff["to_leg"] is None
    response = _post(bridge, problems_url(second), token, {"kind": "route_change"})
    assert response.status_code == 404
    # The member's own session reaches both.
    login(member, ring)
    assert {row["id"] for row in client.get(legs_url()).json()} == {str(first.pk), str(second.pk)}
    assert client.get(handoff_url(middle)).json()["to_leg"] == str(second.pk)
    assert Handoff.objects.filter(pk=middle.pk).exists()


def _normalised(response) -> tuple:
    body = response.json()
    for key in ("at", "next_due_at"):
        assert TIME.match(body[key]), body
        body[key] = "<time>"
    headers = dict(response.headers)
    # The clock's headers (Django's never-cache ``Expires``, and ``Date`` from a
    # server) tell only when the answer was sent; their shape must still match.
    for name in ("Date", "Expires"):
        if name in headers:
            assert HTTP_DATE.match(headers[name]), headers[name]
            headers[name] = "<time>"
    return response.status_code, headers, body, len(response.content)


def test_duress_over_the_api_is_indistinguishable_and_raises_the_alarm(world, bridge):
    leg, member, _ring, token, _row = _running_leg_with_token(world)

    normal = _post(bridge, checkins_url(leg), token, {"pin": CHECKIN_PIN, "note": "ok"})
    duress = _post(bridge, checkins_url(leg), token, {"pin": DURESS_PIN, "note": "ok"})

    assert normal.status_code == 201
    assert _normalised(duress) == _normalised(normal)
    assert list(duress.json()) == list(normal.json())  # same keys, same order
    alert = Alert.objects.get(kind=AlertKind.DURESS)
    assert alert.severity == Severity.CRITICAL and alert.status == AlertStatus.OPEN
    assert alert.leg_id == leg.pk and alert.raised_by_id == member.pk
    assert Alert.objects.count() == 1
    assert Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).count() == 2


def test_wrong_pin_is_400_with_a_clear_message_and_audited(world, bridge):
    leg, member, _ring, token, _row = _running_leg_with_token(world)

    response = _post(bridge, checkins_url(leg), token, {"pin": "0000"})

    assert response.status_code == 400
    assert response.json() == {"detail": "That PIN is not right."}
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()
    (entry,) = audit_entries(world, "checkin.refused")
    assert entry["detail"]["reason"] == "wrong_pin"
    assert entry["actor"] == str(member.pk) and entry["target_id"] == str(leg.pk)
    assert not Alert.objects.exists()


def test_a_check_in_without_a_pin_or_before_the_journey_starts_is_refused(world, bridge):
    member, ring = world.member(0)
    set_pins(member, ring)
    token, _row = issue_token(member, ring, world.cells[0])
    leg = world.legs[0]
    missing = _post(bridge, checkins_url(leg), token, {"note": "hi"})
    assert missing.status_code == 400
    assert missing.json()["detail"] == "pin: This field is required."
    not_started = _post(bridge, checkins_url(leg), token, {"pin": CHECKIN_PIN})
    assert not_started.status_code == 400
    assert "not been started" in not_started.json()["detail"]
    assert [e["detail"]["reason"] for e in audit_entries(world, "checkin.refused")] == [
        "journey_not_started"
    ]


def test_session_check_in_works_too(world, client, login):
    leg, member, ring = start_first_leg(world)
    login(member, ring)
    response = client.post(checkins_url(leg), {"pin": CHECKIN_PIN}, "application/json")
    assert response.status_code == 201
    assert response.json()["message"] == "Check-in received. Thank you."


def test_a_coordinator_cannot_check_in(world, client, login):
    leg, _member, _ring = start_first_leg(world)
    login(world.coord, world.coord_keyring)
    response = client.post(checkins_url(leg), {"pin": CHECKIN_PIN}, "application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "This leg is not one of yours, or it does not exist."
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()


# --- problem reports ------------------------------------------------------------------------


def test_bridge_reports_a_problem_that_alerts_the_coordinators(world, bridge):
    leg, member, _ring, token, _row = _running_leg_with_token(world)

    response = _post(
        bridge,
        problems_url(leg),
        token,
        {"kind": "money_demand", "details": "driver wants 2000 more"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"at", "message"}
    assert body["message"] == "Your coordinators have been alerted."
    alert = Alert.objects.get(kind=AlertKind.MONEY_DEMAND)
    assert alert.leg_id == leg.pk and alert.raised_by_id == member.pk
    with unlocked(world.coord_keyring):
        assert Alert.objects.get(pk=alert.pk).details == "driver wants 2000 more"
    # The confirmation says nothing about the alert itself.
    assert str(alert.pk) not in response.content.decode()
    (entry,) = audit_entries(world, "alert.report")
    assert entry["detail"]["kind"] == "money_demand"


def test_problem_report_refusals(world, bridge):
    leg, _member, _ring, token, _row = _running_leg_with_token(world)
    unknown = _post(bridge, problems_url(leg), token, {"kind": "duress"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("kind: ")
    bare_other = _post(bridge, problems_url(leg), token, {"kind": "other"})
    assert bare_other.status_code == 400
    assert bare_other.json() == {"detail": "Say what happened."}
    assert not Alert.objects.exists()


def test_the_bridge_is_answered_in_its_members_language(world, bridge):
    leg, member, _ring, token, _row = _running_leg_with_token(world)
    type(member).objects.filter(pk=member.pk).update(language="ko")

    wrong = _post(bridge, checkins_url(leg), token, {"pin": "0000"})
    right = _post(bridge, checkins_url(leg), token, {"pin": CHECKIN_PIN})

    assert wrong.json() == {"detail": "PIN이 맞지 않습니다."}
    assert right.json()["message"] == "체크인을 받았습니다. 고맙습니다."
    assert right["Content-Language"] == "ko"


def test_a_token_needs_no_csrf_token_and_a_session_still_does(world):
    leg, member, ring, token, _row = _running_leg_with_token(world)
    strict = Client(enforce_csrf_checks=True)
    by_token = _post(strict, checkins_url(leg), token, {"pin": CHECKIN_PIN})
    assert by_token.status_code == 201
    vault_login(strict, member, ring)
    by_session = strict.post(checkins_url(leg), {"pin": CHECKIN_PIN}, "application/json")
    assert by_session.status_code == 403 and "CSRF" in by_session.json()["detail"]
    issue = strict.post(
        reverse("api:tokens"), {"cell": str(world.cells[0].pk), "label": "x"}, "application/json"
    )
    assert issue.status_code == 403
    assert Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).count() == 1
