"""The start page and the base layout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from safepassage.journeys.models import Journey, JourneyStatus
from safepassage.journeys.services import do_add_leg, do_create_journey, do_start_journey
from safepassage.members.models import Member
from safepassage.vault.keyring import unlocked
from tests.factories import OrganisationFactory

from ..pages import no_inline_code
from .permissions import assert_anonymous_sent_to_login

HOME = "/"


def test_anonymous_is_sent_to_login(client, db):
    assert_anonymous_sent_to_login(client, [HOME])


def test_cell_member_is_sent_to_their_field_page(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"] == reverse("field:my_legs")


def test_the_dashboard_view_itself_refuses_a_cell_member(world, rf):
    from safepassage.dashboard import views

    request = rf.get(HOME)
    request.user = world.member(0)[0]
    with pytest.raises(Http404):
        views.dashboard(request)


def test_coordinator_sees_journeys_with_case_cells_windows_and_badges(client, world, login):
    login(world.coord)
    response = client.get(HOME)
    assert response.status_code == 200
    body = response.content.decode()
    assert "North route" in body
    assert "Camellia" in body
    assert "Heron" in body and "Otter" in body
    assert body.index("Heron") < body.index("Otter")  # legs in order
    assert 'class="badge badge-planned"' in body
    assert "Planned" in body
    assert reverse("journeys:detail", args=[world.journey.pk]) in body


def test_coordinator_of_another_organisation_sees_none_of_it(client, world, login):
    other = OrganisationFactory()
    login(other.founder, other.keyring)
    response = client.get(HOME)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Camellia" not in body and "North route" not in body
    assert "No journeys are under way" in body


def test_coordinator_not_on_the_case_does_not_see_its_journeys(client, world, login):
    with unlocked(world.coord_keyring):
        hidden = do_create_journey(
            actor=world.coord, case=world.other_case, title="Hidden southern route"
        )
        do_add_leg(actor=world.coord, journey=hidden, cell=world.cells[2])
    login(world.coord2)
    body = client.get(HOME).content.decode()
    assert "North route" in body
    assert "Hidden southern route" not in body
    login(world.coord)
    assert "Hidden southern route" in client.get(HOME).content.decode()


def _count_dashboard_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(HOME)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_query_count_does_not_grow_with_the_number_of_legs(client, world, login):
    login(world.coord)
    two_legs, body = _count_dashboard_queries(client)
    assert body.count('class="badge badge-planned"') == 2

    now = timezone.now()
    with unlocked(world.coord_keyring):
        second = do_create_journey(actor=world.coord, case=world.other_case, title="Second route")
        for i in range(4):
            do_add_leg(
                actor=world.coord,
                journey=world.journey if i % 2 else second,
                cell=world.cells[i % 3],
                window_start=now + timedelta(days=1, hours=i),
                window_end=now + timedelta(days=1, hours=i + 1),
            )
    six_legs, body = _count_dashboard_queries(client)
    assert body.count('class="badge badge-planned"') == 6
    assert "Second route" in body and "Wisteria" in body
    assert six_legs == two_legs, f"{two_legs} queries for 2 legs, {six_legs} for 6"


def _sections(body: str) -> tuple[str, str]:
    """(under way, being planned) parts of the dashboard."""
    start = body.index('id="under-way"')
    middle = body.index('id="being-planned"')
    return body[start:middle], body[middle:]


def _new_journey(world, case, title):
    with unlocked(world.coord_keyring):
        return do_create_journey(actor=world.coord, case=case, title=title)


def test_journeys_without_legs_are_being_planned_with_a_link_to_the_first_leg(client, world, login):
    empty = _new_journey(world, world.case, "Southern route draft")
    login(world.coord)
    under_way, being_planned = _sections(client.get(HOME).content.decode())
    assert "No journey is under way." in under_way
    assert "North route" in being_planned and "Southern route draft" in being_planned
    assert being_planned.count("Add the first leg") == 1
    first_leg = reverse("journeys:leg_new", args=[empty.pk])
    assert f'href="{first_leg}"' in being_planned
    card = being_planned[being_planned.index("Southern route draft") :]
    assert card.index("No legs yet.") < card.index(first_leg)
    # The link opens the form for that journey's first leg.
    assert client.get(first_leg).status_code == 200


def test_journeys_under_way_and_being_planned_are_apart(client, world, login):
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    _new_journey(world, world.other_case, "Wisteria first plan")
    login(world.coord)
    under_way, being_planned = _sections(client.get(HOME).content.decode())
    assert "North route" in under_way and "Heron" in under_way
    assert "Wisteria first plan" not in under_way
    assert "Wisteria first plan" in being_planned and "North route" not in being_planned
    assert "No journey is being planned." not in being_planned


def test_finished_journeys_without_legs_are_not_shown(client, world, login):
    aborted = _new_journey(world, world.case, "Abandoned idea")
    Journey.objects.filter(pk=aborted.pk).update(status=JourneyStatus.ABORTED)
    login(world.coord)
    body = client.get(HOME).content.decode()
    assert "Abandoned idea" not in body
    assert "Add the first leg" not in body


def test_journeys_without_legs_stay_within_the_cases_one_coordinates(client, world, login):
    _new_journey(world, world.other_case, "Wisteria first plan")
    login(world.coord2)
    body = client.get(HOME).content.decode()
    assert "North route" in body
    assert "Wisteria first plan" not in body and "Add the first leg" not in body
    other = OrganisationFactory()
    login(other.founder, other.keyring)
    body = client.get(HOME).content.decode()
    assert "Wisteria first plan" not in body and "Add the first leg" not in body
    assert "No journeys are under way" in body


def test_query_count_does_not_grow_with_journeys_without_legs(client, world, login):
    login(world.coord)
    before, body = _count_dashboard_queries(client)
    assert "Add the first leg" not in body
    for i, case in enumerate([world.case, world.other_case, world.other_case]):
        _new_journey(world, case, f"Empty plan {i}")
    after, body = _count_dashboard_queries(client)
    assert body.count("Add the first leg") == 3
    assert "Empty plan 2" in body and "Wisteria" in body
    assert after == before, f"{before} queries without empty journeys, {after} with three"


def test_times_are_shown_in_the_members_time_zone(client, world, login):
    Member.objects.filter(pk=world.coord.pk).update(time_zone="Asia/Seoul")
    login(world.coord)
    body = client.get(HOME).content.decode()
    assert "Times in Asia/Seoul" in body
    start = world.legs[0].window_start.astimezone(timezone.get_fixed_timezone(9 * 60))
    assert start.strftime("%H:%M") in body


def test_layout_has_navigation_handle_and_a_logout_form(client, world, login):
    login(world.coord)
    body = client.get(HOME).content.decode()
    for name in ("cases:list", "cells:list", "contacts:list", "safehouses:list", "members:list"):
        assert f'href="{reverse(name)}"' in body
    assert world.coord.handle in body
    assert re.search(
        r'<form method="post" action="' + re.escape(reverse("members:logout")) + '"', body
    )
    assert 'aria-current="page"' in body
    # A strict Content Security Policy comes later: nothing inline.
    assert no_inline_code(body)
