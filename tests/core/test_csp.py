"""The Content Security Policy: strict, sent on every answer, and kept by every page.

The policy (``CONTENT_SECURITY_POLICY``, django-csp) lets scripts, styles,
images and requests come only from our own origin, with no inline script or
style and no eval. A page that needed more would be broken in the browser, so
every page is checked here for what the policy blocks: inline ``<script>``
bodies, ``<style>`` elements, ``style=`` attributes, ``on*=`` handlers,
``javascript:`` URLs, scripts, styles and images from elsewhere, forms that
post elsewhere, and ``<base>``.

The pages come from the URL configuration (as in ``tests/test_url_sweep.py``),
requested by a coordinator, a cell member and an anonymous visitor with
records each may see, so a new page is checked the day it is added.
"""

from __future__ import annotations

import json
import uuid
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path, reverse

from safepassage.cases.models import Case, Traveller
from safepassage.cells.models import Cell
from safepassage.contacts.models import Contact
from safepassage.journeys.models import Handoff, Journey, Leg
from safepassage.members.models import Invitation, Member
from safepassage.safehouses.models import SafeHouse

from ..conftest import vault_login
from ..test_url_sweep import ALERT, CELL_TOKEN, _model_for, _values, patterns
from ..test_url_sweep import sweep_world as sweep_world  # the fixture, reused

HEADER = "Content-Security-Policy"
EXPECTED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
HOST = "testserver"


def parse_policy(header: str) -> dict[str, list[str]]:
    """``{"directive": [sources]}`` from a Content-Security-Policy header."""
    policy = {}
    for directive in header.split(";"):
        parts = directive.split()
        if parts:
            policy[parts[0]] = parts[1:]
    return policy


def _same_origin(url: str) -> bool:
    parts = urlsplit(url.strip())
    if not parts.scheme and not parts.netloc:
        return True  # a path, a query or a fragment on this page
    return parts.scheme in ("http", "https") and parts.netloc == HOST


class _PolicyInspector(HTMLParser):
    """Collects what the policy would block on a page (``problems``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts: list[str] = []
        self.htmx_config: dict | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: inline event handler")
            elif name == "style":
                self.problems.append(f"<{tag} style=...>: inline style")
            elif value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>: javascript: URL")
        if tag == "style":
            self.problems.append("<style> element: inline style")
        elif tag == "base":
            self.problems.append("<base> element: base-uri 'none'")
        elif tag in ("object", "embed"):
            self.problems.append(f"<{tag}>: object-src 'none'")
        elif tag == "script":
            self._in_script = True
            src = values.get("src", "")
            if not src:
                self.problems.append("<script> without src: inline script")
            elif not _same_origin(src):
                self.problems.append(f"<script src={src!r}>: not our origin")
            else:
                self.scripts.append(src)
        elif tag == "link" and "stylesheet" in values.get("rel", "").split():
            if not _same_origin(values.get("href", "")):
                self.problems.append(f"<link href={values.get('href')!r}>: not our origin")
        elif tag == "img" and not _same_origin(values.get("src", "")):
            self.problems.append(f"<img src={values.get('src')!r}>: not our origin")
        elif tag == "form" and not _same_origin(values.get("action", "")):
            self.problems.append(f"<form action={values.get('action')!r}>: form-action 'self'")
        elif tag == "meta" and values.get("name") == "htmx-config":
            self.htmx_config = json.loads(values.get("content", "{}"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("<script> with a body: inline script")


def policy_problems(body: str) -> list[str]:
    """What the policy would block on the page ``body``, and htmx set up to need it."""
    inspector = _PolicyInspector()
    inspector.feed(body)
    inspector.close()
    problems = list(inspector.problems)
    if any("htmx" in src for src in inspector.scripts):
        # htmx injects an indicator <style> and evaluates hx-on / js: attributes
        # unless told not to; the policy blocks both.
        config = inspector.htmx_config or {}
        if (
            config.get("includeIndicatorStyles") is not False
            or config.get("allowEval") is not False
        ):
            problems.append(f"htmx loaded without includeIndicatorStyles/allowEval off: {config}")
    return problems


def _assert_policy(response, label: str) -> None:
    assert HEADER in response, f"{label}: no {HEADER} header"
    assert parse_policy(response[HEADER]) == EXPECTED, f"{label}: {response[HEADER]}"


# --- the checker itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ('<p style="color: red">x</p>', "inline style"),
        ("<style>p {}</style>", "inline style"),
        ('<button onclick="go()">x</button>', "inline event handler"),
        ("<body onload='x()'></body>", "inline event handler"),
        ("<script>alert(1)</script>", "inline script"),
        ('<script src="https://cdn.example.com/x.js"></script>', "not our origin"),
        ('<a href="javascript:alert(1)">x</a>', "javascript: URL"),
        ('<form action="https://elsewhere.example/post"></form>', "form-action"),
        ('<img src="https://tracker.example/p.gif">', "not our origin"),
        ('<base href="/">', "base-uri"),
        ('<object data="/x.swf"></object>', "object-src"),
        ('<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>', "htmx loaded"),
    ],
)
def test_the_checker_finds_what_the_policy_blocks(body, found):
    problems = policy_problems(body)
    assert any(found in p for p in problems), problems


def test_the_checker_passes_a_page_within_the_policy():
    body = (
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, '
        '"allowEval": false}\'>'
        '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>'
        '<link rel="stylesheet" href="/static/css/safepassage.css">'
        '<form method="post" action="/members/logout/"></form>'
        '<form method="post"></form><img src="/journeys/handoffs/1/photo/" alt="">'
        '<a href="#main" class="skip-link">x</a>'
    )
    assert policy_problems(body) == []


# --- the header --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_policy_is_strict(client):
    response = client.get(reverse("members:login"))
    assert response.status_code == 200
    _assert_policy(response, "login")
    header = response[HEADER]
    for loophole in ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "nonce-", "sha256-", "*"):
        assert loophole not in header, loophole
    assert "data:" not in header
    # Enforced, not merely reported.
    assert "Content-Security-Policy-Report-Only" not in response


# --- every page --------------------------------------------------------------------------


def _roles(world):
    """(label, member, keyring, record ids it may see by model); anonymous has none."""
    cell_member, cell_ring = world.member(0)
    own_leg = world.legs[0]
    coordinator_ids = {
        Case: world.case.pk,
        Journey: world.journey.pk,
        Leg: world.legs[1].pk,
        Handoff: Handoff.objects.get(journey=world.journey, position=0).pk,
        Traveller: Traveller.objects.filter(case=world.case).first().pk,
        Cell: world.cells[0].pk,
        Member: world.member(1)[0].pk,
        Contact: Contact.objects.filter(organisation=world.org).first().pk,
        SafeHouse: SafeHouse.objects.filter(organisation=world.org).first().pk,
        Invitation: Invitation.objects.filter(organisation=world.org).first().pk,
    }
    if ALERT is not None and (alert := ALERT._base_manager.filter(organisation=world.org).first()):
        coordinator_ids[ALERT] = alert.pk
    cell_ids = {
        Leg: own_leg.pk,
        Handoff: Handoff.objects.filter(to_leg=own_leg).first().pk,
    }
    if CELL_TOKEN is not None:
        cell_ids[CELL_TOKEN] = CELL_TOKEN._base_manager.filter(member=cell_member).first().pk
    return [
        ("coordinator", world.coord, world.coord_keyring, coordinator_ids),
        ("cell member", cell_member, cell_ring, cell_ids),
        ("anonymous", None, None, {}),
    ]


def _policy_fits(response, html: bool) -> bool:
    """The site's policy; a file served inline (a handoff photo) may carry a
    stricter one of its own that loads nothing at all."""
    if HEADER not in response:
        return False
    policy = parse_policy(response[HEADER])
    return policy == EXPECTED or (not html and policy.get("default-src") == ["'none'"])


def _url_for(pattern, ids) -> str | None:
    choice = {}
    for param in pattern.uuid_params:
        found = [ids[m] for m in _model_for(param) if m in ids]
        if not found:
            return None
        choice[param] = found[0]
    return pattern.url(_values(pattern, choice))


@pytest.mark.django_db
def test_every_page_keeps_to_the_policy(client, sweep_world):
    world, _other, _ = sweep_world
    failures: list[str] = []
    pages = 0
    for label, member, ring, ids in _roles(world):
        for pattern in patterns():
            url = _url_for(pattern, ids)
            if url is None:
                continue
            client.logout()
            if member is not None:
                vault_login(client, member, ring)
            response = client.get(url)
            where = f"{label} GET {url} ({pattern.name}) -> {response.status_code}"
            html = response.get("Content-Type", "").startswith("text/html")
            if not _policy_fits(response, html):
                failures.append(f"{where}: policy header {response.get(HEADER)!r}")
            if response.status_code == 200 and html:
                pages += 1
                failures.extend(f"{where}: {p}" for p in policy_problems(response.content.decode()))
    # Dashboard, cases, journeys, cells, contacts, safe houses, members, alerts,
    # notifications, the field pages, login...: far more than a handful.
    assert pages >= 30, f"only {pages} pages rendered: the sweep is not reaching them"
    assert not failures, "\n".join(failures)


# --- error pages -------------------------------------------------------------------------


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a failing view, for the 500 page")


urlpatterns = [path("boom/", _boom)]


@pytest.mark.django_db
def test_error_pages_keep_to_the_policy(client):
    missing = client.get(f"/cases/{uuid.uuid4()}/nowhere/")
    assert missing.status_code == 404
    csrf = Client(enforce_csrf_checks=True).post(reverse("members:login"), {"handle": "x"})
    assert csrf.status_code == 403
    with override_settings(ROOT_URLCONF=__name__):
        failing = Client(raise_request_exception=False).get("/boom/")
    assert failing.status_code == 500
    for label, response in (("404", missing), ("403 csrf", csrf), ("500", failing)):
        _assert_policy(response, label)
        assert policy_problems(response.content.decode()) == [], label
