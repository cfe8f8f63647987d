"""Legs reach their cells only once released: when the journey starts, or
when the coordinator briefs one cell earlier (DESIGN.md, "Key hierarchy")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts.escalation import raise_alert
from safepassage.alerts.models import AlertKind
from safepassage.cells.services import do_set_cell_lead
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Leg
from safepassage.journeys.services import (
    do_add_leg,
    do_brief_leg,
    do_create_journey,
    do_start_journey,
    do_update_handoff,
)
from safepassage.notifications.models import Notification
from safepassage.vault.keyring import unlocked
from safepassage.vault.models import CompartmentGrant, HolderKind, PendingGrant
from tests.dashboard.permissions import assert_matrix

SECRETS = ("Hunchun to Yanji by the river road", "Fish market back door", "Willow signal")


@pytest.fixture
def planned(world):
    """A second journey, for the world's other case, still being planned: leg 1
    run by Heron (cell 0), leg 2 by Otter (cell 1), nothing briefed."""
    now = timezone.now()
    with unlocked(world.coord_keyring):
        journey = do_create_journey(actor=world.coord, case=world.other_case, title="River route")
        legs = [
            do_add_leg(
                actor=world.coord,
                journey=journey,
                cell=world.cells[0],
                route=SECRETS[0],
                window_start=now + timedelta(days=3),
                window_end=now + timedelta(days=3, hours=4),
            ),
            do_add_leg(actor=world.coord, journey=journey, cell=world.cells[1], route="Yanji on"),
        ]
        do_update_handoff(
            actor=world.coord,
            handoff=journey.handoffs.get(position=1),
            place=SECRETS[1],
            window_start=None,
            window_end=None,
            signal=SECRETS[2],
        )
        for cell in world.cells[:2]:
            member = world.member(world.cells.index(cell))[0]
            do_set_cell_lead(actor=world.coord, cell=cell, member=member, is_lead=True)
    return journey, legs


def _held(member, compartment_ids) -> set:
    """Compartments among these whose key ``member`` holds or is queued for."""
    ids = list(compartment_ids)
    return set(
        CompartmentGrant.objects.filter(
            holder_kind=HolderKind.MEMBER, member=member, compartment_id__in=ids
        ).values_list("compartment_id", flat=True)
    ) | set(
        PendingGrant.objects.filter(member=member, compartment_id__in=ids).values_list(
            "compartment_id", flat=True
        )
    )


def _journey_compartments(journey) -> dict[str, set]:
    return {
        "legs": set(journey.legs.values_list("compartment_id", flat=True)),
        "handoffs": set(journey.handoffs.values_list("compartment_id", flat=True)),
    }


def _field_view(client, member, keyring, login, leg) -> tuple[str, list[int], set[str]]:
    """What ``member`` gets of ``leg``: their field home page, the status of
    the leg's field and API pages, and the leg ids of their API list."""
    client.logout()
    login(member, keyring)
    home = client.get(reverse("field:my_legs")).content.decode()
    statuses = [
        client.get(reverse("field:leg", args=[leg.pk])).status_code,
        client.get(reverse("api:leg", kwargs={"leg": leg.pk})).status_code,
    ]
    listed = {row["id"] for row in client.get(reverse("api:legs")).json()}
    return home, statuses, listed


def test_a_cell_sees_nothing_of_a_leg_of_a_journey_being_planned(client, world, login, planned):
    """(a) No field page, API answer, notification or key reaches the cell."""
    journey, legs = planned
    heron, heron_ring = world.member(0)
    home, statuses, listed = _field_view(client, heron, heron_ring, login, legs[0])
    assert statuses == [404, 404]
    assert str(legs[0].pk) not in listed
    assert not any(secret in home for secret in SECRETS)
    handoff = journey.handoffs.get(position=1)
    assert client.get(reverse("api:handoff", kwargs={"handoff": handoff.pk})).status_code == 404
    compartments = _journey_compartments(journey)
    for cell_index in (0, 1):
        for member, _ring in world.cell_members[cell_index]:
            assert _held(member, compartments["legs"] | compartments["handoffs"]) == set()
    # An alert on the leg does not reach its cell's lead before the release.
    with transaction.atomic(), unlocked(world.coord_keyring):
        raise_alert(
            organisation_id=world.org.pk,
            kind=AlertKind.OTHER,
            now=timezone.now(),
            leg=Leg.objects.get(pk=legs[0].pk),
        )
    assert not Notification.objects.filter(member=heron).exists()


def test_briefing_one_cell_releases_that_leg_only(client, world, login, planned):
    """(b) After ``do_brief_leg`` the briefed cell sees its leg and the
    handoffs at its two ends; the other cell still sees nothing."""
    journey, legs = planned
    with unlocked(world.coord_keyring):
        do_brief_leg(actor=world.coord, leg=legs[0])
    pickup, middle, arrival = (journey.handoffs.get(position=p) for p in (0, 1, 2))
    for member, ring in world.cell_members[0]:
        assert _held(member, _journey_compartments(journey)["legs"]) == {legs[0].compartment_id}
        assert _held(member, _journey_compartments(journey)["handoffs"]) == {
            pickup.compartment_id,
            middle.compartment_id,
        }
        home, statuses, listed = _field_view(client, member, ring, login, legs[0])
        assert statuses == [200, 200]
        assert str(legs[0].pk) in listed
        assert SECRETS[0] in home
    otter, otter_ring = world.member(1)
    assert _held(otter, _journey_compartments(journey)["legs"]) == set()
    assert _held(otter, {arrival.compartment_id, middle.compartment_id}) == set()
    home, statuses, listed = _field_view(client, otter, otter_ring, login, legs[1])
    assert statuses == [404, 404]
    assert str(legs[1].pk) not in listed and "Yanji on" not in home
    # A leg is briefed once; a journey already started has nothing left to brief.
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_brief_leg(actor=world.coord, leg=Leg.objects.get(pk=legs[0].pk))


def test_starting_the_journey_releases_every_leg(client, world, login, planned):
    """(c) After the start every cell sees its leg."""
    journey, legs = planned
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=journey)
    assert all(leg.released_at is not None for leg in journey.legs.all())
    for index, leg in enumerate(legs):
        member, ring = world.member(index)
        assert _held(member, {leg.compartment_id}) == {leg.compartment_id}
        _home, statuses, listed = _field_view(client, member, ring, login, leg)
        assert statuses == [200, 200]
        assert str(leg.pk) in listed
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_brief_leg(actor=world.coord, leg=Leg.objects.get(pk=legs[1].pk))


def test_the_planner_briefs_after_a_confirmation(client, world, login, planned):
    journey, legs = planned
    login(world.coord, world.coord_keyring)
    url = reverse("journeys:leg_brief", args=[legs[0].pk])
    page = client.get(reverse("journeys:detail", args=[journey.pk])).content.decode()
    assert url in page and "Not yet: the cell sees nothing of it." in page
    confirmation = client.get(url).content.decode()
    assert "will see this leg on their field pages at once" in confirmation
    assert Leg.objects.get(pk=legs[0].pk).released_at is None  # a GET changes nothing
    response = client.post(url)
    assert response.status_code == 302
    assert Leg.objects.get(pk=legs[0].pk).released_at is not None
    assert Leg.objects.get(pk=legs[1].pk).released_at is None
    page = client.get(reverse("journeys:detail", args=[journey.pk])).content.decode()
    assert url not in page


def test_brief_permission_matrix(client, world, planned):
    _journey, legs = planned
    with unlocked(world.coord_keyring):
        own = do_create_journey(actor=world.coord, case=world.case, title="Second try")
        own_leg = do_add_leg(actor=world.coord, journey=own, cell=world.cells[2])
    assert_matrix(
        client,
        world,
        record_urls=[reverse("journeys:leg_brief", args=[own_leg.pk])],
        other_case_urls=[reverse("journeys:leg_brief", args=[legs[0].pk])],
    )
    # Nobody refused briefed anything.
    assert not Leg.objects.filter(pk__in=[own_leg.pk, legs[0].pk], released_at__isnull=False)
