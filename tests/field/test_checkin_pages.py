"""The warning system on the field pages: check in with a PIN, see when the
next check-in is due, report a problem. Bad input loses nothing: a refusal is
shown on the form with what the member typed still in it."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts.models import PROBLEM_KINDS, Alert, AlertKind, AlertStatus
from safepassage.checkins.deadlines import next_due
from safepassage.checkins.models import Checkin, CheckinKind, MemberPins
from safepassage.journeys.models import Leg, LegStatus
from safepassage.journeys.services import (
    do_add_leg,
    do_create_journey,
    do_mark_leg_handed_off,
    do_start_journey,
)
from safepassage.members.models import Member
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, DURESS_PIN, set_pins, start_first_leg, start_journey

pytestmark = pytest.mark.django_db

NOTE = "Fuel stop at km 40 & all calm <ok>"


def _leg_url(leg) -> str:
    return reverse("field:leg", kwargs={"leg": leg.pk})


def _checkin_url(leg) -> str:
    return reverse("field:check_in", kwargs={"leg": leg.pk})


def _problem_url(leg) -> str:
    return reverse("field:report_problem", kwargs={"leg": leg.pk})


def _textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea name="{name}"[^>]*>\n?(.*?)</textarea>', page, re.S)
    assert match, f"no {name} box on the page"
    return match.group(1)


def _local_hm(value, zone: str) -> str:
    return timezone.localtime(value, zoneinfo.ZoneInfo(zone)).strftime("%H:%M")


# --- checking in --------------------------------------------------------------------------


def test_check_in_redirects_to_a_receipt_with_the_next_deadline_in_the_members_zone(world, login):
    leg, member, ring = start_first_leg(world)
    Member.objects.filter(pk=member.pk).update(time_zone="Asia/Bangkok")
    client = login(member, ring)

    page = client.get(_leg_url(leg)).content.decode()
    assert f'action="{_checkin_url(leg)}"' in page
    assert 'type="password" name="pin"' in page

    response = client.post(_checkin_url(leg), {"pin": CHECKIN_PIN, "note": NOTE})

    assert response.status_code == 302
    assert response["Location"] == _leg_url(leg)
    checkin = Checkin.objects.get(leg=leg, kind=CheckinKind.CHECKIN)
    assert checkin.member_id == member.pk
    with unlocked(world.coord_keyring):
        assert Checkin.objects.get(pk=checkin.pk).note == NOTE
    page = client.get(response["Location"]).content.decode()
    receipt = page[page.index('class="receipt"') : page.index("</div>", page.index("receipt"))]
    assert "Check-in received. Thank you." in receipt
    due = next_due(leg)
    assert due is not None and due > checkin.at
    assert f"{_local_hm(checkin.at, 'Asia/Bangkok')}</time>" in receipt
    assert "Next check-in due by" in receipt
    assert f"{_local_hm(due, 'Asia/Bangkok')}</time> (Asia/Bangkok)" in receipt
    # The receipt is shown once; the leg keeps showing the next deadline.
    again = client.get(_leg_url(leg)).content.decode()
    assert 'class="receipt"' not in again
    assert f"{_local_hm(due, 'Asia/Bangkok')}</time>" in again


def test_a_wrong_pin_is_refused_clearly_and_keeps_the_note(world, login):
    leg, member, ring = start_first_leg(world)
    client = login(member, ring)

    response = client.post(_checkin_url(leg), {"pin": "0000", "note": NOTE})

    assert response.status_code == 200
    page = response.content.decode()
    assert "That PIN is not right." in page
    assert 'role="alert"' in page
    assert _textarea(page, "note") == "Fuel stop at km 40 &amp; all calm &lt;ok&gt;"
    assert "0000" not in page  # the PIN is never sent back
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()
    assert "no-store" in response["Cache-Control"]


def test_an_empty_pin_and_a_long_note_are_refused_keeping_what_was_typed(world, login):
    leg, member, ring = start_first_leg(world)
    client = login(member, ring)

    page = client.post(_checkin_url(leg), {"pin": "", "note": NOTE}).content.decode()
    assert "Type your check-in PIN." in page
    assert "&amp; all calm" in _textarea(page, "note")

    long_note = "x" * 2001
    page = client.post(_checkin_url(leg), {"pin": CHECKIN_PIN, "note": long_note}).content.decode()
    assert "at most 2000 characters" in page
    assert _textarea(page, "note") == long_note
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()


def test_a_check_in_on_a_finished_leg_is_refused_and_the_note_kept(world, login):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        do_mark_leg_handed_off(actor=member, leg=Leg.objects.get(pk=leg.pk))
    client = login(member, ring)
    assert 'name="pin"' not in client.get(_leg_url(leg)).content.decode()  # nothing to do

    # A page left open from before the handoff still posts.
    response = client.post(_checkin_url(leg), {"pin": CHECKIN_PIN, "note": NOTE})

    assert response.status_code == 200
    page = response.content.decode()
    assert "This leg is finished: check-ins and reports are closed." in page
    assert "&amp; all calm" in _textarea(page, "note")
    assert not Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).exists()


def test_a_check_in_before_the_journey_starts_is_refused(world, login):
    member, ring = world.member(0)
    set_pins(member, ring)
    client = login(member, ring)
    leg = world.legs[0]
    assert 'name="pin"' not in client.get(_leg_url(leg)).content.decode()

    page = client.post(_checkin_url(leg), {"pin": CHECKIN_PIN, "note": NOTE}).content.decode()

    assert "This journey has not been started by its coordinators yet." in page
    assert "&amp; all calm" in _textarea(page, "note")
    assert not Checkin.objects.exists()


def test_a_member_without_pins_is_sent_to_set_them_first(world, login):
    start_journey(world)
    member, ring = world.member(0, 1)  # the cell's second member has no PINs
    client = login(member, ring)
    leg = world.legs[0]

    page = client.get(_leg_url(leg)).content.decode()

    assert "You need a check-in PIN before you can check in." in page
    assert f'href="{reverse("checkins:pins")}"' in page
    assert 'name="pin"' not in page
    assert "duress" not in page.lower()  # nothing on this page hints at a second PIN
    # Posting anyway is refused by the service, with its message.
    page = client.post(_checkin_url(leg), {"pin": "1234", "note": NOTE}).content.decode()
    assert "Set your check-in PIN before checking in." in page
    # Once set, the form is there.
    client.post(reverse("checkins:pins"), {"checkin_pin": "4321", "duress_pin": "8765"})
    assert MemberPins.objects.filter(member=member).exists()
    assert 'name="pin"' in client.get(_leg_url(leg)).content.decode()


def test_every_leg_shows_when_its_next_check_in_is_due(world, login):
    start_journey(world)
    with unlocked(world.coord_keyring):
        journey = do_create_journey(actor=world.coord, case=world.other_case, title="Second")
        second = do_add_leg(
            actor=world.coord,
            journey=journey,
            cell=world.cells[0],
            route="Tumen river road",
            window_start=timezone.now() + timezone.timedelta(days=2),
            window_end=timezone.now() + timezone.timedelta(days=2, hours=3),
        )
        do_start_journey(actor=world.coord, journey=journey)
    member, ring = world.member(0)
    Member.objects.filter(pk=member.pk).update(time_zone="Asia/Seoul")
    client = login(member, ring)

    page = client.get(reverse("field:my_legs")).content.decode()

    assert page.count("Next check-in due by") == 2
    for leg in (world.legs[0], second):
        due = next_due(leg)
        assert due is not None
        local = timezone.localtime(due, zoneinfo.ZoneInfo("Asia/Seoul"))
        assert f'<time datetime="{local.isoformat()}">' in page
    assert "Times are in Asia/Seoul." in page
    leg_page = client.get(_leg_url(second)).content.decode()
    assert "Next check-in due by" in leg_page


# --- problem reports ---------------------------------------------------------------------


def test_the_problem_form_offers_every_kind_as_a_labelled_radio_button(world, login):
    start_journey(world)
    member, ring = world.member(0)
    page = login(member, ring).get(_leg_url(world.legs[0])).content.decode()

    radios = re.findall(
        r'<label for="(id_kind_\d+)"><input type="radio" name="kind" '
        r'value="([a-z_]+)" id="\1"',
        page,
    )
    assert [value for _id, value in radios] == [str(k) for k in PROBLEM_KINDS]
    assert f'action="{_problem_url(world.legs[0])}"' in page
    assert '<textarea name="details"' in page


def test_a_problem_report_alerts_and_confirms(world, login):
    start_journey(world)
    member, ring = world.member(0)
    client = login(member, ring)
    leg = world.legs[0]

    response = client.post(
        _problem_url(leg), {"kind": AlertKind.MONEY_DEMAND, "details": "Driver wants 500 more"}
    )

    assert response.status_code == 302
    assert response["Location"] == _leg_url(leg)
    alert = Alert.objects.get(leg=leg)
    assert alert.kind == AlertKind.MONEY_DEMAND
    assert alert.status == AlertStatus.OPEN
    assert alert.raised_by_id == member.pk
    with unlocked(world.coord_keyring):
        assert Alert.objects.get(pk=alert.pk).details == "Driver wants 500 more"
    page = client.get(response["Location"]).content.decode()
    assert "Your coordinators have been alerted." in page


def test_other_needs_details_and_a_refused_report_keeps_what_was_typed(world, login):
    start_journey(world)
    member, ring = world.member(0)
    client = login(member, ring)
    leg = world.legs[0]

    page = client.post(_problem_url(leg), {"kind": "other", "details": "  "}).content.decode()
    assert "Say what happened." in page
    assert re.search(r'value="other" id="id_kind_\d+" required checked', page)

    page = client.post(_problem_url(leg), {"details": "Stopped by a van"}).content.decode()
    assert "Choose what kind of problem this is." in page
    assert _textarea(page, "details") == "Stopped by a van"

    page = client.post(
        _problem_url(leg), {"kind": "duress", "details": "Stopped by a van"}
    ).content.decode()
    assert "Choose what kind of problem this is." in page  # not a kind a form can send
    assert _textarea(page, "details") == "Stopped by a van"
    assert not Alert.objects.exists()


def test_a_report_on_a_finished_leg_is_refused_keeping_the_details(world, login):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        do_mark_leg_handed_off(actor=member, leg=Leg.objects.get(pk=leg.pk))
    client = login(member, ring)

    page = client.post(
        _problem_url(leg), {"kind": AlertKind.ROUTE_CHANGE, "details": "New road via Siping"}
    ).content.decode()

    assert "This leg is finished: check-ins and reports are closed." in page
    assert _textarea(page, "details") == "New road via Siping"
    assert not Alert.objects.exists()
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.HANDED_OFF


def test_a_get_on_the_form_urls_goes_back_to_the_leg(world, login):
    start_journey(world)
    member, ring = world.member(0)
    client = login(member, ring)
    for url in (_checkin_url(world.legs[0]), _problem_url(world.legs[0])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == _leg_url(world.legs[0])
    assert not Alert.objects.exists() and not Checkin.objects.exists()


def test_the_duress_pin_on_the_field_form_raises_the_alert(world, login):
    leg, member, ring = start_first_leg(world)
    client = login(member, ring)
    response = client.post(_checkin_url(leg), {"pin": DURESS_PIN, "note": ""})
    assert response.status_code == 302
    assert Alert.objects.filter(leg=leg, kind=AlertKind.DURESS).count() == 1
