"""The journey planner: legs in order, the handoffs between them, photos."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from safepassage.journeys.models import Handoff, Journey, JourneyStatus, Leg, TransportKind
from safepassage.journeys.services import do_add_leg, do_create_journey, do_update_handoff
from safepassage.members.models import Member
from safepassage.safehouses.services import do_create_safe_house
from safepassage.vault.keyring import unlocked
from tests.dashboard.permissions import assert_matrix
from tests.photos import JPEG, PNG, opened

GIF = b"GIF89a" + bytes(64)


def _photo_for(world, handoff) -> None:
    with unlocked(world.coord_keyring):
        do_update_handoff(
            actor=world.coord,
            handoff=handoff,
            place="Somewhere",
            window_start=None,
            window_end=None,
            photo=PNG,
            photo_type="image/png",
        )


def _journey_urls(journey) -> list[str]:
    leg = journey.legs.order_by("position").first()
    handoff = journey.handoffs.order_by("position").first()
    return [
        reverse("journeys:new", args=[journey.case_id]),
        reverse("journeys:detail", args=[journey.pk]),
        reverse("journeys:start", args=[journey.pk]),
        reverse("journeys:leg_new", args=[journey.pk]),
        reverse("journeys:leg_edit", args=[leg.pk]),
        reverse("journeys:leg_move", args=[leg.pk]),
        reverse("journeys:leg_remove", args=[leg.pk]),
        reverse("journeys:handoff_edit", args=[handoff.pk]),
        reverse("journeys:handoff_photo", args=[handoff.pk]),
        reverse("journeys:handoff_phrases", args=[handoff.pk]),
    ]


def test_permission_matrix(client, world):
    with unlocked(world.coord_keyring):
        hidden = do_create_journey(actor=world.coord, case=world.other_case, title="South")
        do_add_leg(actor=world.coord, journey=hidden, cell=world.cells[2])
    _photo_for(world, world.journey.handoffs.get(position=0))
    _photo_for(world, hidden.handoffs.get(position=0))
    phrases = list(Handoff.objects.values_list("phrase_challenge", flat=True))
    assert_matrix(
        client,
        world,
        record_urls=_journey_urls(world.journey),
        other_case_urls=_journey_urls(hidden),
        secrets=["North route", "South"],
    )
    # Nobody refused changed anything.
    assert Journey.objects.get(pk=world.journey.pk).status == JourneyStatus.PLANNING
    assert world.journey.legs.count() == 2 and hidden.legs.count() == 1
    assert list(Handoff.objects.values_list("phrase_challenge", flat=True)) == phrases


def test_cell_member_cannot_fetch_a_handoff_photo_from_the_planner(client, world, login):
    handoff = world.journey.handoffs.get(position=1)  # between the cell's leg and the next
    _photo_for(world, handoff)
    login(*world.member(0))
    assert client.get(reverse("journeys:handoff_photo", args=[handoff.pk])).status_code == 404


def test_create_a_journey_through_the_form(client, world, login):
    login(world.coord)
    response = client.post(reverse("journeys:new", args=[world.other_case.pk]), {"title": "Sea"})
    assert response.status_code == 302
    journey = Journey.objects.get(case=world.other_case)
    assert response["Location"] == reverse("journeys:detail", args=[journey.pk])
    assert "has no legs yet" in client.get(response["Location"]).content.decode()
    response = client.post(reverse("journeys:new", args=[world.other_case.pk]), {"title": ""})
    assert "This field is required." in response.content.decode()
    assert Journey.objects.filter(case=world.other_case).count() == 1


def _plan_order(body: str) -> list[str]:
    """The planner's steps as ("Pickup", "Leg 1: …", "Handoff from …", …) in page order."""
    return re.findall(r'<h3 id="(?:leg|handoff)-[^"]+">\s*([^<\n]+?)\s*(?:<|\n)', body)


def test_planner_shows_legs_in_order_between_pickup_handoffs_and_arrival(client, world, login):
    login(world.coord)
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    first, second = world.journey.legs.order_by("position")
    assert _plan_order(body) == [
        "Pickup",
        f"Leg 1 · {first.reference}: Car",
        "Handoff from leg 1 to leg 2",
        f"Leg 2 · {second.reference}: Car",
        "Arrival",
    ]
    assert body.index("Heron") < body.index("Car park behind the Changchun grain market")
    assert body.index("Car park behind the Changchun grain market") < body.index("Otter")


def _leg_data(cell, **extra) -> dict:
    data = {
        "cell": str(cell.pk),
        "transport": TransportKind.TRAIN,
        "window_start": "2030-05-01T09:00",
        "window_end": "2030-05-01T17:30",
        "route": "Dandong to Shenyang by the slow train",
        "vehicle": "",
        "notes": "",
    }
    data.update(extra)
    return data


def test_add_a_leg_with_times_in_the_members_zone(client, world, login):
    Member.objects.filter(pk=world.coord.pk).update(time_zone="Asia/Seoul")
    login(world.coord)
    url = reverse("journeys:leg_new", args=[world.journey.pk])
    form = client.get(url).content.decode()
    assert 'type="datetime-local"' in form
    assert "In Asia/Seoul time." in form
    response = client.post(url, _leg_data(world.cells[2]))
    assert response.status_code == 302
    leg = world.journey.legs.get(position=2)
    assert leg.window_start == datetime(2030, 5, 1, 0, 0, tzinfo=UTC)
    assert leg.window_end == datetime(2030, 5, 1, 8, 30, tzinfo=UTC)
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    assert "Wed 1 May, 09:00" in body and "17:30" in body
    assert "Times in Asia/Seoul" in body
    edit = client.get(reverse("journeys:leg_edit", args=[leg.pk])).content.decode()
    assert 'value="2030-05-01T09:00"' in edit


def _links(journey) -> list[tuple[int, int | None, int | None]]:
    """(boundary, position of the leg before, position of the leg after) per handoff."""
    return [
        (
            h.position,
            h.from_leg.position if h.from_leg else None,
            h.to_leg.position if h.to_leg else None,
        )
        for h in journey.handoffs.select_related("from_leg", "to_leg").order_by("position")
    ]


def test_add_move_and_remove_a_leg_keep_the_handoffs_joined(client, world, login):
    journey = world.journey
    first, second = world.legs
    login(world.coord)
    client.post(reverse("journeys:leg_new", args=[journey.pk]), _leg_data(world.cells[2]))
    third = journey.legs.get(position=2)
    assert _links(journey) == [(0, None, 0), (1, 0, 1), (2, 1, 2), (3, 2, None)]

    response = client.post(reverse("journeys:leg_move", args=[third.pk]), {"direction": "up"})
    assert response.status_code == 302
    assert [leg.pk for leg in journey.legs.order_by("position")] == [first.pk, third.pk, second.pk]
    middle = journey.handoffs.get(position=1)
    assert (middle.from_leg_id, middle.to_leg_id) == (first.pk, third.pk)
    assert journey.handoffs.get(position=3).from_leg_id == second.pk
    body = client.get(reverse("journeys:detail", args=[journey.pk])).content.decode()
    assert body.index("Lark") < body.index("Otter")

    response = client.post(reverse("journeys:leg_move", args=[first.pk]), {"direction": "up"})
    assert response.status_code == 200
    assert "This leg cannot move further." in response.content.decode()

    remove = reverse("journeys:leg_remove", args=[third.pk])
    assert "Remove leg 2?" in client.get(remove).content.decode()
    assert response.status_code == 200
    response = client.post(remove)
    assert response.status_code == 302
    assert not Leg.objects.filter(pk=third.pk).exists()
    assert [leg.pk for leg in journey.legs.order_by("position")] == [first.pk, second.pk]
    assert _links(journey) == [(0, None, 0), (1, 0, 1), (2, 1, None)]


def test_invalid_leg_forms_show_errors_and_store_nothing(client, world, login):
    login(world.coord)
    url = reverse("journeys:leg_new", args=[world.journey.pk])
    before = (Leg.objects.count(), Handoff.objects.count())
    response = client.post(
        url,
        _leg_data(world.cells[2], window_end="2030-05-01T08:00", window_start="2030-05-01T09:00"),
    )
    assert "The window must end after it starts." in response.content.decode()
    response = client.post(url, _leg_data(world.cells[2], transport=TransportKind.STAY))
    assert "Choose the safe house for this stay." in response.content.decode()
    response = client.post(url, _leg_data(world.cells[2], window_start="not a time"))
    assert "Enter a valid date/time." in response.content.decode()
    assert (Leg.objects.count(), Handoff.objects.count()) == before


def test_a_stay_leg_in_a_safe_house(client, world, login):
    with unlocked(world.coord_keyring):
        house = do_create_safe_house(actor=world.coord, codename="Pine", place="x", capacity=3)
    login(world.coord)
    url = reverse("journeys:leg_new", args=[world.journey.pk])
    response = client.post(
        url, _leg_data(world.cells[2], transport=TransportKind.STAY, safe_house=str(house.pk))
    )
    assert response.status_code == 302
    assert world.journey.legs.get(position=2).safe_house_id == house.pk
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    stay = world.journey.legs.get(position=2)
    assert f"Leg 3 · {stay.reference}: Safe-house stay" in body and "Pine" in body


def test_start_the_journey_refusals_and_success(client, world, login):
    login(world.coord)
    journey = world.journey
    without_cell = _leg_data(world.cells[2])
    without_cell["cell"] = ""
    assert (
        client.post(reverse("journeys:leg_new", args=[journey.pk]), without_cell).status_code == 302
    )
    start = reverse("journeys:start", args=[journey.pk])
    response = client.post(start)
    assert response.status_code == 200
    assert "Every leg needs a cell before the journey starts." in response.content.decode()
    assert Journey.objects.get(pk=journey.pk).status == JourneyStatus.PLANNING

    no_cell = journey.legs.get(position=2)
    client.post(reverse("journeys:leg_remove", args=[no_cell.pk]))
    assert client.post(start).status_code == 302
    assert Journey.objects.get(pk=journey.pk).status == JourneyStatus.ACTIVE

    response = client.post(reverse("journeys:leg_remove", args=[world.legs[0].pk]))
    assert "Legs can be removed only while the journey is being planned." in (
        response.content.decode()
    )
    response = client.post(
        reverse("journeys:leg_move", args=[world.legs[0].pk]), {"direction": "down"}
    )
    assert "Legs can be reordered only while the journey is being planned." in (
        response.content.decode()
    )
    assert journey.legs.count() == 2


def _handoff_data(**extra) -> dict:
    data = {
        "place": "Bus station, north exit",
        "window_start": "2030-05-01T18:00",
        "window_end": "2030-05-01T19:00",
        "clothing": "red scarf",
        "vehicle_colour": "white",
        "vehicle_plate": "辽F 12345",
        "signal": "newspaper under the left arm",
        "notes": "",
    }
    data.update(extra)
    return data


def test_edit_a_handoff_with_a_photo_and_fetch_it_back(client, world, login):
    handoff = world.journey.handoffs.get(position=2)
    login(world.coord)
    url = reverse("journeys:handoff_edit", args=[handoff.pk])
    response = client.post(
        url, _handoff_data(photo=SimpleUploadedFile("me.png", PNG, content_type="image/png"))
    )
    assert response.status_code == 302
    photo_url = reverse("journeys:handoff_photo", args=[handoff.pk])
    photo = client.get(photo_url)
    assert photo.status_code == 200
    # Stored as a JPEG made anew from the pixels (journeys/photos.py).
    assert photo["Content-Type"] == "image/jpeg"
    assert opened(photo.content).size == opened(PNG).size
    assert "no-store" in photo["Cache-Control"]
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    assert "Bus station, north exit" in body and "辽F 12345" in body
    assert f'src="{photo_url}"' in body

    # The stored type is what the bytes are, not what the browser claimed.
    client.post(
        url, _handoff_data(photo=SimpleUploadedFile("x.png", JPEG, content_type="image/png"))
    )
    assert client.get(photo_url)["Content-Type"] == "image/jpeg"

    client.post(url, _handoff_data(remove_photo="on"))
    assert client.get(photo_url).status_code == 404


def _stored_photo(handoff) -> bytes | None:
    return Handoff.objects.filter(pk=handoff.pk).values_list("photo", flat=True).get()


def test_a_photo_of_the_wrong_type_is_refused(client, world, login):
    handoff = world.journey.handoffs.get(position=2)
    login(world.coord)
    url = reverse("journeys:handoff_edit", args=[handoff.pk])
    response = client.post(
        url, _handoff_data(photo=SimpleUploadedFile("x.png", GIF, content_type="image/png"))
    )
    assert response.status_code == 200
    assert "The photo must be a JPEG, PNG or WebP image." in response.content.decode()
    assert _stored_photo(handoff) is None
    assert Handoff.objects.get(pk=handoff.pk).window_start is None  # nothing else saved


def test_a_photo_that_is_too_large_is_refused(client, world, login, settings):
    handoff = world.journey.handoffs.get(position=2)
    login(world.coord)
    url = reverse("journeys:handoff_edit", args=[handoff.pk])
    big = b"\xff\xd8\xff\xe0" + bytes(settings.VAULT_MAX_PHOTO_BYTES)
    response = client.post(
        url, _handoff_data(photo=SimpleUploadedFile("big.jpg", big, content_type="image/jpeg"))
    )
    assert response.status_code == 200
    assert "The photo is too large (5 MB at most)." in response.content.decode()
    assert _stored_photo(handoff) is None

    # Past the upload limit the file never reaches the form: still refused, with a message.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = client.post(
        url,
        _handoff_data(
            photo=SimpleUploadedFile("big.jpg", JPEG + bytes(8192), content_type="image/jpeg")
        ),
    )
    assert response.status_code == 200
    assert "The photo is too large (5 MB at most)." in response.content.decode()
    assert _stored_photo(handoff) is None


def test_invalid_handoff_window_is_refused(client, world, login):
    handoff = world.journey.handoffs.get(position=0)
    login(world.coord)
    response = client.post(
        reverse("journeys:handoff_edit", args=[handoff.pk]),
        _handoff_data(window_start="2030-05-01T19:00", window_end="2030-05-01T18:00"),
    )
    assert "The window must end after it starts." in response.content.decode()
    assert Handoff.objects.get(pk=handoff.pk).window_start is None


def test_draw_new_verification_phrases(client, world, login):
    handoff = world.journey.handoffs.get(position=1)
    with unlocked(world.coord_keyring):
        before = (handoff.phrase_challenge, handoff.phrase_response)
    login(world.coord)
    seen = set()
    for _ in range(3):  # a fresh draw can repeat by chance; three in a row cannot all match
        response = client.post(reverse("journeys:handoff_phrases", args=[handoff.pk]))
        assert response.status_code == 302
        with unlocked(world.coord_keyring):
            fresh = Handoff.objects.get(pk=handoff.pk)
            seen.add((fresh.phrase_challenge, fresh.phrase_response))
    assert seen - {before}
    with unlocked(world.coord_keyring):
        current = Handoff.objects.get(pk=handoff.pk)
        challenge, response_phrase = current.spoken_challenge.text, current.spoken_response.text
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    assert escape(challenge) in body and escape(response_phrase) in body


def test_windows_default_to_utc_and_name_it(client, world, login):
    login(world.coord)
    now = timezone.now()
    with unlocked(world.coord_keyring):
        leg = do_add_leg(
            actor=world.coord,
            journey=world.journey,
            cell=world.cells[2],
            window_start=now + timedelta(days=2),
        )
    edit = client.get(reverse("journeys:leg_edit", args=[leg.pk])).content.decode()
    assert "In UTC time." in edit
    assert f'value="{(now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")}"' in edit
