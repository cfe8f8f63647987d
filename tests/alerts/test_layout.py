"""The warning system's coordinator pages: no inline code, every control labelled."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.alerts.support import sample_alert
from tests.dashboard.test_layout import CONTROL, _unlabelled_controls

from ..pages import no_inline_code

pytestmark = pytest.mark.django_db


def test_pages_render_without_inline_code_and_label_every_control(client, login, world):
    alert = sample_alert(world)
    login(world.coord, world.coord_keyring)
    urls = [
        reverse("alerts:list"),
        reverse("alerts:list") + "?all=1",
        reverse("alerts:detail", args=[alert.pk]),
        reverse("alerts:timeline", args=[world.journey.pk]),
        reverse("checkins:plan", args=[world.legs[0].pk]),
        reverse("notifications:list"),
        reverse("notifications:settings"),
    ]
    controls = 0
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert '<main id="main"' in body, url
        assert no_inline_code(body), url
        assert not re.search(r"\son[a-z]+=", body), url
        assert "no-store" in response["Cache-Control"], url
        assert not _unlabelled_controls(body), (url, _unlabelled_controls(body))
        ids = re.findall(r'\sid="([^"]+)"', body)
        assert len(ids) == len(set(ids)), (url, "duplicate ids")
        controls += len(CONTROL.findall(body))
    assert controls >= 8
