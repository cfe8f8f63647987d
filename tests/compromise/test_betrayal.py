"""Documented failure 3, end to end over HTTP: a broker who runs one leg sells
the travellers. A coordinator declares the contact compromised and responds
in one action. The exposure lists exactly what that leg's keys opened; the
keys the broker was given open nothing sealed afterwards; the legs touching
it are frozen (their field pages say "Stand down" and nothing else) and only
the cells next to it are told, with nothing but "open safepassage".

The network: one journey of four legs run by Heron, Otter (with the broker),
Lark and Wren, and a second case on which Wren also runs a leg.

    h0 pickup -> L0 Heron -> h1 -> L1 Otter + broker -> h2 -> L2 Lark -> h3 -> L3 Wren -> h4
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts.models import Alert, AlertStatus, Severity
from safepassage.cases.models import CaseEvent, Traveller
from safepassage.cells.models import Cell
from safepassage.cells.services import do_create_cell
from safepassage.compromise.models import Compromise
from safepassage.compromise.selectors import snapshot_of
from safepassage.contacts.models import Contact, ContactStatus
from safepassage.contacts.services import do_create_contact
from safepassage.journeys.models import Handoff, HandoffStatus, Leg, LegStatus
from safepassage.journeys.phrases import renderings
from safepassage.journeys.services import (
    do_add_leg,
    do_create_journey,
    do_mark_leg_started,
    do_start_journey,
    do_update_handoff,
    do_update_leg,
)
from safepassage.members.models import Member
from safepassage.notifications.models import Delivery, Notification
from safepassage.notifications.services import do_set_email_address
from safepassage.roles import Role
from safepassage.vault import crypto
from safepassage.vault import services as vault
from safepassage.vault.fields import SealedField
from safepassage.vault.keyring import unlocked

from ..conftest import vault_login
from ..factories import World, keyring_for, make_member

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

PLACES = {
    0: "Bus station forecourt, Yanji",
    1: "Car park behind the Changchun grain market",  # set by build_world
    2: "Dandong river gate, east side",
    3: "Tea house on Wren street",
}
ROUTES = [
    "Yanji to Changchun",
    "Changchun to Dandong",
    "Dandong to the coast",
    "Coast to the border",
]


@dataclass
class Betrayal:
    world: World
    broker: Contact
    wren: Cell
    wren_member: Member
    wren_ring: object
    legs: list[Leg]
    handoffs: list[Handoff]
    other_leg: Leg


def build_betrayal(world: World) -> Betrayal:
    """The world's journey grown to four legs, the broker on the second."""
    coord, ring = world.coord, world.coord_keyring
    now = timezone.now()
    with unlocked(ring):
        wren = do_create_cell(actor=coord, codename="Wren", specialty="boat")
    wren_member, wren_ring = make_member(coord, ring, cell=wren)
    with unlocked(ring):
        broker = do_create_contact(actor=coord, name="Broker Kim", phone="+86 139 0000 2000")
        for cell, start in ((world.cells[2], 13), (wren, 20)):
            do_add_leg(
                actor=coord,
                journey=world.journey,
                cell=cell,
                route=ROUTES[len(world.journey.legs.all())],
                window_start=now + timedelta(hours=start),
                window_end=now + timedelta(hours=start + 5),
            )
        legs = list(world.journey.legs.order_by("position"))
        do_update_leg(
            actor=coord,
            leg=legs[1],
            cell=world.cells[1],
            contact=broker,
            window_start=legs[1].window_start,
            window_end=legs[1].window_end,
            transport="car",
            route=ROUTES[1],
            vehicle="white Buick, 辽F 33K81",
            notes="the broker drives",
        )
        handoffs = list(world.journey.handoffs.order_by("position"))
        for position in (0, 2, 3):
            do_update_handoff(
                actor=coord,
                handoff=handoffs[position],
                place=PLACES[position],
                window_start=now + timedelta(hours=position * 6),
                window_end=now + timedelta(hours=position * 6 + 1),
                clothing="red scarf" if position == 2 else "",
                signal="newspaper under the arm" if position == 2 else "",
            )
        do_start_journey(actor=coord, journey=world.journey)
        # Wren's other work: a leg of the second case, which the broker never saw.
        other = do_create_journey(actor=coord, case=world.other_case, title="South route")
        other_leg = do_add_leg(actor=coord, journey=other, cell=wren, route="Harbour crossing")
    heron_driver, heron_ring = world.member(0)
    with unlocked(heron_ring):
        do_mark_leg_started(actor=heron_driver, leg=legs[0])
    legs = list(world.journey.legs.order_by("position"))
    handoffs = list(world.journey.handoffs.order_by("position"))
    return Betrayal(world, broker, wren, wren_member, wren_ring, legs, handoffs, other_leg)


def _browser(member, keyring) -> Client:
    client = Client(enforce_csrf_checks=True)
    vault_login(client, member, keyring)
    return client


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no form on the page"
    return found.group(1)


def _sealed_values(compartment_ids) -> list[tuple[object, str, bytes, object]]:
    """(record, field, raw ciphertext, compartment id) of every sealed value now
    stored in the given compartments, read as ciphertext only."""
    found = []
    for model, by_lookup in vault.records_in(compartment_ids).items():
        for lookup, records in by_lookup.items():
            fields = [
                f
                for f in model._meta.fields
                if isinstance(f, SealedField) and f.compartment_lookup() == lookup
            ]
            for record in records:
                rows = model._base_manager.filter(pk=record.pk).values_list(
                    lookup, *[f.attname for f in fields]
                )
                compartment_id, *raws = rows.get()
                for f, raw in zip(fields, raws, strict=True):
                    if raw is not None:
                        found.append((record, f.name, bytes(raw), compartment_id))
    return found


def _opens(key: bytes, record, field: str, raw: bytes, compartment_id) -> bool:
    """Whether ``key`` opens the stored value: the AEAD check SealedField does."""
    aad = f"{record._meta.label_lower}|{record.pk}|{field}|{compartment_id}".encode()
    try:
        crypto.open_with_compartment_key(key, raw, aad)
    except crypto.SealBroken:
        return False
    return True


def test_a_betraying_broker_is_declared_and_the_network_responds(world):
    net = build_betrayal(world)
    coord, coord_ring = world.coord, world.coord_keyring
    heron, otter, lark = world.cells
    l0, l1, l2, l3 = net.legs
    h0, h1, h2, h3, h4 = net.handoffs
    traveller = Traveller.objects.get(case=world.case)
    other_traveller = Traveller.objects.get(case=world.other_case)
    heron_driver, _heron_ring = world.member(0)
    heron_mate, heron_mate_ring = world.member(0, 1)
    otter_member, otter_ring = world.member(1)
    lark_member, _lark_ring = world.member(2)

    # Email addresses, so that notifications are queued for delivery too.
    for member, ring in ((heron_mate, heron_mate_ring), (net.wren_member, net.wren_ring)):
        with unlocked(ring):
            do_set_email_address(actor=member, email=f"{member.handle}@example.org")

    # What the broker was told: the keys of their leg and of the handoffs at its ends.
    told = {l1.compartment_id, h1.compartment_id, h2.compartment_id}
    with unlocked(coord_ring):
        old_keys = {cid: coord_ring.key_for_sealing(cid) for cid in told}
    before = _sealed_values(told)
    assert before, "the broker's compartments hold sealed values"
    assert all(_opens(old_keys[c][1], r, f, raw, c) for r, f, raw, c in before)

    # 1. The coordinator declares the broker compromised and responds at once.
    desk = _browser(coord, coord_ring)
    form_page = desk.get(reverse("compromise:declare")).content.decode()
    assert "Broker Kim" in form_page
    response = desk.post(
        reverse("compromise:declare"),
        {
            "csrfmiddlewaretoken": _csrf(form_page),
            "kind": "contact",
            "contact": str(net.broker.pk),
            "reason": "suspected_betrayal",
            "notes": "Sold three travellers to a captor's husband.",
            "action": "declare",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    compromise = Compromise.objects.get()
    report_url = reverse("compromise:detail", kwargs={"compromise": compromise.pk})
    assert response["Location"] == report_url

    # 2. The exposure: exactly what the broker's leg's keys opened.
    snapshot = snapshot_of_as(coord_ring, compromise)
    assert snapshot.compartment_ids == told
    assert snapshot.leg_ids == {l1.pk}
    assert snapshot.handoff_ids == {h1.pk, h2.pk}
    assert snapshot.traveller_ids == {traveller.pk}
    assert other_traveller.pk not in snapshot.traveller_ids
    assert snapshot.case_ids == set()  # described at the handoffs, not named
    assert snapshot.described_case_ids == {world.case.pk}
    assert snapshot.adjacent_cell_ids == {heron.pk, otter.pk, lark.pk}
    assert snapshot.open_leg_ids == {l0.pk, l1.pk, l2.pk}
    assert snapshot.legs_needing_new_cell == {l1.pk}
    assert snapshot.active_journey_ids == {world.journey.pk}
    assert snapshot.contact_ids == {net.broker.pk}

    # The report a coordinator reads: counts, then the places and recognition
    # details of exactly those handoffs, and no phrase itself.
    report = desk.get(report_url)
    assert report.status_code == 200
    page = report.content.decode()
    for place in (PLACES[1], PLACES[2]):
        assert place in page
    for place in (PLACES[0], PLACES[3]):
        assert place not in page
    assert "red scarf" in page and "newspaper under the arm" in page
    with unlocked(coord_ring):
        phrases = [
            text
            for h in (h1, h2)
            for stored in (h.phrase_challenge, h.phrase_response)
            for text in [stored, *renderings(stored)]
        ]
    assert all(p and p not in page for p in phrases)
    assert "set: they are known to the adversary" in page
    assert "Traveller Secret-Name" not in page and "Other Hidden-Person" not in page
    assert "1 traveller" in page
    # Nothing has changed in the network yet.
    assert set(Leg.objects.filter(status=LegStatus.FROZEN)) == set()

    # 3. The response: one button, every step ticked.
    for step in ("freeze", "notify", "revoke", "burn"):
        assert re.search(rf'<input[^>]*name="{step}"[^>]*checked', page), step
    response = desk.post(
        reverse("compromise:respond", kwargs={"compromise": compromise.pk}),
        {
            "csrfmiddlewaretoken": _csrf(page),
            "freeze": "on",
            "notify": "on",
            "revoke": "on",
            "burn": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    # Legs touching the broker's are frozen with their pending handoffs; Wren's is not.
    statuses = {leg.pk: leg.status for leg in Leg.objects.filter(journey=world.journey)}
    assert statuses == {
        l0.pk: LegStatus.FROZEN,
        l1.pk: LegStatus.FROZEN,
        l2.pk: LegStatus.FROZEN,
        l3.pk: LegStatus.PLANNED,
    }
    handoff_status = {h.pk: h.status for h in Handoff.objects.filter(journey=world.journey)}
    assert handoff_status == {
        h0.pk: HandoffStatus.DONE,  # the pickup happened when Heron started
        h1.pk: HandoffStatus.FROZEN,
        h2.pk: HandoffStatus.FROZEN,
        h3.pk: HandoffStatus.FROZEN,  # Lark's leg is frozen: its meeting with Wren too
        h4.pk: HandoffStatus.PENDING,
    }
    assert Leg.objects.get(pk=net.other_leg.pk).status == LegStatus.PLANNED
    assert Contact.objects.get(pk=net.broker.pk).status == ContactStatus.COMPROMISED
    # Each frozen leg is on the case timeline.
    assert CaseEvent.objects.filter(case=world.case, kind="leg").count() >= 3

    # 4. Only the adjacent cells' members are told, and only "open safepassage".
    coordinators = set(
        Member.objects.filter(organisation=world.org, role=Role.COORDINATOR).values_list(
            "pk", flat=True
        )
    )
    told_members = set(Notification.objects.values_list("member_id", flat=True)) - coordinators
    assert told_members == {
        heron_driver.pk,
        heron_mate.pk,
        otter_member.pk,
        lark_member.pk,
    }
    assert not Notification.objects.filter(member=net.wren_member).exists()
    queued = set(Delivery.objects.values_list("notification__member_id", flat=True))
    assert heron_mate.pk in queued and net.wren_member.pk not in queued
    # Every coordinator was alerted when it was declared, by a critical alert
    # that names nothing.
    alert = Alert.objects.get(pk=compromise.alert_id)
    assert alert.severity == Severity.CRITICAL and alert.status == AlertStatus.OPEN
    assert alert.leg_id is None and alert.case_id is None and alert.details is None
    assert coordinators <= set(
        Notification.objects.filter(alert=alert).values_list("member_id", flat=True)
    )

    # 5. The broker's old keys open nothing sealed after the rotation: what
    # was re-sealed, and what the coordinators write from now on (in a later
    # request, with the keys the database holds now).
    coord_ring = keyring_for(coord)
    with unlocked(coord_ring):
        handoff = Handoff.objects.get(pk=h2.pk)
        do_update_handoff(
            actor=coord,
            handoff=handoff,
            place="A new place nobody was told",
            window_start=None,
            window_end=None,
        )
        leg = Leg.objects.get(pk=l1.pk)
        leg.route = "A new route"
        leg.save()
    after = _sealed_values(told)
    assert len(after) >= len(before)
    assert not any(_opens(old_keys[c][1], r, f, raw, c) for r, f, raw, c in after)
    with unlocked(coord_ring):
        assert coord_ring.key_for_sealing(l1.compartment_id)[0] > old_keys[l1.compartment_id][0]
        # The cells still running the journey hold the new keys.
        assert Leg.objects.get(pk=l1.pk).route == "A new route"
    with unlocked(otter_ring):
        assert Leg.objects.get(pk=l1.pk).route == "A new route"

    # 6. The frozen legs' pages say "Stand down" and nothing else; their
    # actions refuse. Wren's leg runs, but its meeting with Lark is off.
    otter_phone = _browser(otter_member, otter_ring)
    leg_page = otter_phone.get(reverse("field:leg", kwargs={"leg": l1.pk})).content.decode()
    assert "Stand down" in leg_page
    for secret in (
        PLACES[1],
        "A new place nobody was told",
        "A new route",
        "Buick",
        "辽F",
        "red scarf",
    ):
        assert secret not in leg_page
    # No action and no check-in form (the layout's own menu links to the PIN page).
    assert 'name="action"' not in leg_page
    assert reverse("field:check_in", kwargs={"leg": l1.pk}) not in leg_page
    plain = Client()  # no CSRF check: the view itself must refuse
    vault_login(plain, otter_member, otter_ring)
    start = plain.post(reverse("field:leg", kwargs={"leg": l1.pk}), {"action": "start"})
    assert start.status_code == 200 and "Stand down" in start.content.decode()
    assert Leg.objects.get(pk=l1.pk).status == LegStatus.FROZEN

    wren_phone = _browser(net.wren_member, net.wren_ring)
    wren_page = wren_phone.get(reverse("field:leg", kwargs={"leg": l3.pk})).content.decode()
    assert "Stand down" in wren_page  # the handoff from Lark
    assert PLACES[3] not in wren_page
    assert "Coast to the border" in wren_page  # its own leg is not frozen

    # 7. The report shows what was done, and the leg that needs a new cell.
    page = desk.get(report_url).content.decode()
    assert "Legs that need a new cell" in page
    assert re.search(r"Legs frozen</dt><dd>3<", page)
    assert re.search(r"Cells notified</dt><dd>3 ", page)


def snapshot_of_as(keyring, compromise: Compromise):
    with unlocked(keyring):
        return snapshot_of(Compromise.objects.get(pk=compromise.pk))
