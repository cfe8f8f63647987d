"""The coordinators' audit log page: newest first, paginated, readable only by
coordinators of the organisation, and itself recorded."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from safepassage.audit import services as audit
from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import PER_PAGE, head_of, read_entries
from safepassage.vault.keyring import unlocked

from ..factories import OrganisationFactory
from ..pages import no_inline_code

pytestmark = pytest.mark.django_db
URL = reverse("audit:log")


def _rows(body: str) -> int:
    return body.count('<td class="num">')


def test_a_coordinator_reads_the_log_newest_first(world, login):
    client = login(world.coord, world.coord_keyring)
    seq, digest = head_of(organisation=world.org)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert no_inline_code(body)
    assert "no-store" in response["Cache-Control"]
    # Newest first: the highest number comes before the creation entry.
    newest = seq
    assert body.index(f'<td class="num">{newest}</td>') < body.index('<td class="num">1</td>')
    assert "<code>organisation.create</code>" in body
    assert "<code>case.open</code>" in body
    assert world.coord.handle in body and world.coord2.handle in body
    assert str(world.case.pk) in body  # a target id
    # The head, to note elsewhere, and the command that checks it.
    assert digest[:16] in body
    assert f"verify_audit --expect {world.org.pk}:{seq}:{digest[:16]}" in body
    # The navigation links here.
    assert f'href="{URL}" aria-current="page"' in body


def test_viewing_the_log_is_itself_recorded(world, login):
    client = login(world.coord, world.coord_keyring)
    client.get(URL)
    with unlocked(world.coord_keyring):
        newest = read_entries(organisation=world.org, limit=1)[0]
    assert newest["verb"] == "record.open"
    assert newest["detail"]["view"] == "audit:log"
    assert ["organisations.organisation", str(world.org.pk)] in newest["detail"]["records"]


def test_the_log_is_paginated(world, login):
    total = AuditEvent.objects.filter(organisation=world.org).count()
    with transaction.atomic():
        for i in range(PER_PAGE + 5 - total):
            audit.record(
                organisation=world.org, actor=world.coord, verb="test.entry", detail={"i": i}
            )
    client = login(world.coord, world.coord_keyring)
    first = client.get(URL).content.decode()
    assert _rows(first) == PER_PAGE
    assert "Older entries" in first and "Newer entries" not in first
    second = client.get(URL, {"page": 2}).content.decode()
    assert _rows(second) >= 5 and '<td class="num">1</td>' in second
    assert "Newer entries" in second
    # A page number out of range or malformed gives the nearest page, not an error.
    assert client.get(URL, {"page": 999}).status_code == 200
    assert client.get(URL, {"page": "x"}).status_code == 200


def test_an_entry_that_fails_to_open_is_shown_as_such(world, login):
    victim = AuditEvent.objects.get(organisation=world.org, seq=3)
    sealed = bytearray(bytes(victim.sealed_entry))
    sealed[-1] ^= 0x01
    AuditEvent.objects.filter(pk=victim.pk).update(sealed_entry=bytes(sealed))
    body = login(world.coord, world.coord_keyring).get(URL).content.decode()
    assert "This entry failed its integrity check and cannot be read." in body


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("members:login"))


def test_cell_members_get_the_common_404(world, login):
    member, ring = world.member(0)
    assert login(member, ring).get(URL).status_code == 404


def test_another_organisations_coordinator_sees_only_their_own_log(world, client):
    from ..conftest import vault_login

    other = OrganisationFactory()
    vault_login(client, other.founder, other.keyring)
    theirs = AuditEvent.objects.filter(organisation=other.organisation).count()
    body = client.get(URL).content.decode()
    assert other.founder.handle in body
    assert world.coord.handle not in body
    assert str(world.case.pk) not in body
    assert _rows(body) == theirs


def test_ids_outside_the_readers_cases_are_withheld(world, login):
    """coord2 does not coordinate the other case: its id, its traveller's, and
    the case-scoped ids in entries' details are withheld from their page; who
    acted, the verb and the type stay."""
    from safepassage.cases.models import Traveller

    # coord reads the other case (a record.open entry naming it).
    login(world.coord, world.coord_keyring).get(reverse("cases:detail", args=[world.other_case.pk]))
    hidden_traveller = Traveller.objects.get(case=world.other_case)
    seen_traveller = Traveller.objects.get(case=world.case)

    body = login(world.coord2, world.coord2_keyring).get(URL).content.decode()

    assert str(world.other_case.pk) not in body
    assert str(hidden_traveller.pk) not in body
    assert str(world.case.pk) in body and str(seen_traveller.pk) in body
    assert "(outside your cases)" in body
    assert "<code>case.open</code>" in body and world.coord.handle in body

    # The coordinator of both sees every id.
    body = login(world.coord, world.coord_keyring).get(URL).content.decode()
    assert str(world.other_case.pk) in body and str(hidden_traveller.pk) in body


def test_visible_records_follow_the_readers_keys(world):
    from django.utils import timezone

    from safepassage.audit.selectors import visible_records
    from safepassage.checkins.models import Deadline, DeadlineKind

    from ..vault.support import fresh_keyring

    leg = world.legs[0]
    pairs = {
        ("cases.case", str(world.case.pk)),
        ("cases.case", str(world.other_case.pk)),
        ("journeys.leg", str(leg.pk)),
        ("members.member", str(world.coord.pk)),
        ("vault.compartment", str(world.other_case.compartment_id)),
        ("cases.case", "00000000-0000-0000-0000-000000000000"),  # purged or never was
        ("nosuch.model", str(world.case.pk)),
        ("cases.case", "not-an-id"),
    }
    # A row with no sealed value of its own: visible when its leg (and
    # organisation) are.
    now = timezone.now()
    deadline = Deadline.objects.filter(leg=leg).first() or Deadline.objects.create(
        organisation=world.org, leg=leg, kind=DeadlineKind.DEPARTED, due_at=now, alert_at=now
    )
    pairs.add(("checkins.deadline", str(deadline.pk)))
    coord2 = visible_records(pairs, fresh_keyring(world.coord2_keyring))
    assert coord2 == {
        ("cases.case", str(world.case.pk)),
        ("journeys.leg", str(leg.pk)),
        ("members.member", str(world.coord.pk)),
        ("checkins.deadline", str(deadline.pk)),
    }
    coord = visible_records(pairs, fresh_keyring(world.coord_keyring))
    assert ("cases.case", str(world.other_case.pk)) in coord
    assert ("vault.compartment", str(world.other_case.compartment_id)) in coord
    # A cell member: their leg and the coordinators' records (members) are out
    # of reach except what their keys open.
    _member, ring = world.member(0)
    cell = visible_records(pairs, fresh_keyring(ring))
    assert ("journeys.leg", str(leg.pk)) in cell
    assert ("checkins.deadline", str(deadline.pk)) not in cell  # the organisation's key: no
    assert ("cases.case", str(world.case.pk)) not in cell
    assert ("members.member", str(world.coord.pk)) not in cell
