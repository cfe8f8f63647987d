"""Field pages: a cell member sees their own legs and the handoffs at their ends,
can start and hand off a leg, and can leave in one tap."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from safepassage.cases.services import do_open_case
from safepassage.cells.services import do_create_cell
from safepassage.journeys.models import Handoff, JourneyStatus, Leg, LegStatus
from safepassage.journeys.services import (
    do_add_leg,
    do_brief_leg,
    do_create_journey,
    do_start_journey,
    do_update_handoff,
)
from safepassage.members.services import do_accept_invitation, do_invite_member
from safepassage.roles import Role
from safepassage.vault.keyring import Keyring, unlocked

from ..conftest import vault_login
from ..factories import OrganisationFactory, make_member
from ..photos import PNG, opened
from .crawl import crawl

PHOTO = PNG


def _start_journey(world) -> None:
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)


def _handoffs(world) -> tuple[Handoff, Handoff, Handoff]:
    """(pickup, middle, arrival) of the world's journey."""
    by_position = {h.position: h for h in Handoff.objects.filter(journey=world.journey)}
    return by_position[0], by_position[1], by_position[2]


def _phrases(world, handoff: Handoff) -> tuple[str, str]:
    """The handoff's phrases as they are said, escaped as a page shows them."""
    with unlocked(world.coord_keyring):
        fresh = Handoff.objects.get(pk=handoff.pk)
        return escape(fresh.spoken_challenge.text), escape(fresh.spoken_response.text)


def _add_photo(world, handoff: Handoff) -> None:
    with unlocked(world.coord_keyring):
        fresh = Handoff.objects.get(pk=handoff.pk)
        do_update_handoff(
            actor=world.coord,
            handoff=fresh,
            place=fresh.place or "",
            window_start=fresh.window_start,
            window_end=fresh.window_end,
            vehicle_colour=fresh.vehicle_colour or "",
            vehicle_plate=fresh.vehicle_plate or "",
            signal=fresh.signal or "",
            photo=PHOTO,
            photo_type="image/png",
        )


def _leg_url(leg) -> str:
    return reverse("field:leg", kwargs={"leg": leg.pk})


def _photo_url(handoff) -> str:
    return reverse("field:handoff_photo", kwargs={"handoff": handoff.pk})


def _is_login_redirect(response) -> bool:
    login = reverse("members:login")
    return response.status_code == 302 and response["Location"].startswith(login)


# --- what the page shows ---------------------------------------------------------


@pytest.mark.django_db
def test_my_legs_shows_own_leg_and_both_handoffs_with_phrases(world, login):
    driver, ring = world.member(0)
    pickup, middle, _arrival = _handoffs(world)
    client = login(driver, ring)

    response = client.get(reverse("field:my_legs"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Yanji to Changchun" in page
    assert "Car park behind the Changchun grain market" in page
    assert "吉A 7Q219" in page
    assert "grey" in page
    assert "umbrella in the right hand" in page
    # The pickup is where the driver receives the traveller: they answer.
    challenge, response_phrase = _phrases(world, pickup)
    assert f'They say: <q class="phrase" lang="en">{challenge}</q>' in page
    assert f'You answer: <q class="phrase" lang="en">{response_phrase}</q>' in page
    # The middle handoff is where the driver hands on: they say the challenge.
    challenge, response_phrase = _phrases(world, middle)
    assert f'You say: <q class="phrase" lang="en">{challenge}</q>' in page
    assert f'They answer: <q class="phrase" lang="en">{response_phrase}</q>' in page
    assert f'action="{reverse("field:exit")}"' in page


@pytest.mark.django_db
def test_my_legs_shows_nothing_beyond_the_members_compartments(world, login):
    driver, ring = world.member(0)
    _pickup, _middle, arrival = _handoffs(world)
    arrival_challenge, arrival_response = _phrases(world, arrival)
    client = login(driver, ring)

    page = client.get(reverse("field:my_legs")).content.decode()

    assert "Yanji to Changchun" in page  # the page did render the member's leg
    for secret in (
        "Traveller Secret-Name",
        "+86 139 0000 1111",
        "Camellia",
        "insulin",
        "North route",
        "Changchun to Dandong",
        "Other Hidden-Person",
        "Wisteria",
        "Heron",  # the cell's own code name is the coordinators' business
        arrival_challenge,
        arrival_response,
    ):
        assert secret not in page, secret


@pytest.mark.django_db
def test_times_are_shown_in_the_members_zone_and_the_zone_is_named(world, login):
    driver, ring = world.member(0)
    driver.time_zone = "Asia/Shanghai"
    driver.save(update_fields=["time_zone"])
    leg = world.legs[0]
    local_start = timezone.localtime(leg.window_start, zoneinfo.ZoneInfo("Asia/Shanghai"))
    client = login(driver, ring)

    page = client.get(reverse("field:my_legs")).content.decode()

    assert "Asia/Shanghai" in page
    assert local_start.strftime("%H:%M") in page


@pytest.mark.django_db
def test_pages_have_no_script_no_inline_style_and_no_external_resources(world, login):
    """Every page the member reaches from their legs (a crawl of the links),
    and the page the quick exit lands on."""
    driver, ring = world.member(0)
    _add_photo(world, _handoffs(world)[1])
    client = login(driver, ring)
    visits = [v for v in crawl(client, reverse("field:my_legs")) if v.page is not None]
    urls = [v.url for v in visits] + [reverse("field:weather")]
    assert {reverse("members:preferences"), reverse("members:security")} <= set(urls)
    for url in urls:
        page = client.get(url).content.decode().lower()
        assert "<html" in page
        assert "<script" not in page, url
        assert not re.search(r"\s(data-)?hx-[a-z]+=", page), url  # nothing for htmx to act on
        assert "style=" not in page, url
        assert "<img" not in page  # the photo is one tap away, never loaded unasked
        assert "http://" not in page and "https://" not in page
        assert "fonts." not in page


@pytest.mark.django_db
def test_a_leg_whose_key_has_not_arrived_is_shown_as_waiting_not_as_an_error(world, login):
    # A case only world.coord coordinates gets a leg for cell 0; a new cell-0
    # member approved by coord2 (who cannot open that leg) waits for its key.
    with unlocked(world.coord_keyring):
        journey = do_create_journey(actor=world.coord, case=world.other_case, title="Quiet route")
        hidden = do_add_leg(
            actor=world.coord, journey=journey, cell=world.cells[0], route="Hidden road"
        )
        do_brief_leg(actor=world.coord, leg=hidden)
    newcomer, newcomer_ring = make_member(world.coord2, world.coord2_keyring, cell=world.cells[0])
    client = login(newcomer, newcomer_ring)

    response = client.get(reverse("field:my_legs"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Yanji to Changchun" in page  # the leg coord2 could grant
    assert "Hidden road" not in page
    assert "have not reached you yet" in page


# --- permissions ----------------------------------------------------------------------


@pytest.fixture
def outsiders(world):
    """Everyone who must not see cell 0's leg and its pickup handoff."""
    other = OrganisationFactory()
    other_coord, other_coord_ring = make_member(
        other.founder, other.keyring, role=Role.COORDINATOR, display_name="Elsewhere Coordinator"
    )
    with unlocked(other.keyring):
        other_cell = do_create_cell(actor=other.founder, codename="Elsewhere Cell")
    other_member, other_member_ring = make_member(other.founder, other.keyring, cell=other_cell)
    return {
        "member of another cell": world.member(1),
        "member of a cell with no legs": world.member(2),
        "coordinator of another organisation": (other_coord, other_coord_ring),
        "member of another organisation": (other_member, other_member_ring),
        "coordinator of this organisation": (world.coord, world.coord_keyring),
    }


def _targets(world):
    pickup, _middle, _arrival = _handoffs(world)
    _add_photo(world, pickup)
    return [
        ("get", _leg_url(world.legs[0])),
        ("post", _leg_url(world.legs[0])),
        ("get", _photo_url(pickup)),
    ]


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_from_every_field_page(client, world):
    targets = [*_targets(world), ("get", reverse("field:my_legs"))]
    for method, url in targets:
        response = getattr(client, method)(url, {"action": "start"} if method == "post" else None)
        assert _is_login_redirect(response), (method, url, response.status_code)


@pytest.mark.django_db
def test_outsiders_get_404_for_the_leg_its_actions_and_its_photo(client, world, outsiders):
    _start_journey(world)
    targets = _targets(world)
    for label, (member, ring) in outsiders.items():
        client.logout()
        vault_login(client, member, ring)
        for method, url in targets:
            data = {"action": "start"} if method == "post" else None
            response = getattr(client, method)(url, data)
            assert response.status_code == 404, (label, method, url, response.status_code)
            assert "no-store" in response["Cache-Control"]
            assert "Yanji to Changchun" not in response.content.decode()
    leg = Leg.objects.get(pk=world.legs[0].pk)
    assert leg.status == LegStatus.PLANNED  # no outsider's POST started it


@pytest.mark.django_db
def test_the_member_entitled_reaches_the_leg_and_the_photo(world, login):
    """Positive control for the matrix above: same URLs, the right member."""
    driver, ring = world.member(0)
    targets = _targets(world)
    client = login(driver, ring)
    for method, url in targets:
        if method == "get":
            assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_my_legs_for_outsiders_lists_none_of_cell_zeros_legs(client, world, outsiders):
    for label in (
        "member of another cell",
        "member of a cell with no legs",
        "member of another organisation",
    ):
        member, ring = outsiders[label]
        client.logout()
        vault_login(client, member, ring)
        response = client.get(reverse("field:my_legs"))
        assert response.status_code == 200, label
        page = response.content.decode()
        assert "Yanji to Changchun" not in page, label
        assert "Car park behind the Changchun grain market" not in page or label == (
            "member of another cell"  # cell 1 receives the traveller there
        )
    member, ring = outsiders["member of another cell"]
    client.logout()
    vault_login(client, member, ring)
    page = client.get(reverse("field:my_legs")).content.decode()
    assert "Changchun to Dandong" in page  # their own leg, and only it


@pytest.mark.django_db
def test_a_coordinator_visiting_the_field_pages_goes_to_the_dashboard(client, world, outsiders):
    for label in ("coordinator of this organisation", "coordinator of another organisation"):
        member, ring = outsiders[label]
        client.logout()
        vault_login(client, member, ring)
        response = client.get(reverse("field:my_legs"))
        assert response.status_code == 302, label
        assert response["Location"] == reverse("dashboard:home")


@pytest.mark.django_db
def test_photo_is_served_only_with_no_store(world, login):
    driver, ring = world.member(0)
    _pickup, middle, _arrival = _handoffs(world)
    _add_photo(world, middle)
    client = login(driver, ring)

    response = client.get(_photo_url(middle))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"  # made anew from the pixels
    assert opened(response.content).size == opened(PHOTO).size
    assert "no-store" in response["Cache-Control"]
    # The member of the next cell shares this handoff and sees it too.
    other, other_ring = world.member(1)
    client.logout()
    vault_login(client, other, other_ring)
    assert client.get(_photo_url(middle)).content == response.content


@pytest.mark.django_db
def test_a_handoff_without_a_photo_is_404(world, login):
    driver, ring = world.member(0)
    pickup, _middle, _arrival = _handoffs(world)
    client = login(driver, ring)
    assert client.get(_photo_url(pickup)).status_code == 404


# --- actions ----------------------------------------------------------------------


@pytest.mark.django_db
def test_start_then_handed_off_each_confirmed_on_the_next_page(world, login):
    _start_journey(world)
    driver, ring = world.member(0)
    leg = world.legs[0]
    client = login(driver, ring)

    page = client.get(_leg_url(leg)).content.decode()
    assert "I have the traveller — leg started" in page
    response = client.post(_leg_url(leg), {"action": "start"})
    assert response.status_code == 302
    assert response["Location"] == _leg_url(leg)
    page = client.get(response["Location"]).content.decode()
    assert "Leg started. You have the traveller." in page
    stored = Leg.objects.get(pk=leg.pk)
    assert stored.status == LegStatus.STARTED
    assert stored.started_at is not None
    assert Handoff.objects.get(to_leg=leg).status == "done"  # the pickup happened
    assert 'value="handed_off"' in page
    assert 'value="start"' not in page

    response = client.post(_leg_url(leg), {"action": "handed_off"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Handed off. Thank you: this leg is done." in page
    stored = Leg.objects.get(pk=leg.pk)
    assert stored.status == LegStatus.HANDED_OFF
    assert stored.handed_off_at is not None
    assert 'name="action"' not in page  # nothing left to press


@pytest.mark.django_db
def test_starting_twice_is_refused_with_a_clear_message(world, login):
    _start_journey(world)
    driver, ring = world.member(0)
    leg = world.legs[0]
    client = login(driver, ring)
    assert client.post(_leg_url(leg), {"action": "start"}).status_code == 302
    started_at = Leg.objects.get(pk=leg.pk).started_at

    # A second tap, e.g. from a page left open on another phone of the cell.
    response = client.post(_leg_url(leg), {"action": "start"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "This leg has already been started." in page
    assert 'role="alert"' in page
    stored = Leg.objects.get(pk=leg.pk)
    assert stored.status == LegStatus.STARTED
    assert stored.started_at == started_at


@pytest.mark.django_db
def test_starting_before_the_coordinators_start_the_journey_is_refused(world, login):
    driver, ring = world.member(0)
    leg = world.legs[0]
    client = login(driver, ring)

    response = client.post(_leg_url(leg), {"action": "start"})

    assert response.status_code == 200
    assert "This journey has not been started by its coordinators yet." in response.content.decode()
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.PLANNED


@pytest.mark.django_db
def test_handing_off_before_starting_is_refused(world, login):
    _start_journey(world)
    driver, ring = world.member(0)
    leg = world.legs[0]
    client = login(driver, ring)

    response = client.post(_leg_url(leg), {"action": "handed_off"})

    assert "Start this leg before marking it handed off." in response.content.decode()
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.PLANNED


@pytest.mark.django_db
def test_an_unknown_action_changes_nothing(world, login):
    _start_journey(world)
    driver, ring = world.member(0)
    leg = world.legs[0]
    client = login(driver, ring)

    response = client.post(_leg_url(leg), {"action": "teleport"})

    assert response.status_code == 200
    assert "Choose what happened." in response.content.decode()
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.PLANNED


@pytest.mark.django_db
def test_handing_off_the_last_leg_completes_the_journey(world, login):
    _start_journey(world)
    first, first_ring = world.member(0)
    second, second_ring = world.member(1)
    client = login(first, first_ring)
    client.post(_leg_url(world.legs[0]), {"action": "start"})
    client.post(_leg_url(world.legs[0]), {"action": "handed_off"})
    client.logout()
    vault_login(client, second, second_ring)
    client.post(_leg_url(world.legs[1]), {"action": "start"})
    client.post(_leg_url(world.legs[1]), {"action": "handed_off"})
    world.journey.refresh_from_db()
    assert world.journey.status == JourneyStatus.COMPLETED


# --- quick exit -----------------------------------------------------------------------


@pytest.mark.django_db
def test_quick_exit_logs_out_and_lands_on_the_weather_page(world):
    driver, ring = world.member(0)
    client = Client(enforce_csrf_checks=True)  # works even without a CSRF token
    vault_login(client, driver, ring)
    assert client.get(reverse("field:my_legs")).status_code == 200

    response = client.post(reverse("field:exit"))

    assert response.status_code == 302
    assert response["Location"] == reverse("field:weather")
    assert "cookies" in response["Clear-Site-Data"]
    assert "no-store" in response["Cache-Control"]
    assert response.cookies[settings.VAULT_COOKIE_NAME]["max-age"] == 0
    assert "_auth_user_id" not in client.session
    assert _is_login_redirect(client.get(reverse("field:my_legs")))
    assert _is_login_redirect(client.get(_leg_url(world.legs[0])))


@pytest.mark.django_db
def test_weather_page_is_plain_and_unbranded(client):
    response = client.get(reverse("field:weather"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode().lower()
    assert "weather" in page
    for word in ("safepassage", "leg", "exit", "traveller", "stylesheet", "/field/"):
        assert word not in page, word


@pytest.mark.django_db
def test_every_field_page_offers_the_quick_exit(world, login):
    driver, ring = world.member(0)
    client = login(driver, ring)
    exit_form = f'action="{reverse("field:exit")}"'
    for url in (
        reverse("field:my_legs"),
        _leg_url(world.legs[0]),
        _leg_url(world.legs[1]),  # the 404 page of the field pages
    ):
        assert exit_form in client.get(url).content.decode(), url


@pytest.mark.django_db
def test_window_not_set_and_journeys_newest_first(world, login):
    """Legs of the newest journey come first; an unset window says so."""
    with unlocked(world.coord_keyring):
        case = do_open_case(actor=world.coord, codename="Later case")
        journey = do_create_journey(actor=world.coord, case=case, title="Later route")
        do_add_leg(
            actor=world.coord,
            journey=journey,
            cell=world.cells[0],
            route="Newest route east",
            window_start=timezone.now() + timedelta(days=3),
        )
        do_start_journey(actor=world.coord, journey=journey)
    driver, ring = world.member(0)
    client = login(driver, ring)
    page = client.get(reverse("field:my_legs")).content.decode()
    assert page.index("Newest route east") < page.index("Yanji to Changchun")
    assert "not set yet" in page


@pytest.mark.django_db
def test_a_member_awaiting_approval_is_sent_to_the_waiting_page(world, client):
    with unlocked(world.coord_keyring):
        _inv, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[0], display_name="Newcomer"
        )
    member, private_key = do_accept_invitation(
        token=token, handle="waiting.member", password="a long enough password"
    )
    vault_login(client, member, Keyring(member_id=member.pk, member_private_key=private_key))

    response = client.get(reverse("field:my_legs"))
    assert response.status_code == 302
    assert response["Location"] == reverse("members:awaiting")
    assert client.get(_leg_url(world.legs[0])).status_code == 404
