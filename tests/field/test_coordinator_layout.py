"""The warning system in the coordinator layout: the Alerts link with its open
count, the notification badge, the link to notification settings, the
planner's links to check-in plans and the timeline, and the styles the alert
and notification pages use (readable: WCAG AA contrast)."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from safepassage.alerts.models import AlertKind
from safepassage.alerts.selectors import open_alert_count
from safepassage.alerts.services import do_acknowledge_alert
from safepassage.checkins.services import do_report_problem
from safepassage.notifications.models import Notification
from safepassage.vault.keyring import unlocked
from tests.alerts.support import start_journey
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

HOME = reverse("dashboard:home")


def _report(world, kind):
    member, ring = world.member(0)
    with unlocked(ring):
        return do_report_problem(actor=member, leg=world.legs[0], kind=kind, details="seen")


def _alerts_link(body: str) -> str:
    match = re.search(rf'<a href="{reverse("alerts:list")}"[^>]*>([^<]*)</a>', body)
    assert match, "no Alerts link in the navigation"
    return match.group(1)


def test_the_alerts_link_shows_the_open_count(client, login, world):
    login(world.coord, world.coord_keyring)
    assert _alerts_link(client.get(HOME).content.decode()) == "Alerts"

    start_journey(world)
    first = _report(world, AlertKind.UNSCHEDULED_STOP)
    _report(world, AlertKind.POLICE_CHECK)
    assert open_alert_count(world.coord) == 2
    assert _alerts_link(client.get(HOME).content.decode()) == "Alerts (2)"

    with unlocked(world.coord_keyring):
        do_acknowledge_alert(actor=world.coord, alert=first)
    body = client.get(reverse("alerts:list")).content.decode()
    assert _alerts_link(body) == "Alerts (1)"
    assert f'<a href="{reverse("alerts:list")}" aria-current="page">' in body

    other = OrganisationFactory()
    login(other.founder, other.keyring)
    assert _alerts_link(client.get(HOME).content.decode()) == "Alerts"


def test_the_header_carries_the_notification_badge_and_the_settings_link(client, login, world):
    login(world.coord, world.coord_keyring)
    body = client.get(HOME).content.decode()
    polling = (
        f'hx-get="{reverse("notifications:badge")}" hx-trigger="every 20s" hx-swap="outerHTML"'
    )
    badge = re.search(
        r'<a class="notify-badge" id="notify-badge" href="([^"]+)" '
        + re.escape(polling)
        + r">([^<]+)</a>",
        body,
    )
    assert badge and badge.groups() == (reverse("notifications:list"), "Notifications")

    start_journey(world)
    _report(world, AlertKind.MONEY_DEMAND)  # no lead in cell 0: straight to the coordinators
    assert Notification.objects.filter(member=world.coord, read_at__isnull=True).count() == 1
    body = client.get(HOME).content.decode()
    assert (
        '<a class="notify-badge notify-badge-unread" id="notify-badge" '
        f'href="{reverse("notifications:list")}" {polling}>1 new notification</a>'
    ) in body

    account = body[body.index('<div class="account">') :]
    preferences = account.index(f'href="{reverse("members:preferences")}"')
    settings_link = account.index(f'href="{reverse("notifications:settings")}"')
    password = account.index(f'href="{reverse("members:password")}"')
    assert preferences < settings_link < password
    assert (
        account[settings_link:]
        .split("</a>")[0]
        .endswith('>Notifications<span class="visually-hidden">: Where to be told</span>')
    )
    assert client.get(reverse("notifications:settings")).status_code == 200


def test_a_cell_member_gets_the_notification_pages_without_badge_or_alerts_link(
    client, login, world
):
    """A cell member's notification pages are field pages: nothing on them
    shows that anything was raised."""
    member, ring = world.member(0)
    login(member, ring)
    for url in (reverse("notifications:list"), reverse("notifications:settings")):
        body = client.get(url).content.decode()
        assert f'action="{reverse("field:exit")}"' in body, url
        assert 'id="notify-badge"' not in body, url
        assert f'href="{reverse("alerts:list")}"' not in body, url
    assert f'href="{reverse("notifications:settings")}"' in body


def test_pages_without_a_login_show_neither(client, db):
    body = client.get(reverse("members:login")).content.decode()
    assert "notify-badge" not in body
    assert f'href="{reverse("alerts:list")}"' not in body


def test_the_planner_links_each_legs_check_in_plan_and_the_timeline(client, login, world):
    login(world.coord, world.coord_keyring)
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    timeline = reverse("alerts:timeline", args=[world.journey.pk])
    assert f'href="{timeline}"' in body
    for leg in world.legs:
        plan = reverse("checkins:plan", args=[leg.pk])
        assert body.count(f'href="{plan}"') == 1
        assert client.get(plan).status_code == 200
    assert client.get(timeline).status_code == 200
    # Once the journey runs (the planner no longer edits), the links remain.
    start_journey(world)
    body = client.get(reverse("journeys:detail", args=[world.journey.pk])).content.decode()
    assert f'href="{timeline}"' in body
    assert f'href="{reverse("checkins:plan", args=[world.legs[1].pk])}"' in body


# --- styles ----------------------------------------------------------------------------------


def _stylesheet() -> str:
    path = finders.find("css/safepassage.css")
    assert path
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _rules(css: str) -> list[tuple[list[str], dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                declarations[name.strip()] = value.strip()
        rules.append(([s.strip() for s in selectors.split(",")], declarations))
    return rules


def _style_of(rules, selector: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for selectors, declarations in rules:
        if selector in selectors:
            found.update(declarations)
    return found


def _colour(value: str, variables: dict[str, str]) -> str:
    match = re.fullmatch(r"var\((--[a-z-]+)\)", value)
    value = variables[match.group(1)] if match else value
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", value), value
    return value


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_alert_and_notification_classes_are_styled_with_enough_contrast():
    rules = _rules(_stylesheet())
    variables = _style_of(rules, ":root")
    checked = 0
    for name in ("warning", "critical", "open", "acknowledged", "resolved"):
        style = _style_of(rules, f".badge-{name}")
        assert style, f".badge-{name} is not styled"
        ratio = _contrast(
            _colour(style["color"], variables), _colour(style["background"], variables)
        )
        assert ratio >= 4.5, (name, round(ratio, 2))
        checked += 1
    unread = _style_of(rules, ".notify-badge-unread")
    ratio = _contrast(_colour(unread["color"], variables), _colour(unread["background"], variables))
    assert ratio >= 4.5, ("notify-badge-unread", round(ratio, 2))
    header = _colour(_style_of(rules, ".site-header")["background"], variables)
    read = _colour(_style_of(rules, ".notify-badge")["color"], variables)
    assert _contrast(read, header) >= 4.5
    for selector in (".facts", ".timeline", ".timeline li", ".note", ".note .meta"):
        assert _style_of(rules, selector), f"{selector} is not styled"
    assert checked == 5
