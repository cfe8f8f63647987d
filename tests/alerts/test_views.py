"""The alert inbox pages: permissions, handling an alert, notes, the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from safepassage.alerts.models import Alert, AlertKind, AlertNote, AlertStatus
from safepassage.alerts.worker import escalate_due
from safepassage.checkins.services import do_check_in, do_report_problem
from safepassage.roles import Role
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, start_first_leg
from tests.dashboard.permissions import assert_matrix
from tests.factories import make_member

pytestmark = pytest.mark.django_db

DETAILS = "Broker Lotus-Secret demands 3000 yuan"


@pytest.fixture
def reported(world):
    leg, member, ring = start_first_leg(world)
    with unlocked(ring):
        do_check_in(actor=member, leg=leg, pin=CHECKIN_PIN, note="Quiet road near Lotus-Secret")
        alert = do_report_problem(
            actor=member, leg=leg, kind=AlertKind.MONEY_DEMAND, details=DETAILS
        )
    return alert


def test_permission_matrix(client, world, reported):
    alert = reported
    assert_matrix(
        client,
        world,
        record_urls=[
            reverse("alerts:detail", args=[alert.pk]),
            reverse("alerts:acknowledge", args=[alert.pk]),
            reverse("alerts:resolve", args=[alert.pk]),
            reverse("alerts:note", args=[alert.pk]),
            reverse("alerts:timeline", args=[world.journey.pk]),
        ],
        open_urls=[reverse("alerts:list")],
        secrets=("Camellia", "Lotus-Secret", "Demand for more money"),
    )


def test_inbox_detail_and_timeline_show_the_sealed_details_to_the_case(
    client, login, world, reported
):
    login(world.coord, world.coord_keyring)
    inbox = client.get(reverse("alerts:list")).content.decode()
    assert "Demand for more money" in inbox
    page = client.get(reverse("alerts:detail", args=[reported.pk])).content.decode()
    assert DETAILS in page
    timeline = client.get(reverse("alerts:timeline", args=[world.journey.pk])).content.decode()
    assert "Quiet road near Lotus-Secret" in timeline and DETAILS in timeline
    assert timeline.index("Leg started") < timeline.index("Quiet road") < timeline.index(DETAILS)


def test_acknowledge_resolve_and_notes(client, login, world, reported):
    login(world.coord, world.coord_keyring)
    url = reverse("alerts:acknowledge", args=[reported.pk])
    assert client.post(url).status_code == 302
    reported.refresh_from_db()
    assert reported.status == AlertStatus.ACKNOWLEDGED and reported.acknowledged_by == world.coord
    # A second acknowledgement is refused on the page, nothing changes.
    again = client.post(url)
    assert again.status_code == 200 and "already been acknowledged" in again.content.decode()

    assert client.post(reverse("alerts:note", args=[reported.pk]), {"text": ""}).status_code == 200
    assert not AlertNote.objects.exists()
    client.post(
        reverse("alerts:note", args=[reported.pk]), {"text": "Paid nothing; calling the broker"}
    )
    note = AlertNote.objects.get()
    assert note.compartment_id == world.case.compartment_id
    raw = AlertNote.objects.filter(pk=note.pk).values_list("text", flat=True).get()
    assert b"calling" not in bytes(raw)

    client.post(reverse("alerts:resolve", args=[reported.pk]), {"note": "Broker backed down"})
    reported.refresh_from_db()
    assert reported.status == AlertStatus.RESOLVED and reported.resolved_by == world.coord
    page = client.get(reverse("alerts:detail", args=[reported.pk])).content.decode()
    assert "Broker backed down" in page and "calling the broker" in page


def test_a_coordinator_outside_the_case_sees_an_escalated_alert_without_its_details(
    client, login, world, reported
):
    outsider, outsider_ring = make_member(world.coord, world.coord_keyring, role=Role.COORDINATOR)
    url = reverse("alerts:detail", args=[reported.pk])
    login(outsider, outsider_ring)
    assert client.get(url).status_code == 404  # not yet theirs
    escalate_due(now=reported.raised_at + timedelta(hours=1))
    escalate_due(now=reported.raised_at + timedelta(hours=2))
    assert Alert.objects.get(pk=reported.pk).escalation_level == 2
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Demand for more money" in page
    assert "Lotus-Secret" not in page and "Camellia" not in page
    assert "only its kind and time" in page
    # They may acknowledge it (someone must), but not write sealed notes.
    client.post(reverse("alerts:acknowledge", args=[reported.pk]))
    assert Alert.objects.get(pk=reported.pk).status == AlertStatus.ACKNOWLEDGED
    client.post(reverse("alerts:note", args=[reported.pk]), {"text": "x"})
    assert not AlertNote.objects.exists()
