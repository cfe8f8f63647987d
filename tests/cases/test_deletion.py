"""Deleting one item from a live case (issue 11, item 3): a traveller entered
by mistake, a note. The row goes, the case's key is replaced, what is left
still opens, and the audit log says what kind of item went but not what it
held."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.audit.selectors import read_entries
from safepassage.cases.models import Case, CaseEvent, CaseEventKind, Traveller
from safepassage.cases.services import do_add_case_note, do_add_traveller, do_delete_note
from safepassage.core.errors import ServiceError
from safepassage.travellers.models import TravellerLink
from safepassage.travellers.services import do_issue_traveller_link
from safepassage.vault import crypto
from safepassage.vault.keyring import unlocked
from safepassage.vault.models import Compartment
from tests.dashboard.permissions import assert_matrix
from tests.vault.support import fresh_keyring, raw_value

pytestmark = pytest.mark.django_db

MISTAKE = "Mistaken Entry-Name"
NOTE = "Met the broker Lotus-Note at the station"


def _version(case) -> int:
    return Compartment.objects.get(pk=case.compartment_id).current_version


def _entries(world, verb):
    with unlocked(fresh_keyring(world.coord_keyring)):
        return [e for e in read_entries(organisation=world.org, limit=500) if e["verb"] == verb]


@pytest.fixture
def mistaken(world):
    with unlocked(world.coord_keyring):
        return do_add_traveller(
            actor=world.coord, case=world.case, name=MISTAKE, phone="+86 139 0000 6666"
        )


@pytest.fixture
def note(world):
    with unlocked(world.coord_keyring):
        return do_add_case_note(actor=world.coord, case=world.case, text=NOTE)


def test_permission_matrix(client, world, mistaken, note):
    with unlocked(world.coord_keyring):
        other_traveller = Traveller.objects.filter(case=world.other_case).first()
        other_note = do_add_case_note(actor=world.coord, case=world.other_case, text="other")
    assert_matrix(
        client,
        world,
        record_urls=[
            reverse("cases:traveller_delete", args=[mistaken.pk]),
            reverse("cases:note_delete", args=[note.pk]),
        ],
        other_case_urls=[
            reverse("cases:traveller_delete", args=[other_traveller.pk]),
            reverse("cases:note_delete", args=[other_note.pk]),
        ],
    )
    # Nobody but the positive control's GET reached them: everything is still there.
    assert Traveller.objects.filter(pk__in=[mistaken.pk, other_traveller.pk]).count() == 2
    assert CaseEvent.objects.filter(pk__in=[note.pk, other_note.pk]).count() == 2


def test_deleting_a_traveller_shreds_them_and_keeps_the_rest(client, login, world, mistaken):
    with unlocked(world.coord_keyring):
        link = do_issue_traveller_link(
            actor=world.coord, case=world.case, traveller=mistaken, step="Wait", signal="x"
        )
    added = CaseEvent.objects.filter(case=world.case, kind=CaseEventKind.TRAVELLER).latest("at")
    before = _version(world.case)
    client = login(world.coord, world.coord_keyring)
    url = reverse("cases:traveller_delete", args=[mistaken.pk])

    confirm = client.get(url).content.decode()
    assert MISTAKE in confirm and "backup taken before now" in confirm
    assert Traveller.objects.filter(pk=mistaken.pk).exists()  # a GET deletes nothing

    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[world.case.pk])
    assert not Traveller.objects.filter(pk=mistaken.pk).exists()
    assert not TravellerLink.objects.filter(pk=link.link.pk).exists()
    assert not CaseEvent.objects.filter(pk=added.pk).exists()  # the entry naming them

    # A new key for the case, and everything left in it sealed under it and open.
    after = _version(world.case)
    assert after == before + 1
    kept = Traveller.objects.get(case=world.case)
    assert crypto.blob_version(raw_value(Traveller, "name", kept.pk)) == after
    with unlocked(fresh_keyring(world.coord_keyring)):
        assert Traveller.objects.get(pk=kept.pk).name == "Traveller Secret-Name"
        assert Case.objects.get(pk=world.case.pk).codename == "Camellia"
    with unlocked(fresh_keyring(world.member(0)[1])):  # the cells' legs still open
        assert world.legs[0].__class__.objects.get(pk=world.legs[0].pk).route

    page = client.get(response["Location"]).content.decode()
    assert MISTAKE not in page and "Traveller Secret-Name" in page

    (entry,) = _entries(world, "traveller.delete")
    assert entry["target_id"] == str(world.case.pk)
    assert entry["detail"]["item"] == "traveller"
    assert MISTAKE not in str(entry) and "+86 139 0000 6666" not in str(entry)
    assert _entries(world, "compartment.rotate")


def test_an_entry_from_before_that_names_the_traveller_goes_too(world, mistaken):
    from safepassage.cases.services import do_delete_traveller

    old = CaseEvent(case=world.case, compartment=world.case.compartment, kind="traveller")
    with unlocked(world.coord_keyring):
        old.text = f"Traveller {MISTAKE} added."
        old.save()
        do_delete_traveller(actor=world.coord, traveller=mistaken)
    assert not CaseEvent.objects.filter(pk=old.pk).exists()


def test_deleting_a_note_shreds_it_and_keeps_the_timeline(client, login, world, note):
    before = _version(world.case)
    client = login(world.coord, world.coord_keyring)
    url = reverse("cases:note_delete", args=[note.pk])
    assert NOTE in client.get(url).content.decode()

    assert client.post(url).status_code == 302
    assert not CaseEvent.objects.filter(pk=note.pk).exists()
    assert _version(world.case) == before + 1
    with unlocked(fresh_keyring(world.coord_keyring)):
        sentences = [e.sentence for e in CaseEvent.objects.filter(case=world.case)]
    assert "Case opened." in sentences and NOTE not in sentences

    (entry,) = _entries(world, "case_note.delete")
    assert entry["detail"] == {"item": "note"}
    assert "Lotus-Note" not in str(entry)


def test_only_notes_can_be_deleted_from_the_timeline(client, login, world):
    opened = CaseEvent.objects.get(case=world.case, kind=CaseEventKind.OPENED)
    client = login(world.coord, world.coord_keyring)
    assert client.post(reverse("cases:note_delete", args=[opened.pk])).status_code == 404
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        do_delete_note(actor=world.coord, note=opened)
    assert CaseEvent.objects.filter(pk=opened.pk).exists()
