"""Every coordinator page: renders, works without scripts, labels its controls."""

from __future__ import annotations

import re

from django.urls import reverse

from safepassage.journeys.models import Handoff
from safepassage.members.models import Member

from ..pages import no_inline_code

CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.S)


def _pages(world) -> list[str]:
    handoff = Handoff.objects.filter(journey=world.journey).order_by("position")[1]
    traveller = world.case.travellers.first()
    member = world.member(1)[0]
    return [
        reverse("dashboard:home"),
        reverse("members:list"),
        reverse("members:invite"),
        reverse("members:password"),
        reverse("members:preferences"),
        reverse("members:logout"),
        reverse("members:approve", args=[member.pk]),
        reverse("members:remove", args=[member.pk]),
        reverse("cases:list"),
        reverse("cases:new"),
        reverse("cases:detail", args=[world.case.pk]),
        reverse("cases:edit", args=[world.case.pk]),
        reverse("cases:traveller_new", args=[world.case.pk]),
        reverse("cases:traveller_edit", args=[traveller.pk]),
        reverse("cases:coordinator_add", args=[world.other_case.pk]),
        reverse("journeys:new", args=[world.case.pk]),
        reverse("journeys:detail", args=[world.journey.pk]),
        reverse("journeys:leg_new", args=[world.journey.pk]),
        reverse("journeys:leg_edit", args=[world.legs[0].pk]),
        reverse("journeys:leg_remove", args=[world.legs[0].pk]),
        reverse("journeys:handoff_edit", args=[handoff.pk]),
        reverse("cells:list"),
        reverse("cells:new"),
        reverse("cells:detail", args=[world.cells[0].pk]),
        reverse("cells:edit", args=[world.cells[0].pk]),
        reverse("cells:member_remove", args=[world.cells[0].pk]),
        reverse("contacts:list"),
        reverse("contacts:new"),
        reverse("safehouses:list"),
        reverse("safehouses:new"),
    ]


def _unlabelled_controls(body: str) -> list[str]:
    missing = []
    for _tag, attrs in CONTROL.findall(body):
        kind = re.search(r'type="([^"]+)"', attrs)
        if kind and kind.group(1) in ("hidden", "submit"):
            continue
        if "aria-label=" in attrs:
            continue
        control_id = re.search(r'id="([^"]+)"', attrs)
        if not control_id or f'for="{control_id.group(1)}"' not in body:
            missing.append(attrs.strip()[:80])
    return missing


def test_every_page_renders_without_inline_code_and_labels_every_control(client, world, login):
    Member.objects.filter(pk=world.coord.pk).update(time_zone="Asia/Seoul")
    login(world.coord)
    controls = 0
    for url in _pages(world):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert '<main id="main"' in body, url
        assert no_inline_code(body), url
        assert not re.search(r"\son[a-z]+=", body), url
        assert "no-store" in response["Cache-Control"], url
        assert not _unlabelled_controls(body), (url, _unlabelled_controls(body))
        controls += len(CONTROL.findall(body))
        ids = re.findall(r'\sid="([^"]+)"', body)
        assert len(ids) == len(set(ids)), (url, "duplicate ids")
    assert controls > 50  # the check above looked at real forms


def test_pages_without_a_login_render_too(client, db):
    for url in (reverse("members:login"), "/no-such-page/"):
        body = client.get(url).content.decode()
        assert no_inline_code(body)
        assert not _unlabelled_controls(body)
