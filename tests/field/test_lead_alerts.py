"""A cell lead's open alerts on "My legs", with an Acknowledge button where
they may handle the alert; and who may not post to the warning-system forms."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.alerts.models import Alert, AlertKind, AlertStatus, EscalationLevel
from safepassage.cells.services import do_create_cell
from safepassage.checkins.models import Checkin, CheckinKind
from safepassage.checkins.services import do_check_in, do_report_problem
from safepassage.roles import Role
from safepassage.vault.keyring import unlocked
from tests.alerts.support import (
    CHECKIN_PIN,
    DURESS_PIN,
    make_lead,
    set_pins,
    start_first_leg,
    start_journey,
)
from tests.conftest import vault_login
from tests.factories import OrganisationFactory, make_member

pytestmark = pytest.mark.django_db

MY_LEGS = reverse("field:my_legs")
ACK = reverse("field:acknowledge")


def _report(world, kind=AlertKind.UNSCHEDULED_STOP, details="Stopped at a petrol station"):
    member, ring = world.member(0)
    with unlocked(ring):
        return do_report_problem(actor=member, leg=world.legs[0], kind=kind, details=details)


def _login_url() -> str:
    return reverse("members:login")


def test_a_cell_lead_sees_the_open_alerts_of_their_legs_and_acknowledges_one(world, login):
    start_journey(world)
    alert = _report(world)
    lead, lead_ring = make_lead(world, 0, 1)
    client = login(lead, lead_ring)

    page = client.get(MY_LEGS).content.decode()

    assert "Open alerts on your legs" in page
    assert "Unscheduled stop" in page
    assert "Stopped at a petrol station" in page  # the lead holds the leg's key
    assert f'action="{ACK}"' in page
    assert f'name="alert" value="{alert.pk}"' in page

    response = client.post(ACK, {"alert": str(alert.pk)})

    assert response.status_code == 302
    assert response["Location"] == MY_LEGS
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by_id == lead.pk
    assert alert.next_escalation_at is None
    page = client.get(MY_LEGS).content.decode()
    assert "Acknowledged. Your coordinators can see you are on it." in page
    assert "Open alerts on your legs" not in page  # nothing open any more


def test_acknowledging_twice_shows_the_refusal(world, login):
    start_journey(world)
    alert = _report(world)
    lead, lead_ring = make_lead(world, 0, 1)
    client = login(lead, lead_ring)
    assert client.post(ACK, {"alert": str(alert.pk)}).status_code == 302

    response = client.post(ACK, {"alert": str(alert.pk)})

    assert response.status_code == 200
    page = response.content.decode()
    assert "This alert has already been acknowledged." in page
    assert 'role="alert"' in page


def test_a_member_who_is_not_lead_sees_their_report_but_no_button(world, login):
    start_journey(world)
    alert = _report(world)
    reporter, ring = world.member(0)
    client = login(reporter, ring)

    page = client.get(MY_LEGS).content.decode()
    assert "Unscheduled stop" in page
    assert "Waiting for your coordinators." in page
    assert f'action="{ACK}"' not in page

    response = client.post(ACK, {"alert": str(alert.pk)})  # a forged post

    assert response.status_code == 200
    assert "This alert is not yours to handle." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_a_duress_alert_never_reaches_the_field_pages(world, login):
    leg, member, ring = start_first_leg(world)
    lead, lead_ring = make_lead(world, 0, 1)
    with unlocked(ring):
        do_check_in(actor=member, leg=leg, pin=DURESS_PIN)
    duress = Alert.objects.get(kind=AlertKind.DURESS)
    for who, keys in ((lead, lead_ring), (member, ring)):
        client = login(who, keys)
        page = client.get(MY_LEGS).content.decode()
        assert "Open alerts on your legs" not in page
        assert "Duress" not in page
        response = client.post(ACK, {"alert": str(duress.pk)})
        assert response.status_code == 404
    duress.refresh_from_db()
    assert duress.status == AlertStatus.OPEN


def test_only_open_alerts_are_listed_and_critical_ones_first(world, login):
    start_journey(world)
    warning = _report(world, AlertKind.ROUTE_CHANGE, "Road closed")
    critical = _report(world, AlertKind.POLICE_CHECK, "Checkpoint ahead")
    done = _report(world, AlertKind.MEDICAL, "Fever")
    Alert.objects.filter(pk=done.pk).update(status=AlertStatus.RESOLVED)
    lead, lead_ring = make_lead(world, 0, 1)
    page = login(lead, lead_ring).get(MY_LEGS).content.decode()
    assert page.index(str(critical.pk)) < page.index(str(warning.pk))
    assert str(done.pk) not in page and "Fever" not in page
    assert critical.escalation_level == EscalationLevel.CASE_COORDINATORS


# --- who may post --------------------------------------------------------------------------


@pytest.fixture
def outsiders(world):
    other = OrganisationFactory()
    other_coord, other_coord_ring = make_member(other.founder, other.keyring, role=Role.COORDINATOR)
    with unlocked(other.keyring):
        other_cell = do_create_cell(actor=other.founder, codename="Far Cell")
    other_member, other_member_ring = make_member(other.founder, other.keyring, cell=other_cell)
    lead_elsewhere, lead_elsewhere_ring = make_lead(world, 1, 0)  # leads cell 1, not cell 0
    return {
        "member of another cell": world.member(2),
        "lead of another cell": (lead_elsewhere, lead_elsewhere_ring),
        "coordinator of another organisation": (other_coord, other_coord_ring),
        "member of another organisation": (other_member, other_member_ring),
        "coordinator of this organisation": (world.coord, world.coord_keyring),
    }


def _leg_form_posts(world):
    leg = world.legs[0]
    return [
        (reverse("field:check_in", kwargs={"leg": leg.pk}), {"pin": CHECKIN_PIN, "note": "x"}),
        (
            reverse("field:report_problem", kwargs={"leg": leg.pk}),
            {"kind": AlertKind.UNSCHEDULED_STOP, "details": "x"},
        ),
    ]


def test_anonymous_is_sent_to_login_from_the_new_field_urls(client, world):
    start_journey(world)
    alert = _report(world)
    targets = [*_leg_form_posts(world), (ACK, {"alert": str(alert.pk)})]
    for url, data in targets:
        for response in (client.get(url), client.post(url, data)):
            assert response.status_code == 302, url
            assert response["Location"].startswith(_login_url()), url
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert Alert.objects.count() == 1


def test_outsiders_get_404_and_change_nothing(client, world, outsiders):
    start_journey(world)
    alert = _report(world)
    member, ring = world.member(0)
    set_pins(member, ring)
    for label, (who, keys) in outsiders.items():
        client.logout()
        vault_login(client, who, keys)
        for url, data in _leg_form_posts(world):
            assert client.get(url).status_code == 404, (label, url)
            response = client.post(url, data)
            assert response.status_code == 404, (label, url)
            assert "no-store" in response["Cache-Control"]
        response = client.post(ACK, {"alert": str(alert.pk)})
        assert response.status_code == 404, (label, "acknowledge")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert Alert.objects.count() == 1
    assert not Checkin.objects.filter(kind=CheckinKind.CHECKIN).exists()


def test_acknowledge_answers_404_for_missing_or_malformed_alerts(world, login):
    start_journey(world)
    lead, lead_ring = make_lead(world, 0, 1)
    client = login(lead, lead_ring)
    for data in ({"alert": "3f1c6a9e-0000-4000-8000-000000000000"}, {"alert": "nope"}, {}):
        assert client.post(ACK, data).status_code == 404, data
    assert client.get(ACK)["Location"] == MY_LEGS


def test_the_members_entitled_reach_the_same_urls(world, login):
    """Positive control for the matrix above."""
    start_journey(world)
    member, ring = world.member(0)
    set_pins(member, ring)
    client = login(member, ring)
    for url, data in _leg_form_posts(world):
        assert client.post(url, data).status_code == 302, url
    assert Checkin.objects.filter(kind=CheckinKind.CHECKIN).count() == 1
    alert = Alert.objects.get()
    lead, lead_ring = make_lead(world, 0, 1)
    client = login(lead, lead_ring)
    assert client.post(ACK, {"alert": str(alert.pk)}).status_code == 302
