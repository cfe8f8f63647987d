"""What a seized database holds of a link (neither its token nor what it
says), and the traveller's page within the field pages' budget."""

from __future__ import annotations

import base64
import gzip
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.utils import timezone

from safepassage.travellers.models import TravellerLink
from tests.field.test_page_budget import BUDGET, _check, _stylesheet_size

from .support import SIGNAL, STEP, issue, link_url, report_url

pytestmark = pytest.mark.django_db


def _every_stored_value() -> list[tuple[str, object]]:
    """Every value of every row of every table, read with raw SQL."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                found.extend((table, value) for value in row if value is not None)
    return found


def _forms(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    return [raw.lower(), raw.hex().encode(), base64.b64encode(raw).rstrip(b"=").lower()]


def test_the_database_holds_neither_the_token_nor_the_step(world):
    step = "Walk to the 24-hour laundry on Sukhumvit soi 11 at dawn."
    signal = "A green scarf tied to the left wrist."
    issued = issue(world, step=step, signal=signal)
    client = Client()
    client.post(link_url(issued.token))
    binding = next(iter(client.cookies.values())).value
    client.post(report_url(issued.token), {"kind": "out"})
    needles = {
        "token": issued.token,
        "binding cookie": binding,
        "step": step,
        "signal": signal,
        "step fragment": "Sukhumvit",
        "signal fragment": "green scarf",
    }
    values = _every_stored_value()
    assert len(values) > 500  # the scan read a real database
    link_rows = [v for table, v in values if table == TravellerLink._meta.db_table]
    assert link_rows, "the link's own row was scanned"
    leaks = []
    for table, value in values:
        data = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        lowered = data.lower()
        for name, needle in needles.items():
            if any(form in lowered for form in _forms(needle)):
                leaks.append(f"{table}: {name}")
    assert leaks == []


def test_the_page_stays_within_the_field_budget(world):
    """The worst case: the longest step and signal, a time, a receipt."""
    at = (timezone.now() + timedelta(hours=2)).astimezone(zoneinfo.ZoneInfo("Asia/Yangon"))
    issued = issue(
        world,
        step="Leave by the back door, turn left, and wait under the awning. " * 16,
        signal="The driver wears a grey cap and asks for the way to the pagoda. " * 4,
        at=at,
        zone="Asia/Yangon",
    )
    assert len(issued.link.plan["step"]) > 900
    client = Client()
    pages = [("open", client.get(link_url(issued.token)))]
    client.post(link_url(issued.token))
    response = client.post(report_url(issued.token), {"kind": "out"})
    pages.append(("step with a receipt", client.get(response["Location"])))
    pages.append(("used", Client().get(link_url(issued.token))))
    pages.append(("unknown", Client().get(link_url("q" * 43))))
    response = client.post(report_url(issued.token), {"kind": "in_car"})
    pages.append(("completed", client.get(response["Location"])))
    css = _stylesheet()
    for label, page in pages:
        body = _check(page, label)  # size, no script or style, quick exit, labels, no-store
        assert 'name="viewport" content="width=device-width' in body, label
        compressed = len(gzip.compress(page.content)) + len(gzip.compress(css))
        assert compressed <= BUDGET, (label, compressed)
    step_page = pages[1][1].content.decode()
    assert STEP not in step_page  # this link's own step, not the default one
    assert step_page.count("<button") == 4  # the three buttons and the quick exit
    assert len(pages[1][1].content) + _stylesheet_size() < BUDGET // 2


def _stylesheet() -> bytes:
    path = finders.find("field/field.css")
    assert path
    with open(path, "rb") as handle:
        return handle.read()


def test_signal_optional(world):
    issued = issue(world, signal="")
    client = Client()
    client.post(link_url(issued.token))
    body = client.get(link_url(issued.token)).content.decode()
    assert STEP in body
    assert "Recognition signal" not in body and SIGNAL not in body
