"""A cell member on a phone: the field flow without JavaScript, with the
keyboard only, the quick exit, and what each field page costs on the wire."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from safepassage.alerts.models import Alert, AlertKind
from safepassage.checkins.models import Checkin, CheckinKind
from safepassage.checkins.services import do_report_problem
from safepassage.field.views import MAX_ALERTS_SHOWN
from safepassage.journeys.models import LegStatus
from safepassage.members.services import do_update_preferences
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, DURESS_PIN, make_lead, set_pins, start_journey

from .conftest import ARTIFACTS, Wire, log_in, screenshot

pytestmark = pytest.mark.browser

STOP = "Driver stopped at a petrol station near Siping, camera over the pumps"


def test_the_field_flow_works_without_javascript(contexts, world):
    """Log in, set the PINs, start the leg, check in, report a problem and
    leave by the quick exit, in a browser that runs no script at all."""
    start_journey(world)
    member, _ring = world.member(0)
    leg = world.legs[0]
    page = contexts(phone=True, java_script_enabled=False).new_page()

    log_in(page, member.handle)
    assert page.url.endswith("/field/"), page.url
    assert page.get_by_role("heading", level=1).inner_text() == "My legs"

    page.get_by_role("link", name="Open this leg").first.click()
    assert page.url.endswith(f"/field/legs/{leg.pk}/")
    assert "Car park behind the Changchun grain market" in page.content()
    page.get_by_role("button", name="I have the traveller — leg started").click()
    assert page.get_by_text("Leg started. You have the traveller.").is_visible()

    # No PIN yet: the leg page sends the member to set one.
    page.get_by_role("link", name="Set my check-in PIN").click()
    page.get_by_label("Check-in PIN").fill(CHECKIN_PIN)
    page.get_by_label("Duress PIN").fill(DURESS_PIN)
    page.get_by_role("button", name="Save PINs").click()
    assert page.get_by_text("Your PINs are set.").is_visible()

    page.goto(f"/field/legs/{leg.pk}/")
    page.get_by_label("Your check-in PIN").fill(CHECKIN_PIN)
    page.get_by_label("Short note (optional)").fill("All calm, moving on")
    page.get_by_role("button", name="Check in now").click()
    receipt = page.locator(".receipt")
    assert "Check-in received. Thank you." in receipt.inner_text()

    page.get_by_label("Unscheduled stop").check()
    page.get_by_label("Details").fill(STOP)
    page.get_by_role("button", name="Alert my coordinators").click()
    assert page.get_by_text("Your coordinators have been alerted.").is_visible()

    leg.refresh_from_db()
    assert leg.status == LegStatus.STARTED
    assert Checkin.objects.filter(leg=leg, member=member, kind=CheckinKind.CHECKIN).count() == 1
    alert = Alert.objects.get(leg=leg)
    assert alert.kind == AlertKind.UNSCHEDULED_STOP

    screenshot(page, "field-no-javascript", full_page=True)
    page.get_by_role("button", name="Quick exit").click()
    assert page.url.endswith("/field/weather/")
    assert page.get_by_role("heading", level=1).inner_text() == "Weather"


def test_keyboard_only_check_in(contexts, world):
    """Tab to the PIN, type it, press Enter: the check-in is received."""
    start_journey(world)
    member, ring = world.member(0)
    set_pins(member, ring)
    leg = world.legs[0]
    page = contexts(phone=True).new_page()
    log_in(page, member.handle)
    page.goto(f"/field/legs/{leg.pk}/")
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.name") == "pin":
            break
    else:
        pytest.fail("Tab never reached the PIN field")
    page.keyboard.type(CHECKIN_PIN)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"Check-in received", page.locator(".receipt").inner_text())
    screenshot(page, "field-keyboard-check-in")
    assert Checkin.objects.filter(leg=leg, member=member, kind=CheckinKind.CHECKIN).exists()


# --- the quick exit ------------------------------------------------------------------------


def test_quick_exit_ends_the_session_and_leaves_nothing_to_go_back_to(contexts, site, world):
    start_journey(world)
    member, _ring = world.member(0)
    leg = world.legs[0]
    context = contexts(phone=True)
    page = context.new_page()
    log_in(page, member.handle)
    leg_url = f"/field/legs/{leg.pk}/"
    page.goto(leg_url)
    session_key = next(c["value"] for c in context.cookies() if c["name"] == "sessionid")
    assert Session.objects.filter(session_key=session_key).exists()

    page.get_by_role("button", name="Quick exit").tap()
    expect(page).to_have_url(site("/field/weather/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Weather")
    assert "leg" not in page.content().lower()
    assert not Session.objects.filter(session_key=session_key).exists()
    names = {c["name"] for c in context.cookies()}
    assert not names & {"sessionid", settings.VAULT_COOKIE_NAME}, names

    # Back: the leg page was never cached, and asking for it again needs a login.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/members/login/\?next="))
    assert "Changchun" not in page.content()
    page.goto(leg_url)
    expect(page).to_have_url(re.compile(r"/members/login/\?next="))
    screenshot(page, "after-quick-exit")


# --- bytes on the wire -------------------------------------------------------------------------

BUDGET = 20 * 1024  # bytes per field page on the wire: the page, its redirect and its stylesheet


def _within_budget(measured: dict[str, dict[str, int]], login: dict[str, int]) -> None:
    """Assert the budget (the field pages and the login page every cell member
    loads); the figures go to test-artifacts/browser/field-page-bytes.json."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    totals = {label: sum(urls.values()) for label, urls in measured.items()}
    (ARTIFACTS / "field-page-bytes.json").write_text(
        json.dumps(
            {
                "budget": BUDGET,
                "totals": totals,
                "requests": measured,
                "login page": login,
            },
            indent=2,
        )
    )
    # Every cell member loads the login page on a phone too: held to the same budget.
    totals["login page"] = sum(login.values())
    over = {label: total for label, total in totals.items() if total > BUDGET}
    assert not over, f"field pages over {BUDGET} bytes on the wire: {over}"


def test_every_field_page_costs_under_20_kb_on_the_wire(contexts, site, world):
    """Each field page a member can reach, in its heaviest state, measured
    in the browser: the bytes Chromium received for the page, any redirect
    before it and its stylesheet, with nothing cached."""
    start_journey(world)
    member, ring = world.member(0)
    lead, lead_ring = make_lead(world, 0, 1)
    leg = world.legs[0]
    leg_url = f"/field/legs/{leg.pk}/"
    long_text = "A long account of what happened on the road, with every detail. " * 31
    context = contexts(phone=True)
    page = context.new_page()
    wire = Wire(context, page)
    with wire.measure() as login:
        page.goto("/members/login/")
    log_in(page, member.handle)
    measured: dict[str, dict[str, int]] = {}

    def measure(label: str, action) -> None:
        with wire.measure() as sizes:
            action()
        assert sizes, label
        measured[label] = sizes

    measure("my legs", lambda: page.goto("/field/"))
    measure("leg, planned", lambda: page.goto(leg_url))
    measure(
        "leg started",
        lambda: page.get_by_role("button", name="I have the traveller — leg started").click(),
    )
    measure("PIN page", lambda: page.get_by_role("link", name="Set my check-in PIN").click())
    page.get_by_label("Check-in PIN").fill(CHECKIN_PIN)
    page.get_by_label("Duress PIN").fill(DURESS_PIN)
    measure("PINs saved (my legs)", lambda: page.get_by_role("button", name="Save PINs").click())
    page.goto(leg_url)
    page.get_by_label("Your check-in PIN").fill("0000")
    page.get_by_label("Short note (optional)").fill(long_text[:2000])
    measure("check-in refused", lambda: page.get_by_role("button", name="Check in now").click())
    page.get_by_label("Your check-in PIN").fill(CHECKIN_PIN)
    page.get_by_label("Short note (optional)").fill("ok")
    measure("check-in receipt", lambda: page.get_by_role("button", name="Check in now").click())
    page.get_by_label("Other problem").check()
    measure(
        "report refused", lambda: page.get_by_role("button", name="Alert my coordinators").click()
    )
    page.get_by_label("Other problem").check()
    page.get_by_label("Details").fill(long_text[:2000])
    measure(
        "problem reported", lambda: page.get_by_role("button", name="Alert my coordinators").click()
    )
    measure("not found", lambda: page.goto(f"/field/legs/{world.legs[1].pk}/"))

    # The worst list a cell lead sees: many open alerts with long details.
    with unlocked(ring):
        for i in range(MAX_ALERTS_SHOWN + 2):
            kind = (AlertKind.OTHER, AlertKind.POLICE_CHECK, AlertKind.MONEY_DEMAND)[i % 3]
            do_report_problem(actor=member, leg=leg, kind=kind, details=long_text[:2000])
    for language in ("en", "ko", "zh-hans"):
        with unlocked(lead_ring):
            do_update_preferences(actor=lead, time_zone="Asia/Shanghai", language=language)
        lead_context = contexts(phone=True)
        lead_page = lead_context.new_page()
        log_in(lead_page, lead.handle)
        lead_wire = Wire(lead_context, lead_page)
        with lead_wire.measure() as sizes:
            lead_page.goto("/field/")
        assert lead_page.locator("ul.alerts > li").count() == MAX_ALERTS_SHOWN
        measured[f"my legs, lead with {MAX_ALERTS_SHOWN} alerts ({language})"] = sizes
        screenshot(lead_page, f"field-lead-alerts-{language}")
        with lead_wire.measure() as sizes:
            lead_page.goto(leg_url)
        measured[f"leg started ({language})"] = sizes

    measure("quick exit (weather)", lambda: page.get_by_role("button", name="Quick exit").click())
    expect(page).to_have_url(site("/field/weather/"))

    stylesheet = site("/static/field/field.css")
    assert all(stylesheet in sizes for label, sizes in measured.items() if "weather" not in label)
    _within_budget(measured, login)
