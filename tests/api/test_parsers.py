"""Hostile request bodies: nesting deep enough to exhaust the parser's stack,
and bodies over the size limit, are the API's usual JSON 400, never a 500
or Django's HTML error page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from safepassage.checkins.models import Checkin, CheckinKind
from tests.alerts.support import CHECKIN_PIN, start_first_leg

from .helpers import bearer, checkins_url, issue_token, tokens_url

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def bridge() -> Client:
    # raise_request_exception=False: an unhandled error becomes the 500 a
    # client would see, instead of being re-raised into the test.
    return Client(raise_request_exception=False)


def _running_leg_with_token(world):
    leg, member, ring = start_first_leg(world)
    token, _row = issue_token(member, ring, world.cells[0])
    return leg, token


def _assert_json_400(response) -> dict:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"]
    return body


def test_deeply_nested_json_is_a_400_not_a_500(world, bridge):
    leg, token = _running_leg_with_token(world)

    response = bridge.post(checkins_url(leg), DEEP, "application/json", headers=bearer(token))

    body = _assert_json_400(response)
    assert "nested" in body["detail"]
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()


def test_nesting_under_the_stack_limit_but_past_the_api_depth_is_refused(world, bridge):
    # Deep enough to need no RecursionError from the decoder, yet far deeper
    # than any body the API declares: refused before a serializer walks it.
    leg, token = _running_leg_with_token(world)
    body = b'{"pin": "' + CHECKIN_PIN.encode() + b'", "note": ' + b"[" * 200 + b"]" * 200 + b"}"

    response = bridge.post(checkins_url(leg), body, "application/json", headers=bearer(token))

    assert "nested" in _assert_json_400(response)["detail"]


def test_a_normal_body_still_parses(world, bridge):
    leg, token = _running_leg_with_token(world)

    response = bridge.post(
        checkins_url(leg),
        {"pin": CHECKIN_PIN, "note": "ok"},
        "application/json",
        headers=bearer(token),
    )

    assert response.status_code == 201, response.content


def test_a_body_over_the_size_limit_is_a_json_400(world, bridge):
    leg, token = _running_leg_with_token(world)
    big = b'{"pin": "' + b"1" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024 * 1024) + b'"}'

    response = bridge.post(checkins_url(leg), big, "application/json", headers=bearer(token))

    body = _assert_json_400(response)
    assert "too large" in body["detail"]


def test_a_session_request_with_a_deep_body_is_a_400_too(world, login):
    member, ring = world.member(0)
    client = login(member, ring)
    client.raise_request_exception = False

    response = client.post(tokens_url(), DEEP, "application/json")

    _assert_json_400(response)


def test_the_refusal_is_in_the_members_language(world, bridge):
    leg, member, ring = start_first_leg(world)
    type(member).objects.filter(pk=member.pk).update(language="ko")
    token, _row = issue_token(member, ring, world.cells[0])

    response = bridge.post(checkins_url(leg), DEEP, "application/json", headers=bearer(token))

    assert _assert_json_400(response)["detail"] == "요청 본문의 중첩이 너무 깊습니다."
