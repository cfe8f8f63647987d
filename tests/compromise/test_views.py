"""The compromise pages: who reaches them (a permission matrix), what the
report shows each coordinator, the field's stand-down page, and the
planner's warnings about burned vehicles and places."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse
from django.utils.html import escape

from safepassage.compromise.exposure import Subject, SubjectKind
from safepassage.compromise.models import Compromise
from safepassage.compromise.services import do_declare_compromise, do_respond_to_compromise
from safepassage.contacts.services import do_create_contact
from safepassage.journeys.models import Handoff, Leg, LegStatus
from safepassage.journeys.services import (
    do_add_leg,
    do_brief_leg,
    do_create_journey,
    do_start_journey,
    do_update_handoff,
)
from safepassage.members.services import do_invite_member
from safepassage.roles import Role
from safepassage.vault.keyring import Keyring, unlocked
from tests.journeys.support import change_leg

from ..factories import OrganisationFactory, World

pytestmark = pytest.mark.django_db

WISTERIA_DOCK = "Wisteria dock, north pier"


def fresh(ring: Keyring) -> Keyring:
    return Keyring(member_id=ring.member_id, member_private_key=ring.member_private_key)


def declare(world: World, subject: Subject, *, respond: bool = False) -> Compromise:
    with unlocked(fresh(world.coord_keyring)):
        compromise = do_declare_compromise(actor=world.coord, subject=subject, reason="raid")
        if respond:
            do_respond_to_compromise(actor=world.coord, compromise=compromise)
    return compromise


def record_urls(compromise_id) -> list[str]:
    return [
        reverse(f"compromise:{name}", kwargs={"compromise": compromise_id})
        for name in ("detail", "respond", "release", "close")
    ]


PAGES = ["compromise:list", "compromise:declare", "compromise:analysis"]


# --- who reaches the pages -------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_alike_for_real_and_missing_records(client, world):
    compromise = declare(world, Subject(SubjectKind.CELL, world.cells[2].pk))
    for url in [reverse(p) for p in PAGES] + record_urls(compromise.pk) + record_urls(uuid.uuid4()):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, (method, url)
            assert "login" in response["Location"]


def test_members_who_are_not_coordinators_get_the_missing_page(client, world, login):
    compromise = declare(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    urls = [reverse(p) for p in PAGES] + record_urls(compromise.pk)
    for member, ring in (world.member(0), world.member(2)):
        login(member, ring)
        for url in urls:
            for method in ("get", "post"):
                assert getattr(client, method)(url).status_code == 404, (method, url)
    assert Compromise.objects.get(pk=compromise.pk).responded_at is None


def test_a_member_awaiting_approval_sees_only_the_waiting_page(client, world, login):
    from safepassage.members.services import do_accept_invitation

    with unlocked(world.coord_keyring):
        _inv, token = do_invite_member(
            actor=world.coord, role=Role.COORDINATOR, display_name="New Coordinator"
        )
    waiting, private = do_accept_invitation(token=token, handle="waiting1", password="x" * 20)
    login(waiting, Keyring(member_id=waiting.pk, member_private_key=private))
    for url in [reverse(p) for p in PAGES]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("members:awaiting")


def test_a_coordinator_of_another_organisation_finds_nothing(client, world, login):
    compromise = declare(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    other = OrganisationFactory()
    login(other.founder, other.keyring)
    for url in record_urls(compromise.pk):
        for method in ("get", "post"):
            assert getattr(client, method)(url).status_code == 404, (method, url)
    listing = client.get(reverse("compromise:list")).content.decode()
    assert str(compromise.pk) not in listing and "No compromise has been declared." in listing
    form = client.get(reverse("compromise:declare")).content.decode()
    for cell in world.cells:
        assert str(cell.pk) not in form
    assert "Heron" not in client.get(reverse("compromise:analysis")).content.decode()
    assert Compromise.objects.get(pk=compromise.pk).responded_at is None


def test_a_missing_compromise_is_the_same_404_for_a_coordinator(client, world, login):
    login(world.coord, world.coord_keyring)
    for url in record_urls(uuid.uuid4()):
        assert client.get(url).status_code == 404


# --- the pages, for coordinators --------------------------------------------------------------


def test_declaring_through_the_form_and_responding_with_the_button(client, world, login):
    with unlocked(world.coord_keyring):
        broker = do_create_contact(actor=world.coord, name="Broker Park")
        l0 = world.legs[0]
        change_leg(
            actor=world.coord,
            leg=l0,
            contact=broker,
            route="Yanji to Changchun",
            vehicle="silver Jetta",
        )
    login(world.coord, world.coord_keyring)
    page = client.get(reverse("compromise:declare")).content.decode()
    # Subjects by their decrypted names; known vehicles and places offered.
    for name in ("Heron", "Otter", "Lark", "Broker Park", "Second Coordinator"):
        assert name in page
    assert "North route · handoff from leg 1 to leg 2" in page
    assert '<option value="silver Jetta">' in page and "吉A 7Q219" in page
    assert f'value="{world.coord.pk}"' not in page  # not oneself

    # A kind without its subject is sent back, nothing declared.
    response = client.post(reverse("compromise:declare"), {"kind": "contact", "reason": "raid"})
    assert response.status_code == 200 and not Compromise.objects.exists()
    assert "Choose or describe what was compromised." in response.content.decode()

    response = client.post(
        reverse("compromise:declare"),
        {"kind": "contact", "contact": str(broker.pk), "reason": "suspected_betrayal"},
    )
    compromise = Compromise.objects.get()
    assert response["Location"] == reverse("compromise:detail", args=[compromise.pk])
    report = client.get(response["Location"]).content.decode()
    assert "Broker Park" in report and "Respond now" in report
    assert "Car park behind the Changchun grain market" in report  # h1, at L0's end
    assert "Compromise (1)" in report  # the coordinator layout's link

    response = client.post(
        reverse("compromise:respond", args=[compromise.pk]), {"freeze": "on", "burn": "on"}
    )
    assert response.status_code == 302
    compromise.refresh_from_db()
    assert compromise.responded_at is not None
    assert Leg.objects.get(pk=l0.pk).status == LegStatus.FROZEN
    report = client.get(reverse("compromise:detail", args=[compromise.pk])).content.decode()
    assert re.search(r"Legs frozen</dt><dd>2<", report)
    assert re.search(r"Cells notified</dt><dd>0 ", report)  # notify was not ticked

    # Release the leg from the report; close the compromise.
    response = client.post(reverse("compromise:release", args=[compromise.pk]), {"leg": l0.pk})
    assert response.status_code == 302
    assert Leg.objects.get(pk=l0.pk).status == LegStatus.PLANNED
    response = client.post(reverse("compromise:close", args=[compromise.pk]))
    assert response["Location"] == reverse("compromise:list")
    listing = client.get(reverse("compromise:list")).content.decode()
    assert "Compromise (1)" not in listing and "Closed" in listing


def test_declare_and_respond_in_one_action(client, world, login):
    login(world.coord, world.coord_keyring)
    response = client.post(
        reverse("compromise:declare"),
        {"kind": "cell", "cell": str(world.cells[1].pk), "reason": "arrested", "action": "respond"},
    )
    compromise = Compromise.objects.get()
    assert response["Location"] == reverse("compromise:detail", args=[compromise.pk])
    assert compromise.responded_at is not None
    assert set(Leg.objects.values_list("status", flat=True)) == {LegStatus.FROZEN}


def test_the_report_shows_only_what_the_viewers_keys_open(client, world, login):
    """coord2 does not coordinate the second case: its handoff is counted, not shown."""
    with unlocked(world.coord_keyring):
        journey = do_create_journey(actor=world.coord, case=world.other_case, title="Dock route")
        pier = do_add_leg(
            actor=world.coord, journey=journey, cell=world.cells[2], route="Pier crossing"
        )
        do_brief_leg(actor=world.coord, leg=pier)
        dock = Handoff.objects.get(journey=journey, position=1)
        do_update_handoff(
            actor=world.coord, handoff=dock, place=WISTERIA_DOCK, window_start=None, window_end=None
        )
    compromise = declare(world, Subject(SubjectKind.CELL, world.cells[2].pk))

    login(world.coord, world.coord_keyring)
    assert (
        WISTERIA_DOCK
        in client.get(reverse("compromise:detail", args=[compromise.pk])).content.decode()
    )

    login(world.coord2, world.coord2_keyring)
    page = client.get(reverse("compromise:detail", args=[compromise.pk])).content.decode()
    assert WISTERIA_DOCK not in page and "Pier crossing" not in page and "Dock route" not in page
    assert "not readable with your keys" in page
    assert "Wisteria" not in page  # the case's code name
    assert "1 legs and 2 handoffs belong to cases you do not coordinate" in page


def test_the_analysis_page_draws_the_cells(client, world, login):
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    login(world.coord, world.coord_keyring)
    response = client.get(reverse("compromise:analysis"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and "Heron" in page and "Otter" in page
    body = page.split("<body>", 1)[1]
    assert "<script" not in body and "style=" not in body


def test_pages_carry_no_inline_script_or_style(client, world, login):
    compromise = declare(world, Subject(SubjectKind.CELL, world.cells[0].pk), respond=True)
    login(world.coord, world.coord_keyring)
    for url in [reverse(p) for p in PAGES] + [reverse("compromise:detail", args=[compromise.pk])]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode().split("<body>", 1)[1]
        assert "<script" not in body and "style=" not in body, url
        assert "no-store" in response["Cache-Control"]


# --- the field: stand down ----------------------------------------------------------------------


def test_a_frozen_legs_field_page_says_stand_down_and_nothing_else(client, world, login):
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
        h1 = Handoff.objects.get(journey=world.journey, position=1)
        secrets = [
            "Changchun to Dandong",  # the route
            "Car park behind the Changchun grain market",
            "吉A 7Q219",
            "umbrella in the right hand",
            escape(h1.spoken_challenge.text),
            escape(h1.spoken_response.text),
        ]
    otter_member, otter_ring = world.member(1)
    leg = world.legs[1]
    client = login(otter_member, otter_ring)
    before = client.get(reverse("field:leg", kwargs={"leg": leg.pk})).content.decode()
    assert all(secret in before for secret in secrets)  # the control: it was all there

    declare(world, Subject(SubjectKind.CELL, world.cells[0].pk), respond=True)

    page = client.get(reverse("field:leg", kwargs={"leg": leg.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Stand down" in html
    for secret in secrets:
        assert secret not in html
    main = html.split("<main>", 1)[1].split("</main>", 1)[0]
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip() == "Stand down"
    listing = client.get(reverse("field:my_legs")).content.decode()
    assert "Stand down" in listing and all(secret not in listing for secret in secrets)
    # Its actions refuse: nothing happens, the page says the same.
    for url, data in (
        (reverse("field:leg", kwargs={"leg": leg.pk}), {"action": "start"}),
        (reverse("field:check_in", kwargs={"leg": leg.pk}), {"pin": "1234", "note": "x"}),
        (reverse("field:report_problem", kwargs={"leg": leg.pk}), {"kind": "other"}),
    ):
        response = client.post(url, data, follow=True)
        assert "Stand down" in response.content.decode()
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.FROZEN
    assert client.get(reverse("field:handoff_photo", kwargs={"handoff": h1.pk})).status_code == 404


# --- the planner's warnings ----------------------------------------------------------------------


def test_the_planner_warns_when_a_burned_vehicle_or_place_is_used_again(client, world, login):
    declare(world, Subject(SubjectKind.VEHICLE, text="blue Kia K5"), respond=True)
    declare(world, Subject(SubjectKind.PLACE, text="Old railway bridge"), respond=True)
    login(world.coord, world.coord_keyring)

    response = client.post(
        reverse("journeys:leg_new", kwargs={"journey": world.journey.pk}),
        {"transport": "car", "vehicle": "BLUE  kia k5", "route": "", "notes": ""},
        follow=True,
    )
    page = response.content.decode()
    assert "This leg&#x27;s vehicle is marked burned" in page
    new_leg = Leg.objects.get(journey=world.journey, position=2)
    edit = client.get(reverse("journeys:leg_edit", kwargs={"leg": new_leg.pk})).content.decode()
    assert "This leg&#x27;s vehicle is marked burned" in edit

    arrival = Handoff.objects.get(journey=world.journey, position=3)
    response = client.post(
        reverse("journeys:handoff_edit", kwargs={"handoff": arrival.pk}),
        {"place": "old railway bridge", "window_start": "", "window_end": ""},
        follow=True,
    )
    page = response.content.decode()
    assert "This handoff&#x27;s place is marked burned" in page
    edit = client.get(reverse("journeys:handoff_edit", kwargs={"handoff": arrival.pk}))
    assert "This handoff&#x27;s place is marked burned" in edit.content.decode()
    journey_page = client.get(reverse("journeys:detail", kwargs={"journey": world.journey.pk}))
    assert journey_page.content.decode().count("is marked burned") == 2


def test_a_compromised_cells_members_are_logged_out_at_once(client, world, login):
    driver, ring = world.member(0)
    client = login(driver, ring)
    assert client.get(reverse("field:my_legs")).status_code == 200
    declare(world, Subject(SubjectKind.CELL, world.cells[0].pk), respond=True)
    response = client.get(reverse("field:my_legs"))
    assert response.status_code == 302 and "login" in response["Location"]
