"""The traveller's one-time link, end to end in the browser: a coordinator
issues it on the case page, the traveller opens it on a phone (with no
account), presses the buttons; a second browser is refused; the
coordinator sees what was pressed, and an alert for "Something is wrong"
and one for the refused opening. The traveller's pages are field pages:
small on the wire and clean under axe."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from safepassage.alerts.models import Alert, AlertStatus, Severity
from safepassage.travellers.models import ReportKind, TravellerLink, TravellerReport

from .conftest import Wire, axe_violations, log_in, screenshot

pytestmark = pytest.mark.browser

STEP = "In three hours a blue car with its lights on will wait outside the inn. Get in the back."
SIGNAL = "The driver holds a black umbrella in the right hand"
BUDGET = 20 * 1024


def _serious(page) -> list[dict]:
    return [v for v in axe_violations(page) if v["impact"] in {"serious", "critical"}]


def _press(page, kind: str) -> None:
    with page.expect_navigation():
        page.locator(f"button[name=kind][value={kind}]").click()


def test_a_traveller_link_is_issued_opened_once_and_answered(contexts, site, world):
    # The coordinator issues the link from the case page.
    desk = contexts().new_page()
    log_in(desk, world.coord.handle)
    desk.goto(f"/cases/{world.case.pk}/")
    section = desk.locator("#traveller-links")
    section.get_by_label("Traveller:", exact=True).select_option(label="Traveller Secret-Name")
    section.get_by_label("The next step, written for the traveller").fill(STEP)
    section.get_by_label("Recognition signal").fill(SIGNAL)
    at = (timezone.now() + timedelta(hours=3)).astimezone(ZoneInfo("Asia/Shanghai"))
    section.get_by_label("Time (optional)").fill(at.strftime("%Y-%m-%dT%H:%M"))
    section.get_by_label("Time zone of that time").select_option("Asia/Shanghai")
    section.get_by_label("Language of the traveller's page").select_option("en")
    section.get_by_role("button", name="Issue the link").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Traveller link issued")
    path = urlsplit(desk.locator("code.link-url").inner_text().strip()).path
    assert re.fullmatch(r"/t/[^/]+/", path), path
    link = TravellerLink.objects.get(case=world.case)

    # The traveller opens it on a phone: one button first, nothing used up by a preview.
    phone_context = contexts(phone=True, bypass_csp=True)
    phone = phone_context.new_page()
    wire = Wire(phone_context, phone)
    with wire.measure() as first_view:
        phone.goto(path)
    assert not _serious(phone)
    with wire.measure() as step_view:
        phone.locator("main form button[type=submit]").click()
    assert phone.locator("html").get_attribute("lang") == "en"
    body = phone.locator("main").inner_text()
    assert STEP in body and SIGNAL in body
    assert at.strftime("%H:%M") in body and "Asia/Shanghai" in body
    assert "Secret-Name" not in phone.content()  # the case and the name stay out
    assert phone.locator("button[name=kind]").count() == 3
    assert not _serious(phone)
    screenshot(phone, "traveller-link", docs=True)

    _press(phone, ReportKind.OUT)
    expect(phone.locator(".receipt")).to_be_visible()
    _press(phone, ReportKind.WRONG)
    expect(phone.locator(".receipt")).to_be_visible()
    wrong = Alert.objects.get(case=world.case)
    assert (wrong.severity, wrong.status) == (Severity.CRITICAL, AlertStatus.OPEN)

    # Another browser with the same address is refused, and nothing of it is shown.
    other = contexts(phone=True, bypass_csp=True).new_page()
    response = other.goto(path)
    assert response is not None and response.status == 410
    assert STEP not in other.content() and SIGNAL not in other.content()
    assert not _serious(other)
    screenshot(other, "traveller-link-refused")
    refused = Alert.objects.exclude(pk=wrong.pk).get(case=world.case)
    assert refused.severity == Severity.WARNING

    # "I am in the car" completes it: the first phone can no longer open it either.
    _press(phone, ReportKind.IN_CAR)
    assert STEP not in phone.content()
    expect(phone.locator(".receipt")).to_be_visible()
    response = phone.goto(path)
    assert response is not None and response.status == 410

    kinds = list(
        TravellerReport.objects.filter(link=link).order_by("at").values_list("kind", flat=True)
    )
    assert kinds == [
        ReportKind.OUT,
        ReportKind.WRONG,
        ReportKind.REFUSED_OPENING,
        ReportKind.IN_CAR,
    ]

    # The coordinator sees what the traveller pressed, and the alert.
    desk.goto(f"/cases/{world.case.pk}/")
    row = desk.locator("#traveller-links tbody tr", has_text="Traveller Secret-Name")
    for label in ("I am out", "Something is wrong", "I am in the car"):
        expect(row).to_contain_text(label)
    expect(desk.get_by_role("navigation", name="Main")).to_contain_text("Alerts (2)")

    # Both of the traveller's pages are field pages: within the budget on the wire.
    for label, sizes in (("open", first_view), ("step", step_view)):
        assert site("/static/field/field.css") in sizes, label
        assert sum(sizes.values()) <= BUDGET, (label, sizes)
