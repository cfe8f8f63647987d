"""The permission matrix of every API endpoint.

- anonymous: 401 with a ``WWW-Authenticate`` header, the same for a real
  record and a missing one, on GET and POST alike;
- a member of another cell, a coordinator of another organisation, a
  coordinator of the same organisation who does not coordinate the case: 404
  with the same body as a missing record (never 403);
- a member awaiting approval: 404 everywhere.
"""

from __future__ import annotations

import uuid

import pytest

from safepassage.journeys.models import Leg, LegStatus
from safepassage.members.services import do_accept_invitation, do_invite_member
from safepassage.roles import Role
from safepassage.vault.keyring import Keyring, unlocked

from ..conftest import vault_login
from ..factories import OrganisationFactory
from .helpers import (
    NOT_FOUND,
    case_url,
    cases_url,
    checkins_url,
    handed_off_url,
    handoff_url,
    handoffs,
    leg_url,
    legs_url,
    problems_url,
    revoke_url,
    start_journey,
    start_url,
    tokens_url,
)

pytestmark = pytest.mark.django_db


def _record_urls(world) -> list[tuple[str, str]]:
    """(method, url) of every endpoint naming a record of ``world``."""
    pickup, middle, _arrival = handoffs(world)
    leg = world.legs[0]
    return [
        ("get", leg_url(leg)),
        ("post", start_url(leg)),
        ("post", handed_off_url(leg)),
        ("post", checkins_url(leg)),
        ("post", problems_url(leg)),
        ("get", handoff_url(middle)),
        ("get", handoff_url(pickup)),
        ("get", case_url(world.case)),
    ]


def _missing_urls() -> list[tuple[str, str]]:
    missing = uuid.uuid4()
    return [
        ("get", leg_url(missing)),
        ("post", start_url(missing)),
        ("post", handed_off_url(missing)),
        ("post", checkins_url(missing)),
        ("post", problems_url(missing)),
        ("get", handoff_url(missing)),
        ("get", case_url(missing)),
        ("post", revoke_url(missing)),
    ]


def test_anonymous_gets_401_for_every_endpoint_real_or_missing(client, world):
    urls = [
        ("get", legs_url()),
        ("get", cases_url()),
        ("get", tokens_url()),
        *_record_urls(world),
        *_missing_urls(),
    ]
    for method, url in urls:
        for verb in {method, "get", "post"}:
            response = getattr(client, verb)(url)
            assert response.status_code == 401, (verb, url, response.status_code)
            assert response["Content-Type"] == "application/json"
            assert response["WWW-Authenticate"].startswith("Session")
            assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_anonymous_start_changes_nothing(client, world):
    start_journey(world)
    assert client.post(start_url(world.legs[0])).status_code == 401
    assert Leg.objects.get(pk=world.legs[0].pk).status == LegStatus.PLANNED


def _assert_not_found(client, urls) -> None:
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json() == NOT_FOUND, (method, url)


def test_missing_records_are_404_with_the_common_body(client, world, login):
    login(world.coord, world.coord_keyring)
    _assert_not_found(client, _missing_urls())


def test_member_of_another_cell_gets_404_for_legs_and_handoffs_not_theirs(client, world, login):
    start_journey(world)
    member, ring = world.member(1)  # Otter runs leg 2 only
    login(member, ring)
    pickup, _middle, _arrival = handoffs(world)
    leg = world.legs[0]
    _assert_not_found(
        client,
        [
            ("get", leg_url(leg)),
            ("post", start_url(leg)),
            ("post", handed_off_url(leg)),
            ("post", checkins_url(leg)),
            ("post", problems_url(leg)),
            ("get", handoff_url(pickup)),  # joins nothing of Otter's
        ],
    )
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.PLANNED
    # Their list holds their own leg and nothing else.
    listed = {row["id"] for row in client.get(legs_url()).json()}
    assert listed == {str(world.legs[1].pk)}


def test_member_of_a_cell_without_legs_sees_nothing(client, world, login):
    member, ring = world.member(2)  # Lark runs no leg
    login(member, ring)
    _assert_not_found(client, _record_urls(world))
    response = client.get(legs_url())
    assert response.status_code == 200
    assert response.json() == []


def test_cell_members_get_404_for_the_coordinators_endpoints(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    _assert_not_found(client, [("get", cases_url()), ("get", case_url(world.case))])


def test_coordinator_of_another_organisation_gets_404_and_empty_lists(client, world):
    other = OrganisationFactory()
    vault_login(client, other.founder, other.keyring)
    _assert_not_found(client, _record_urls(world))
    assert client.get(legs_url()).json() == []
    assert client.get(cases_url()).json() == []


def test_coordinator_not_on_the_case_gets_404(client, world, login):
    # world.other_case is coordinated by world.coord only; give it a journey to look for.
    from safepassage.journeys.services import do_add_leg, do_create_journey

    with unlocked(world.coord_keyring):
        journey = do_create_journey(actor=world.coord, case=world.other_case, title="South")
        leg = do_add_leg(actor=world.coord, journey=journey, cell=world.cells[2], route="Secret")
    login(world.coord2, world.coord2_keyring)
    handoff = leg.start_handoff
    _assert_not_found(
        client,
        [
            ("get", case_url(world.other_case)),
            ("get", leg_url(leg)),
            ("post", start_url(leg)),
            ("get", handoff_url(handoff)),
        ],
    )
    assert str(world.other_case.pk) not in {row["id"] for row in client.get(cases_url()).json()}
    assert str(leg.pk) not in {row["id"] for row in client.get(legs_url()).json()}
    # ...while the case they do coordinate opens.
    assert client.get(case_url(world.case)).status_code == 200


def test_member_awaiting_approval_gets_404_everywhere(client, world):
    with unlocked(world.coord_keyring):
        _inv, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[0], display_name="New"
        )
    member, private_key = do_accept_invitation(
        token=token, handle="waiting.api", password="a long enough password"
    )
    vault_login(client, member, Keyring(member_id=member.pk, member_private_key=private_key))
    _assert_not_found(client, [("get", legs_url()), ("get", cases_url()), *_record_urls(world)])


def test_entitled_members_reach_each_endpoint(client, world, login):
    """Positive control for the matrix above: the same URLs open for their owners."""
    pickup, middle, _arrival = handoffs(world)
    member, ring = world.member(0)
    login(member, ring)
    for url in (
        legs_url(),
        leg_url(world.legs[0]),
        handoff_url(pickup),
        handoff_url(middle),
        tokens_url(),
    ):
        assert client.get(url).status_code == 200, url
    # Writes with an empty body: turned back for the body, not for the caller.
    for url in (checkins_url(world.legs[0]), problems_url(world.legs[0])):
        assert client.post(url, {}, "application/json").status_code == 400, url
    client.logout()
    login(world.coord, world.coord_keyring)
    for url in (
        legs_url(),
        leg_url(world.legs[1]),
        handoff_url(middle),
        cases_url(),
        case_url(world.case),
    ):
        assert client.get(url).status_code == 200, url


def test_writes_need_the_csrf_token(world):
    from django.test import Client

    start_journey(world)
    member, ring = world.member(0)
    client = Client(enforce_csrf_checks=True)
    vault_login(client, member, ring)
    response = client.post(start_url(world.legs[0]))
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Leg.objects.get(pk=world.legs[0].pk).status == LegStatus.PLANNED


def test_answers_are_not_kept_by_caches(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    response = client.get(leg_url(world.legs[0]))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
