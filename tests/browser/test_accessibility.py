"""Accessibility on the demo organisation: axe-core finds no serious or
critical violation on the main pages, the keyboard alone logs in and moves
past the header, focus is always visible; and the dashboard screenshot."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from safepassage.alerts.models import Alert, AlertKind
from safepassage.checkins.services import do_report_problem
from safepassage.demo.scenario import CELLS, COORDINATORS, build_demo
from safepassage.journeys.models import LegStatus
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, set_pins

from .conftest import (
    ARTIFACTS,
    DESK,
    PHONE,
    TIMEOUT_MS,
    authenticator_code,
    axe_violations,
    log_in,
    screenshot,
)

# The demo is built once for the module (outside any test's transaction) and
# only read; the marker gives each test the test database.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SEOUL = COORDINATORS[0]
DRIVER = CELLS[0].members[0]
STOP = "Stopped 25 minutes at the Dunhua service area: the driver met someone we do not know"


@pytest.fixture(scope="module")
def demo(site) -> Iterator[dict[str, Any]]:
    """The demo organisation, built once for the module (the tests only read
    it), with the driver's reported stop open; emptied at the end."""
    result = build_demo()
    driver = result.members[DRIVER.handle]
    journey = result.journeys["azalea"]
    leg = journey.legs.get(status=LegStatus.STARTED)
    with unlocked(result.keyrings[DRIVER.handle]):
        do_report_problem(actor=driver, leg=leg, kind=AlertKind.UNSCHEDULED_STOP, details=STOP)
    alert = Alert.objects.get(leg=leg)
    set_pins(driver, result.keyrings[DRIVER.handle])
    record: dict[str, list] = {}
    yield {
        "result": result,
        "axe": record,
        "paths": {
            "dashboard": reverse("dashboard:home"),
            "cases": reverse("cases:list"),
            "case": reverse("cases:detail", args=[result.cases["azalea"].pk]),
            "journey": reverse("journeys:detail", args=[journey.pk]),
            "planned journey": reverse("journeys:detail", args=[result.journeys["magnolia"].pk]),
            "check-in plan": reverse("checkins:plan", args=[leg.pk]),
            "alerts": reverse("alerts:list"),
            "alert": reverse("alerts:detail", args=[alert.pk]),
            "journey timeline": reverse("alerts:timeline", args=[journey.pk]),
            "notifications": reverse("notifications:list"),
            "cells": reverse("cells:list"),
            "members": reverse("members:list"),
            "preferences": reverse("members:preferences"),
            "compromises": reverse("compromise:list"),
            "declare a compromise": reverse("compromise:declare"),
            "exposure analysis": reverse("compromise:analysis"),
            "my legs": reverse("field:my_legs"),
            "field leg": reverse("field:leg", args=[leg.pk]),
            "check-in PINs": reverse("checkins:pins"),
            "security": reverse("members:security"),
            "password": reverse("members:password"),
            "notification settings": reverse("notifications:settings"),
            "preferences, the Americas": reverse("members:preferences") + "?area=America",
        },
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-results.json").write_text(json.dumps(record, indent=2))
    call_command("flush", interactive=False, verbosity=0)


def _logged_in(browser, site, options: dict, handle: str, password: str) -> Any:
    # bypass_csp: axe is injected as a script the page's policy would refuse.
    context = browser.new_context(**options, base_url=site.url, bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, handle, password)
    return context, page


@pytest.fixture(scope="module")
def desk(browser, site, demo) -> Iterator[Any]:
    context, page = _logged_in(browser, site, DESK, SEOUL.handle, SEOUL.password)
    yield page
    context.close()


@pytest.fixture(scope="module")
def phone(browser, site, demo) -> Iterator[Any]:
    context, page = _logged_in(browser, site, PHONE, DRIVER.handle, DRIVER.password)
    yield page
    context.close()


SERIOUS = {"serious", "critical"}


@pytest.fixture(autouse=True)
def _park_pages(request) -> Iterator[None]:
    """Between tests the module's pages rest on a blank page: nothing polls
    the server while the test database opens and rolls back each test."""
    yield
    for name in ("desk", "phone"):
        if name in request.fixturenames:
            request.getfixturevalue(name).goto("about:blank")


def _assert_no_serious_violations(page, label: str, record: dict | None = None) -> None:
    found = axe_violations(page)
    if record is not None:
        record[label] = found
        screenshot(page, "page-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-"))
    serious = [v for v in found if v["impact"] in SERIOUS]
    assert not serious, f"{label}: " + "\n".join(
        f"{v['impact']} {v['id']} ({v['help']}): {v['nodes'][:3]}" for v in serious
    )


def test_axe_finds_what_it_is_meant_to_find(browser):
    """The check can fail: a page with an unlabelled field, an image without
    text, grey on white and no language gets the serious violations."""
    context = browser.new_context(**DESK)
    page = context.new_page()
    page.set_content(
        "<html><body><main><h1>Check</h1><input type='text' name='code'>"
        "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
        "<p style='color:#d0d0d0;background:#fff'>faint text</p></main></body></html>"
    )
    found = {v["id"] for v in axe_violations(page) if v["impact"] in SERIOUS}
    assert {"label", "image-alt", "color-contrast", "html-has-lang"} <= found, found
    context.close()


COORDINATOR_PAGES = [
    "dashboard",
    "cases",
    "case",
    "journey",
    "planned journey",
    "check-in plan",
    "alerts",
    "alert",
    "journey timeline",
    "notifications",
    "cells",
    "members",
    "preferences",
    "compromises",
    "declare a compromise",
    "exposure analysis",
]
# A cell member's account pages are field pages too (the field layout).
FIELD_PAGES = [
    "my legs",
    "field leg",
    "check-in PINs",
    "preferences",
    "preferences, the Americas",
    "security",
    "password",
    "notification settings",
]


@pytest.mark.parametrize("name", COORDINATOR_PAGES)
def test_coordinator_pages_pass_axe(desk, demo, name):
    response = desk.goto(demo["paths"][name])
    assert response is not None and response.status == 200, name
    _assert_no_serious_violations(desk, name, demo["axe"])


@pytest.mark.parametrize("name", FIELD_PAGES)
def test_field_pages_pass_axe(phone, demo, name):
    response = phone.goto(demo["paths"][name])
    assert response is not None and response.status == 200, name
    _assert_no_serious_violations(phone, f"field: {name}", demo["axe"])


def test_field_forms_in_each_state_pass_axe(phone, demo):
    """A refused check-in, a receipt and a refused report: error and status
    boxes have their own colours to check."""
    phone.goto(demo["paths"]["field leg"])
    phone.get_by_label("Your check-in PIN").fill("0000")
    phone.get_by_role("button", name="Check in now").click()
    expect(phone.get_by_text("That PIN is not right.")).to_be_visible()
    _assert_no_serious_violations(phone, "field: check-in refused", demo["axe"])
    phone.get_by_label("Your check-in PIN").fill(CHECKIN_PIN)
    phone.get_by_role("button", name="Check in now").click()
    expect(phone.locator(".receipt")).to_be_visible()
    _assert_no_serious_violations(phone, "field: check-in receipt", demo["axe"])
    phone.get_by_label("Other problem").check()
    phone.get_by_role("button", name="Alert my coordinators").click()
    expect(phone.get_by_text("Say what happened.")).to_be_visible()
    _assert_no_serious_violations(phone, "field: report refused", demo["axe"])


def test_pages_without_a_login_pass_axe(browser, site, demo):
    for options in (DESK, PHONE):
        context = browser.new_context(**options, base_url=site.url, bypass_csp=True)
        page = context.new_page()
        for path in ("/members/login/", "/field/weather/", "/members/join/not-a-real-token/"):
            page.goto(path)
            _assert_no_serious_violations(
                page, f"{path} ({options['viewport']['width']} px)", demo["axe"]
            )
        context.close()


# --- the keyboard ---------------------------------------------------------------------------

FOCUS_VISIBLE = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
        || style.boxShadow !== 'none';
}"""


def _focused(page) -> dict:
    return page.evaluate(
        "() => ({tag: document.activeElement.tagName.toLowerCase(),"
        " name: document.activeElement.name || '', text: document.activeElement.innerText || ''})"
    )


def test_logging_in_with_the_keyboard_alone(browser, site, demo):
    context = browser.new_context(**DESK, base_url=site.url)
    page = context.new_page()
    page.goto("/members/login/")
    assert _focused(page)["name"] == "handle"  # the form takes the focus on arrival
    assert page.evaluate(FOCUS_VISIBLE)
    page.keyboard.type(SEOUL.handle)
    page.keyboard.press("Tab")
    assert _focused(page)["name"] == "password"
    assert page.evaluate(FOCUS_VISIBLE)
    page.keyboard.type(SEOUL.password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if "/members/second-factor/" in page.url:
        # A coordinator's code: the field has the focus, Enter sends it.
        assert _focused(page)["name"] == "code"
        assert page.evaluate(FOCUS_VISIBLE)
        page.keyboard.type(authenticator_code(page, SEOUL.handle, SEOUL.password))
        with page.expect_navigation():
            page.keyboard.press("Enter")
    expect(page).to_have_url(site("/"))

    # The first Tab offers the skip link; following it puts the focus in the content.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    assert _focused(page)["text"] == "Skip to the content"
    assert page.evaluate(FOCUS_VISIBLE)
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    focused = _focused(page)
    assert focused["tag"] in {"a", "button"} and page.evaluate(FOCUS_VISIBLE), focused
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")
    screenshot(page, "keyboard-focus-after-skip-link")
    context.close()


def test_every_control_on_the_field_leg_page_shows_its_focus(phone, demo):
    phone.goto(demo["paths"]["field leg"])
    phone.locator("body").focus()
    seen = []
    for _ in range(60):
        phone.keyboard.press("Tab")
        focused = _focused(phone)
        if focused["tag"] == "body" or (seen and focused == seen[0]):
            break
        assert phone.evaluate(FOCUS_VISIBLE), f"no visible focus on {focused}"
        if focused["name"] == "pin":
            screenshot(phone, "field-focus-on-pin")
        seen.append(focused)
    assert {"pin", "kind", "details"} <= {f["name"] for f in seen}, seen


# --- the README's dashboard -----------------------------------------------------------------------


def test_dashboard_screenshot(desk, demo):
    desk.goto("/")
    nav = desk.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Alerts (1)")).to_be_visible()
    expect(
        desk.get_by_role("heading", name="Northern corridor to Bangkok, October")
    ).to_be_visible()
    screenshot(desk, "dashboard", docs=True)


def test_exposure_screenshot(desk, demo):
    """Issue #4's picture: what each cell's capture would expose, for the demo."""
    desk.goto(demo["paths"]["exposure analysis"])
    graph = desk.locator("main svg").first
    expect(graph).to_be_visible()
    assert "Pine Needle cell" in graph.inner_html()
    # From the page's heading to the bottom of the picture, the width of the window.
    top = desk.locator("main h1").bounding_box()
    bottom = graph.bounding_box()
    assert top and bottom
    scroll = desk.evaluate("() => window.scrollY")
    y = top["y"] + scroll - 44
    height = bottom["y"] + scroll + bottom["height"] + 24 - y
    screenshot(desk, "exposure", docs=True, clip={"x": 0, "y": y, "width": 1280, "height": height})
