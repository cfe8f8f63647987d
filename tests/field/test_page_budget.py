"""Every field page stays small (a cheap phone on a bad link), needs no
JavaScript, keeps nothing in the browser, labels its controls and offers
the quick exit: every page a cell member can reach by following links (a
crawl, so a page linked tomorrow is checked tomorrow), the login page, and
the states the warning system adds: forms, receipts, refusals and a lead's
list of open alerts."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from safepassage.alerts.models import AlertKind
from safepassage.checkins.services import do_report_problem
from safepassage.field.views import MAX_ALERTS_SHOWN
from safepassage.members.services import do_invite_member
from safepassage.roles import Role
from safepassage.vault.keyring import unlocked
from tests.alerts.support import CHECKIN_PIN, make_lead, start_first_leg, start_journey
from tests.dashboard.test_layout import CONTROL, _unlabelled_controls
from tests.factories import PASSWORD

from .crawl import crawl, read
from .test_views import _add_photo, _handoffs

pytestmark = pytest.mark.django_db

BUDGET = 20 * 1024  # bytes: the page and its one stylesheet, uncompressed


def _stylesheet_size() -> int:
    path = finders.find("field/field.css")
    assert path, "field.css not found"
    with open(path, "rb") as handle:
        return len(handle.read())


def _check(response, label: str) -> str:
    body = response.content.decode()
    size = len(response.content) + _stylesheet_size()
    assert size <= BUDGET, f"{label}: {size} bytes with its stylesheet"
    lower = body.lower()
    assert "<script" not in lower, label
    assert "style=" not in lower, label
    assert not re.search(r"\son[a-z]+=", lower), label
    assert "http://" not in lower and "https://" not in lower, label
    assert "<img" not in lower, label
    assert f'action="{reverse("field:exit")}"' in body, f"{label}: no quick exit"
    assert "no-store" in response["Cache-Control"], label
    assert not _unlabelled_controls(body), (label, _unlabelled_controls(body))
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert len(ids) == len(set(ids)), (label, "duplicate ids")
    return body


def _check_field_page(response, label: str) -> str:
    """``_check``, and the field layout itself: its one stylesheet (the one
    the budget counts) and no htmx attribute for a script to act on."""
    body = _check(response, label)
    page = read(body)
    assert page.stylesheets == [settings.STATIC_URL + "field/field.css"], (label, page.stylesheets)
    assert not page.htmx_attributes, (label, page.htmx_attributes)
    return body


# The pages a cell member must reach from their legs: the crawl below cannot
# pass by finding nothing.
ACCOUNT_PAGES = (
    "checkins:pins",
    "members:preferences",
    "members:security",
    "members:password",
    "notifications:settings",
)


def test_every_page_a_cell_member_can_open_is_a_field_page(world, login):
    start_journey(world)
    _add_photo(world, _handoffs(world)[1])
    member, ring = world.member(0)
    client = login(member, ring)

    visits = crawl(client, reverse("field:my_legs"))

    for visit in visits:
        response = visit.response
        assert response.status_code == 200, (visit.url, response.status_code)
        if visit.page is None:  # the handoff photo, one tap away
            assert response["Content-Type"] == "image/jpeg", (
                visit.url
            )  # every stored photo (journeys/photos.py)
            assert "no-store" in response["Cache-Control"], visit.url
            continue
        _check_field_page(response, visit.url)
    reached = {urlsplit(visit.url).path for visit in visits}
    expected = {reverse(name) for name in ("field:my_legs", *ACCOUNT_PAGES)}
    expected |= {
        reverse("field:leg", kwargs={"leg": world.legs[0].pk}),
        reverse("field:handoff_photo", kwargs={"handoff": _handoffs(world)[1].pk}),
    }
    assert expected <= reached, expected - reached


def test_the_login_page_is_a_field_page_with_a_neutral_title(client, db):
    """Every cell member opens it on a phone: small, no script, the quick exit,
    and nothing in the tab or on the page that names the system."""
    body = _check_field_page(client.get(reverse("members:login")), "login page")
    title = re.search(r"<title>([^<]*)</title>", body)
    assert title and title.group(1).strip() == "Log in"
    for word in ("safepassage", "rescue"):
        assert word not in body.lower(), word


def test_a_cell_members_invitation_and_waiting_pages_are_field_pages(client, world):
    """From the invitation link to the page that waits for approval, a new
    cell member is on field pages; a coordinator's invitation keeps the
    coordinator layout."""
    with unlocked(world.coord_keyring):
        _invitation, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[0], display_name="New"
        )
        _invitation, coordinator_token = do_invite_member(
            actor=world.coord, role=Role.COORDINATOR, display_name="Also new"
        )
    join = reverse("members:join", args=[token])
    body = _check_field_page(client.get(join), "invitation")
    assert "safepassage" not in re.search(r"<title>([^<]*)</title>", body).group(1).lower()
    response = client.post(
        join, {"handle": "new-driver", "new_password1": PASSWORD, "new_password2": PASSWORD}
    )
    assert response["Location"] == reverse("members:awaiting")
    _check_field_page(client.get(response["Location"]), "waiting for approval")

    client.logout()
    body = client.get(reverse("members:join", args=[coordinator_token])).content.decode()
    assert "field/field.css" not in body


def test_the_warning_system_pages_stay_within_budget(world, login):
    leg, member, ring = start_first_leg(world)
    long_text = "A long account of what happened on the road. " * 45  # ~2,000 characters
    with unlocked(ring):
        for i in range(MAX_ALERTS_SHOWN + 2):
            kind = (AlertKind.OTHER, AlertKind.POLICE_CHECK, AlertKind.MONEY_DEMAND)[i % 3]
            do_report_problem(actor=member, leg=leg, kind=kind, details=long_text[:2000])
    lead, lead_ring = make_lead(world, 0, 1)
    client = login(member, ring)
    leg_url = reverse("field:leg", kwargs={"leg": leg.pk})
    check_in = reverse("field:check_in", kwargs={"leg": leg.pk})
    problem = reverse("field:report_problem", kwargs={"leg": leg.pk})

    controls = 0
    body = _check(client.get(leg_url), "leg page")
    controls += len(CONTROL.findall(body))
    assert 'name="pin"' in body and 'name="kind"' in body

    response = client.post(check_in, {"pin": "0000", "note": long_text[:2000]})
    body = _check(response, "refused check-in")
    assert "That PIN is not right." in body

    response = client.post(problem, {"kind": "other", "details": ""})
    _check(response, "refused report")

    response = client.post(check_in, {"pin": CHECKIN_PIN, "note": "ok"})
    body = _check(client.get(response["Location"]), "receipt")
    assert 'class="receipt"' in body

    _check(client.get(reverse("field:my_legs")), "my legs (member)")
    _check(client.get(reverse("field:leg", kwargs={"leg": world.legs[1].pk})), "field 404")

    client = login(lead, lead_ring)
    body = _check(client.get(reverse("field:my_legs")), "my legs (lead, many alerts)")
    assert body.count('name="alert"') == MAX_ALERTS_SHOWN  # a short list, the worst first
    assert body.count("Police check") >= 4
    controls += len(CONTROL.findall(body))
    response = client.post(reverse("field:acknowledge"), {"alert": "not-a-uuid"})
    _check(response, "acknowledge 404")
    assert controls > 15  # the label check looked at real forms


def test_field_pages_do_not_load_the_coordinator_layout(world, login):
    """No notification badge or alert count on a field page: a phone in the
    wrong hands must not show that anything was raised."""
    leg, member, ring = start_first_leg(world)
    body = login(member, ring).get(reverse("field:leg", kwargs={"leg": leg.pk})).content.decode()
    assert "notify-badge" not in body
    assert reverse("alerts:list") not in body
    assert settings.STATIC_URL + "field/field.css" in body
