"""A coordinator plans a journey in the browser; a cell member on a phone
runs the first leg and reports a problem; the alert reaches the coordinator's
dashboard while it is open (the badge polls through htmx)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from safepassage.alerts.models import Alert, AlertKind
from safepassage.cases.models import Case
from safepassage.journeys.models import Journey, JourneyStatus, LegStatus
from tests.alerts.support import CHECKIN_PIN, set_pins

from .conftest import log_in, screenshot

pytestmark = pytest.mark.browser

STOP = "Driver stopped at a roadside market near Siping, 20 minutes, camera over the stalls"


def _add_leg(page, *, cell: str, start: str, end: str, route: str) -> None:
    page.get_by_label("Cell").select_option(label=cell)
    page.get_by_label("Transport").select_option("car")
    page.get_by_label("Window starts").fill(start)
    page.get_by_label("Window ends").fill(end)
    page.get_by_label("Route").fill(route)
    page.get_by_role("button", name="Add the leg").click()


def test_a_planned_journey_runs_and_its_alert_reaches_the_dashboard(contexts, site, world):
    coord = world.coord
    desk = contexts().new_page()

    # Plan: open a case, a journey, two legs with their cells; start it.
    log_in(desk, coord.handle)
    assert desk.get_by_role("heading", level=1).inner_text() == (
        "Journeys under way and being planned"
    )
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    desk.get_by_role("link", name="Open a case").click()
    desk.get_by_label("Code name").fill("Magnolia")
    desk.get_by_label("Needs").fill("Travels with a child of six")
    desk.get_by_label("The traveller has given consent to be helped and recorded").check()
    desk.get_by_label("What the consent covers").fill("The journey to the embassy")
    desk.get_by_role("button", name="Open the case").click()
    assert desk.get_by_text("The case is open.").is_visible()
    case = Case.objects.get(organisation=world.org, pk=desk.url.rstrip("/").rsplit("/", 1)[-1])

    desk.get_by_label("Journey title").fill("Coastal route")
    desk.get_by_role("button", name="Plan a new journey").click()
    desk.get_by_role("link", name="Add the first leg").click()
    _add_leg(
        desk,
        cell="Heron",
        start="2031-05-01T08:00",
        end="2031-05-01T14:00",
        route="Hunchun to Yanji",
    )
    desk.get_by_role("link", name="Add a leg at the end").click()
    _add_leg(
        desk,
        cell="Otter",
        start="2031-05-01T15:00",
        end="2031-05-01T22:00",
        route="Yanji to Shenyang",
    )
    journey = Journey.objects.get(case=case)
    assert list(journey.legs.order_by("position").values_list("cell", flat=True)) == [
        world.cells[0].pk,
        world.cells[1].pk,
    ]
    desk.get_by_role("button", name="Start the journey").click()
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ACTIVE
    screenshot(desk, "journey-started", full_page=True)

    # The dashboard stays open; its clock is ours, so the badge's poll comes on cue.
    desk.clock.install()
    desk.goto("/")
    badge = desk.locator("#notify-badge")
    assert badge.inner_text() == "Notifications"

    # The driver, on a phone, starts the leg, checks in, reports a stop.
    driver, driver_ring = world.member(0)
    with site.still():  # the dashboard may poll meanwhile
        set_pins(driver, driver_ring)
        leg = journey.legs.get(position=0)
    phone = contexts(phone=True).new_page()
    log_in(phone, driver.handle)
    phone.locator("article.leg", has_text="Hunchun to Yanji").get_by_role(
        "link", name="Open this leg"
    ).click()
    expect(phone).to_have_url(site(f"/field/legs/{leg.pk}/"))
    phone.get_by_role("button", name="I have the traveller — leg started").click()
    phone.get_by_label("Your check-in PIN").fill(CHECKIN_PIN)
    phone.get_by_role("button", name="Check in now").click()
    assert "Check-in received" in phone.locator(".receipt").inner_text()
    phone.get_by_label("Unscheduled stop").check()
    phone.get_by_label("Details").fill(STOP)
    phone.get_by_role("button", name="Alert my coordinators").click()
    assert phone.get_by_text("Your coordinators have been alerted.").is_visible()
    screenshot(phone, "field-problem-reported")
    leg.refresh_from_db()
    assert leg.status == LegStatus.STARTED
    alert = Alert.objects.get(leg=leg)
    assert alert.kind == AlertKind.UNSCHEDULED_STOP

    # Twenty seconds later on the dashboard's clock, the badge has polled.
    desk.clock.fast_forward("00:21")
    badge.filter(has_text="1 new notification").wait_for()
    screenshot(desk, "dashboard-alert")

    # The coordinator follows it to the alert and reads what the driver wrote.
    nav = desk.get_by_role("navigation", name="Main")
    desk.reload()
    nav.get_by_role("link", name="Alerts (1)").click()
    desk.get_by_role("link", name="Unscheduled stop").click()
    assert STOP in desk.locator("main").inner_text()
    assert desk.get_by_role("button", name="Acknowledge").count() >= 1
