"""Contact pages: list, create, edit and status."""

from __future__ import annotations

from django.urls import reverse

from safepassage.contacts.models import Contact, ContactStatus
from safepassage.contacts.services import do_create_contact
from safepassage.vault.keyring import unlocked
from tests.dashboard.permissions import assert_matrix


def _contact(world, name="Broker Zhang") -> Contact:
    with unlocked(world.coord_keyring):
        return do_create_contact(
            actor=world.coord, name=name, role_description="broker", phone="+86 131 0000 3333"
        )


def test_permission_matrix(client, world):
    contact = _contact(world)
    assert_matrix(
        client,
        world,
        record_urls=[reverse("contacts:edit", args=[contact.pk])],
        open_urls=[reverse("contacts:list"), reverse("contacts:new")],
        secrets=["Broker Zhang"],
    )
    assert Contact.objects.get(pk=contact.pk).status == ContactStatus.ACTIVE


def test_create_a_contact_then_see_it_listed(client, world, login):
    login(world.coord)
    response = client.post(
        reverse("contacts:new"),
        {"name": "Driver Lee", "role_description": "driver per job", "phone": "", "notes": ""},
    )
    assert response.status_code == 302
    body = client.get(reverse("contacts:list")).content.decode()
    assert "Driver Lee" in body and "driver per job" in body and "Active" in body


def test_invalid_contact_form_stores_nothing(client, world, login):
    login(world.coord)
    before = Contact.objects.count()
    response = client.post(reverse("contacts:new"), {"name": "", "role_description": "x"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Contact.objects.count() == before


def test_mark_a_contact_compromised_or_do_not_use(client, world, login):
    contact = _contact(world)
    login(world.coord)
    url = reverse("contacts:edit", args=[contact.pk])
    assert "+86 131" in client.get(url).content.decode()
    for status, label in (
        (ContactStatus.DO_NOT_USE, "Do not use"),
        (ContactStatus.COMPROMISED, "Compromised"),
    ):
        response = client.post(
            url,
            {
                "name": "Broker Zhang",
                "role_description": "broker",
                "phone": "+86 131 0000 3333",
                "notes": "asked for more money at Tumen",
                "status": status,
            },
        )
        assert response.status_code == 302
        assert Contact.objects.get(pk=contact.pk).status == status
        assert label in client.get(reverse("contacts:list")).content.decode()
    # No longer offered for new legs.
    form = client.get(reverse("journeys:leg_new", args=[world.journey.pk])).content.decode()
    assert f'value="{contact.pk}"' not in form
    response = client.post(url, {"name": "Broker Zhang", "status": "sold-out"})
    assert "Select a valid choice." in response.content.decode()
    assert Contact.objects.get(pk=contact.pk).status == ContactStatus.COMPROMISED
