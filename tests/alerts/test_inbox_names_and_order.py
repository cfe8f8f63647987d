"""Alerts name what they are about, are sorted most urgent first, and show no
empty details line (issue 11, item 8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts import selectors
from safepassage.alerts.escalation import raise_alert
from safepassage.alerts.models import SEVERITY_ORDER, Alert, AlertKind, AlertStatus, Severity
from safepassage.vault.keyring import unlocked
from tests.alerts.support import make_lead, start_journey

pytestmark = pytest.mark.django_db


def _raise(world, kind, *, minutes_ago, leg=0, details=None, status=AlertStatus.OPEN) -> Alert:
    with unlocked(world.coord_keyring), transaction.atomic():
        alert = raise_alert(
            organisation_id=world.org.pk,
            kind=kind,
            now=timezone.now() - timedelta(minutes=minutes_ago),
            leg=world.legs[leg],
            details=details,
        )
    if status != AlertStatus.OPEN:
        Alert.objects.filter(pk=alert.pk).update(status=status)
    return alert


@pytest.fixture
def mixed(world):
    """Alerts of both severities and several ages, one acknowledged and one
    resolved, named by what order they must be listed in."""
    start_journey(world)
    return {
        "critical_new": _raise(world, AlertKind.POLICE_CHECK, minutes_ago=5, leg=1),
        "critical_old": _raise(world, AlertKind.MISSED_HANDOFF, minutes_ago=50),
        "warning_ack_new": _raise(
            world, AlertKind.MONEY_DEMAND, minutes_ago=1, status=AlertStatus.ACKNOWLEDGED
        ),
        "warning_old": _raise(world, AlertKind.MISSED_CHECKIN, minutes_ago=90),
        "resolved_critical": _raise(
            world, AlertKind.MEDICAL, minutes_ago=2, status=AlertStatus.RESOLVED
        ),
    }


def test_severity_order_is_explicit_and_complete():
    assert SEVERITY_ORDER == (Severity.CRITICAL, Severity.WARNING)
    assert set(SEVERITY_ORDER) == set(Severity.values)


def test_inbox_is_most_severe_first_then_newest_with_resolved_last(world, mixed, login):
    expected = ["critical_new", "critical_old", "warning_ack_new", "warning_old"]
    ids = [a.pk for a in selectors.inbox(world.coord)]
    assert ids == [mixed[name].pk for name in expected]
    with_resolved = [a.pk for a in selectors.inbox(world.coord, include_resolved=True)]
    assert with_resolved == [mixed[name].pk for name in [*expected, "resolved_critical"]]

    client = login(world.coord, world.coord_keyring)
    page = client.get(reverse("alerts:list")).content.decode()
    positions = [page.index(reverse("alerts:detail", args=[mixed[n].pk])) for n in expected]
    assert positions == sorted(positions)


def test_the_list_and_detail_name_the_case_journey_and_leg(world, mixed, login):
    client = login(world.coord, world.coord_keyring)
    page = client.get(reverse("alerts:list")).content.decode()
    assert "Camellia" in page and "North route" in page
    assert "leg 2" in page and "leg 1" in page

    detail = client.get(reverse("alerts:detail", args=[mixed["critical_new"].pk])).content.decode()
    assert "Camellia" in detail and "North route" in detail
    assert reverse("cases:detail", args=[world.case.pk]) in detail
    assert reverse("journeys:detail", args=[world.journey.pk]) in detail


def test_no_empty_details_line(world, mixed, login):
    client = login(world.coord, world.coord_keyring)
    bare = client.get(reverse("alerts:detail", args=[mixed["critical_old"].pk])).content.decode()
    assert "None given" not in bare
    assert "<dt>Details</dt>" not in bare

    written = _raise(world, AlertKind.ROUTE_CHANGE, minutes_ago=3, details="Took the river road")
    page = client.get(reverse("alerts:detail", args=[written.pk])).content.decode()
    assert "<dt>Details</dt>" in page and "Took the river road" in page


def test_a_cell_lead_sees_the_leg_and_its_route_but_not_the_case_or_journey(world, login):
    start_journey(world)
    newer_warning = _raise(world, AlertKind.UNSCHEDULED_STOP, minutes_ago=1)
    older_critical = _raise(world, AlertKind.LOST_CONTACT, minutes_ago=30)
    lead, lead_ring = make_lead(world, 0)
    page = login(lead, lead_ring).get(reverse("field:my_legs")).content.decode()
    alerts_box = page[page.index("Open alerts on your legs") :]
    assert "Yanji to Changchun" in alerts_box.split("</section>")[0]
    assert "Camellia" not in page and "North route" not in page
    assert alerts_box.index(f'value="{older_critical.pk}"') < alerts_box.index(
        f'value="{newer_warning.pk}"'
    )
