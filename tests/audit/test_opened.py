"""Every request that opens a sealed value leaves one ``record.open`` entry
naming the records (type and id), never their contents, and the member whose
keys opened them. Requests that open nothing leave none."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from safepassage.audit import middleware as audit_middleware
from safepassage.audit import services as audit
from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import read_entries
from safepassage.vault import opened
from safepassage.vault.keyring import unlocked

from ..alerts.support import CHECKIN_PIN, start_first_leg
from ..api.helpers import bearer, checkins_url, issue_token, leg_url

pytestmark = pytest.mark.django_db


def _entries(world, verb: str, since: int = 0) -> list[dict]:
    with unlocked(world.coord_keyring):
        return [
            e
            for e in read_entries(organisation=world.org, limit=1000)
            if e["verb"] == verb and e["seq"] > since
        ]


def _last_seq(world) -> int:
    return AuditEvent.objects.filter(organisation=world.org).order_by("-seq")[0].seq


def test_a_case_page_is_recorded_with_the_records_it_opened(world, login):
    client = login(world.coord, world.coord_keyring)
    before = _last_seq(world)

    response = client.get(reverse("cases:detail", args=[world.case.pk]))

    assert response.status_code == 200
    (entry,) = _entries(world, "record.open", since=before)
    assert entry["actor"] == str(world.coord.pk)
    assert entry["actor_handle"] == world.coord.handle
    assert entry["target_type"] is None
    detail = entry["detail"]
    assert detail["view"] == "cases:detail"
    assert detail["method"] == "GET"
    assert ["cases.case", str(world.case.pk)] in detail["records"]
    assert detail["count"] == len(detail["records"]) and detail["parts"] == 1
    # Each record once, however many of its fields or copies were opened.
    assert len({tuple(r) for r in detail["records"]}) == len(detail["records"])
    # Ids and names of types only: nothing the page showed.
    with unlocked(world.coord_keyring):
        codename = type(world.case).objects.get(pk=world.case.pk).codename
    assert codename in response.content.decode()
    assert codename not in json.dumps(entry, default=str)


def test_each_request_gets_its_own_entry(world, login):
    client = login(world.coord, world.coord_keyring)
    before = _last_seq(world)
    client.get(reverse("cases:detail", args=[world.case.pk]))
    client.get(reverse("cases:detail", args=[world.other_case.pk]))
    entries = _entries(world, "record.open", since=before)
    assert len(entries) == 2
    opened_cases = [
        {pk for label, pk in e["detail"]["records"] if label == "cases.case"} for e in entries
    ]
    assert opened_cases == [{str(world.other_case.pk)}, {str(world.case.pk)}]  # newest first


def test_a_page_that_opens_nothing_writes_nothing(world, client):
    before = _last_seq(world)
    assert client.get(reverse("members:login")).status_code == 200
    assert _last_seq(world) == before


def test_the_polled_notification_badge_writes_nothing(world, login):
    """The header badge refreshes itself every few seconds: it opens nothing,
    so it fills the log with nothing."""
    client = login(world.coord, world.coord_keyring)
    before = _last_seq(world)
    for _ in range(3):
        assert client.get(reverse("notifications:badge")).status_code == 200
    assert _last_seq(world) == before


def test_a_refused_record_writes_no_open(world, login):
    """Another cell's member asking for the case: 404, nothing opened."""
    member, ring = world.member(0)
    client = login(member, ring)
    before = _last_seq(world)
    assert client.get(reverse("cases:detail", args=[world.case.pk])).status_code == 404
    assert _entries(world, "record.open", since=before) == []


def test_an_api_read_with_a_cell_token_is_recorded_once_for_the_token_member(world):
    leg, member, ring = start_first_leg(world)
    token, _row = issue_token(member, ring, world.cells[0])
    before = _last_seq(world)

    response = Client().get(leg_url(leg), headers=bearer(token))

    assert response.status_code == 200, response.content
    (entry,) = _entries(world, "record.open", since=before)
    assert entry["actor"] == str(member.pk)
    assert entry["detail"]["view"] == "api:leg"
    assert ["journeys.leg", str(leg.pk)] in entry["detail"]["records"]


def test_an_api_check_in_opens_nothing_and_adds_no_open_entry(world):
    leg, member, ring = start_first_leg(world)
    token, _row = issue_token(member, ring, world.cells[0])
    before = _last_seq(world)
    response = Client().post(
        checkins_url(leg),
        {"pin": CHECKIN_PIN, "note": "at the bridge"},
        "application/json",
        headers=bearer(token),
    )
    assert response.status_code == 201, response.content
    assert [e["verb"] for e in _entries(world, "checkin.create", since=before)] == [
        "checkin.create"
    ]
    assert _entries(world, "record.open", since=before) == []


def test_the_entry_is_written_even_when_the_member_logs_out(world):
    """A request that opened values and ended signed out (a logout) is
    attributed to the member whose keys were in force."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.test import RequestFactory

    from safepassage.organisations.models import Organisation

    def view(request):
        with unlocked(world.coord_keyring):
            Organisation.objects.get(pk=world.org.pk).name  # noqa: B018 - opened
        request.user = AnonymousUser()  # what logout() leaves
        return HttpResponse("bye")

    request = RequestFactory().post("/members/logout/")
    request.keyring = world.coord_keyring
    before = _last_seq(world)
    response = audit_middleware.DecryptionAuditMiddleware(view)(request)
    assert response.status_code == 200
    (entry,) = _entries(world, "record.open", since=before)
    assert entry["actor"] == str(world.coord.pk)
    assert entry["detail"]["records"] == [["organisations.organisation", str(world.org.pk)]]
    assert entry["detail"]["method"] == "POST"


def test_values_opened_by_nobody_are_refused(world):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.test import RequestFactory

    from safepassage.organisations.models import Organisation

    def view(request):
        with unlocked(world.coord_keyring):
            Organisation.objects.get(pk=world.org.pk).name  # noqa: B018 - opened
        return HttpResponse("the name")

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    response = audit_middleware.DecryptionAuditMiddleware(view)(request)
    assert response.status_code == 500
    assert b"the name" not in response.content


def test_if_the_entry_cannot_be_written_the_page_is_not_shown(world, login, monkeypatch):
    client = login(world.coord, world.coord_keyring)
    with unlocked(world.coord_keyring):
        codename = type(world.case).objects.get(pk=world.case.pk).codename

    def refuse(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(audit_middleware.services, "record_opened", refuse)
    response = client.get(reverse("cases:detail", args=[world.case.pk]))
    assert response.status_code == 500
    assert codename not in response.content.decode()


def test_many_records_are_split_over_several_entries(world):
    records = [("cases.case", f"id-{i}") for i in range(audit.RECORDS_PER_ENTRY * 2 + 5)]
    before = _last_seq(world)
    audit.record_opened(
        organisation=world.org, actor=world.coord, records=records, view="x:y", method="GET"
    )
    entries = sorted(_entries(world, "record.open", since=before), key=lambda e: e["seq"])
    assert [e["detail"]["part"] for e in entries] == [1, 2, 3]
    assert {e["detail"]["parts"] for e in entries} == {3}
    assert [r for e in entries for r in e["detail"]["records"]] == [list(r) for r in records]


def test_opening_outside_a_request_records_nothing(world):
    """Commands and tests open values with no collection in force."""
    with opened.recording() as inside, unlocked(world.coord_keyring):
        type(world.case).objects.get(pk=world.case.pk).codename  # noqa: B018
        with opened.paused():
            type(world.other_case).objects.get(pk=world.other_case.pk).codename  # noqa: B018
    assert list(inside) == [("cases.case", str(world.case.pk))]
    with unlocked(world.coord_keyring):
        type(world.case).objects.get(pk=world.case.pk).codename  # noqa: B018
    assert list(inside) == [("cases.case", str(world.case.pk))]


def test_a_rotation_is_audited_as_a_rotation_not_as_records_opened(world):
    from safepassage.vault import services as vault

    before = _last_seq(world)
    with opened.recording() as seen, transaction.atomic():
        vault.rotate(compartment=world.case.compartment, keyring=world.coord_keyring)
    assert list(seen) == []
    (entry,) = _entries(world, "compartment.rotate", since=before)
    assert entry["target_type"] == "vault.compartment"
    assert entry["target_id"] == str(world.case.compartment_id)
    assert entry["actor"] == str(world.coord.pk)
    assert entry["detail"]["kind"] == "case"
    assert entry["detail"]["resealed"] > 0
    assert entry["detail"]["audit_key_rotated"] is False
