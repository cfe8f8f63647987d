"""A coordinator's decoy stands a coercer's inspection.

The coercer logs in with the duress password (and the member's own code),
then reads everything the session reaches: every page linked from the
dashboard, breadth first, and the API's list endpoints. Nothing may name
the mechanism, and the organisation must look like one that has been at
work for months: several members who joined over weeks, a caseload, and a
history whose first entry is nowhere near the moment the duress password
was set.
"""

from __future__ import annotations

import re
import time
from collections import deque
from datetime import timedelta
from itertools import pairwise
from urllib.parse import urljoin, urlsplit

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import check_chain, read_entries
from safepassage.cases.models import Case
from safepassage.members.models import Member, MemberStatus, SecondFactorDevice
from safepassage.members.services import unlock_private_key
from safepassage.vault import crypto
from safepassage.vault.keyring import Keyring, unlocked
from tests.factories import PASSWORD

from .support import DURESS, SECOND_FACTOR, code_for, device_of, enrol, password_login, set_duress

HREF = re.compile(r'href="([^"#]*)')
OLDER = re.compile(r'<a href="(\?page=\d+)">Older entries</a>')
AUDIT_ROW = re.compile(r'<td class="num">(\d+)</td>\s*<td><time datetime="([^"]+)"')
# Links a crawl must not follow: they end the session, or are not pages.
SKIP = (reverse("members:logout"), "/static/")
API_LISTS = (
    reverse("api:cases"),
    reverse("api:legs"),
    reverse("api:tokens"),
    reverse("api:schema"),
)


def _duress_session(world) -> tuple[Client, Member, object]:
    """The coordinator sets a duress password; a coercer logs in with it.
    Returns (the coercer's client, the decoy, when the duress password was set)."""
    coord = world.coord
    own = Client()
    password_login(own, coord)
    secret = enrol(own, coord, world.coord_keyring)
    set_at = timezone.now()
    decoy = set_duress(coord, world.coord_keyring)
    forced = Client()
    assert password_login(forced, coord, DURESS)["Location"] == SECOND_FACTOR
    SecondFactorDevice.objects.filter(user=coord).update(throttling_failure_count=0)
    code = code_for(secret, after=device_of(coord).last_t)
    assert forced.post(SECOND_FACTOR, {"code": code}).status_code == 302
    return forced, decoy, set_at


def _crawl(client: Client) -> dict[str, str]:
    """Every page reachable from the dashboard by following links, with the
    API list endpoints and the answers for each case there: url -> body."""
    seen: dict[str, str] = {}
    queue = deque([reverse("dashboard:home"), *API_LISTS])
    while queue and len(seen) < 400:
        url = queue.popleft()
        if url in seen or any(url.startswith(skip) for skip in SKIP):
            continue
        response = client.get(url, follow=True)
        body = response.content.decode(errors="replace")
        seen[url] = body
        # The cell members' endpoints answer a coordinator's session with the
        # common 404, a real coordinator's as well.
        assert response.status_code in (200, 404), (url, response.status_code)
        for href in HREF.findall(body):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        if url == reverse("api:cases"):
            queue.extend(reverse("api:case", args=[case["id"]]) for case in response.json())
    return seen


def _read_log(client: Client) -> dict[int, object]:
    """Every entry of the audit log page by page, oldest last: No. -> time."""
    rows: dict[int, object] = {}
    url: str | None = reverse("audit:log")
    while url is not None:
        body = client.get(url).content.decode()
        rows.update((int(seq), parse_datetime(at)) for seq, at in AUDIT_ROW.findall(body))
        older = OLDER.search(body)
        url = reverse("audit:log") + older.group(1).replace("&amp;", "&") if older else None
    return rows


def test_nothing_a_decoy_session_reaches_names_the_mechanism(world):
    forced, decoy, _set_at = _duress_session(world)
    pages = _crawl(forced)
    # The crawl really read the coordinator's pages, the cover's records included.
    for name in ("cases:list", "members:list", "audit:log", "cells:list"):
        assert reverse(name) in pages, name
    cases = Case.objects.filter(organisation=decoy.organisation)
    assert any(reverse("cases:detail", args=[case.pk]) in pages for case in cases)
    for url, body in pages.items():
        assert "decoy" not in body.lower(), url


def test_a_decoy_organisation_has_members_cases_and_a_past(world):
    forced, decoy, set_at = _duress_session(world)
    pages = _crawl(forced)
    organisation = decoy.organisation

    # An organisation older than the duress password by months, not minutes.
    assert organisation.created_at < set_at - timedelta(days=30)

    # Several members, who joined over weeks, none of them after the fact.
    members = list(Member.objects.filter(organisation=organisation, status=MemberStatus.ACTIVE))
    assert len(members) >= 4
    joined = sorted(m.date_joined for m in members)
    assert joined[-1] - joined[0] >= timedelta(weeks=2)
    assert all(organisation.created_at <= when <= set_at for when in joined)
    members_page = pages[reverse("members:list")]
    assert all(m.handle in members_page for m in members)

    # A caseload the coordinator sees, opened over the organisation's life.
    cases = list(Case.objects.filter(organisation=organisation))
    assert len(cases) >= 5
    assert all(organisation.created_at <= c.opened_at < set_at for c in cases)
    cases_page = pages[reverse("cases:list")]
    listed = {case["id"] for case in forced.get(reverse("api:cases")).json()}
    assert {str(c.pk) for c in cases} == listed
    assert cases_page.count('href="/cases/') >= 5

    # The log as the coercer pages through it, to the end: its entry No. 1
    # is months old.
    rows = _read_log(forced)
    # (Reading it writes entries too: every number from 1 up is there.)
    assert set(rows) == set(range(1, max(rows) + 1))
    assert rows[1] < set_at - timedelta(days=30)

    # A history: the chain starts where the organisation starts, months back,
    # runs in order of time, and everything before the coercer's own login
    # predates the duress password.
    events = list(AuditEvent.objects.filter(organisation=organisation).order_by("seq"))
    first = events[0]
    assert first.seq == 1
    assert first.at < set_at - timedelta(days=30)
    assert abs(first.at - organisation.created_at) < timedelta(minutes=1)
    assert all(a.at <= b.at for a, b in pairwise(events))
    before = [e for e in events if e.at < set_at]
    assert len(before) >= 20
    assert events[len(before) - 1].at < set_at
    assert check_chain(organisation=organisation).intact

    # Read as the coordinator reads it: the first entry founds the
    # organisation, by one of its members; every join is on the log.
    keyring = Keyring(member_id=decoy.pk, member_private_key=unlock_private_key(decoy, DURESS))
    with unlocked(keyring):
        entries = read_entries(organisation=organisation, limit=10_000)
    oldest = entries[-1]
    assert oldest["verb"] == "organisation.create"
    handles = {m.handle for m in members}
    assert oldest["actor_handle"] in handles
    actors = {e["actor_handle"] for e in entries if e["actor_handle"]}
    assert actors <= handles and len(actors) >= 3
    approved = {e["target_id"] for e in entries if e["verb"] == "member.approve"}
    founder = next(m for m in members if m.handle == oldest["actor_handle"])
    assert {str(m.pk) for m in members if m.pk != founder.pk} <= approved
    assert not any("decoy" in repr(e).lower() for e in entries)


def test_each_decoy_is_its_own_organisation(world):
    """Drawn at random for each decoy: two coordinators' covers differ."""
    first = set_duress(world.coord, world.coord_keyring)
    second = set_duress(world.coord2, world.coord2_keyring)
    handles = [
        set(Member.objects.filter(organisation=d.organisation).values_list("handle", flat=True))
        for d in (first, second)
    ]
    assert handles[0] - {world.coord.handle} != handles[1] - {world.coord2.handle}
    assert first.organisation.created_at != second.organisation.created_at


def test_setting_a_duress_password_stays_quick(world, monkeypatch):
    """The cover's other members have no password: the only key derivations
    are the member's own (to check it) and the decoy's."""
    derivations = []
    real = crypto._password_key

    def counted(*args, **kwargs):
        derivations.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(crypto, "_password_key", counted)
    started = time.monotonic()
    decoy = set_duress(world.coord, world.coord_keyring)
    assert time.monotonic() - started < 3
    assert len(derivations) == 2
    assert Member.objects.filter(organisation=decoy.organisation).count() >= 4
    assert unlock_private_key(decoy, DURESS)
    others = Member.objects.filter(organisation=decoy.organisation).exclude(pk=decoy.pk)
    for member in others:
        try:
            unlock_private_key(member, PASSWORD)
        except crypto.WrongPassword:
            continue
        raise AssertionError("a member of the cover opens with a password")
