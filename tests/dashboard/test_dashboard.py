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

from safepassage.journeys.services import do_add_leg, do_create_journey
from safepassage.members.models import Member
from safepassage.vault.keyring import unlocked
from tests.factories import OrganisationFactory

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
    assert "<script" not in body and "style=" not in body
