"""Deleting one recognition detail of a handoff (issue 11, item 3), as a photo
is removed: the value goes, the handoff's key is replaced, the rest still
opens for the coordinators and both cells, and the audit log names only the
kind of detail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.audit.selectors import read_entries
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Handoff
from safepassage.journeys.services import do_add_leg, do_create_journey, do_delete_handoff_detail
from safepassage.vault import crypto
from safepassage.vault.keyring import unlocked
from safepassage.vault.models import Compartment
from tests.dashboard.permissions import assert_matrix
from tests.vault.support import fresh_keyring, raw_value

pytestmark = pytest.mark.django_db

PLATE = "吉A 7Q219"


def _middle(world) -> Handoff:
    return Handoff.objects.get(journey=world.journey, position=1)


def _version(handoff) -> int:
    return Compartment.objects.get(pk=handoff.compartment_id).current_version


def test_permission_matrix(client, world):
    handoff = _middle(world)
    with unlocked(world.coord_keyring):
        other = do_create_journey(actor=world.coord, case=world.other_case, title="Other way")
        do_add_leg(actor=world.coord, journey=other, cell=world.cells[2], route="Elsewhere")
    other_journey_handoff = Handoff.objects.filter(journey=other).first()
    assert_matrix(
        client,
        world,
        record_urls=[reverse("journeys:handoff_detail_delete", args=[handoff.pk])],
        other_case_urls=[
            reverse("journeys:handoff_detail_delete", args=[other_journey_handoff.pk])
        ],
    )
    with unlocked(fresh_keyring(world.coord_keyring)):
        assert Handoff.objects.get(pk=handoff.pk).vehicle_plate == PLATE


def test_deleting_a_detail_shreds_it_and_keeps_the_rest(client, login, world):
    handoff = _middle(world)
    before = _version(handoff)
    client = login(world.coord, world.coord_keyring)
    url = reverse("journeys:handoff_detail_delete", args=[handoff.pk])

    confirm = client.get(url + "?detail=vehicle_plate").content.decode()
    assert "Vehicle plate" in confirm and 'value="vehicle_plate"' in confirm
    assert 'value="photo"' not in confirm  # only the details it holds are offered

    response = client.post(url, {"detail": "vehicle_plate"})
    assert response.status_code == 302
    assert raw_value(Handoff, "vehicle_plate", handoff.pk) is None
    after = _version(handoff)
    assert after == before + 1
    assert crypto.blob_version(raw_value(Handoff, "place", handoff.pk)) == after
    # The coordinators and the cells on both sides still open what is left.
    for ring in (world.coord_keyring, world.member(0)[1], world.member(1)[1]):
        with unlocked(fresh_keyring(ring)):
            kept = Handoff.objects.get(pk=handoff.pk)
            assert kept.place == "Car park behind the Changchun grain market"
            assert kept.signal == "umbrella in the right hand"
            assert kept.vehicle_plate is None

    with unlocked(fresh_keyring(world.coord_keyring)):
        (entry,) = [
            e
            for e in read_entries(organisation=world.org, limit=500)
            if e["verb"] == "handoff_detail.delete"
        ]
    assert entry["target_id"] == str(handoff.pk)
    assert entry["detail"] == {"item": "handoff_detail", "detail": "vehicle_plate"}
    assert PLATE not in str(entry)


def test_an_unknown_or_absent_detail_changes_nothing(client, login, world):
    handoff = _middle(world)
    before = _version(handoff)
    client = login(world.coord, world.coord_keyring)
    url = reverse("journeys:handoff_detail_delete", args=[handoff.pk])
    assert client.post(url, {"detail": "photo"}).status_code == 200  # it has no photo
    assert client.post(url, {"detail": "phrase_response"}).status_code == 200
    assert _version(handoff) == before
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_delete_handoff_detail(actor=world.coord, handoff=handoff, detail="phrase_response")


def test_a_cell_member_cannot_delete_a_detail(world):
    handoff = _middle(world)
    member, ring = world.member(0)
    with unlocked(ring), pytest.raises(ServiceError):
        do_delete_handoff_detail(actor=member, handoff=handoff, detail="signal")
