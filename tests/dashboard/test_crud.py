"""The shared create/edit form page (safepassage.dashboard.crud.form_page),
exercised through the contact and cell pages that use it."""

from __future__ import annotations

from django.urls import reverse

from safepassage.cells.models import Cell
from safepassage.contacts import services as contact_services
from safepassage.contacts.models import Contact
from safepassage.core.errors import ServiceError


def test_the_service_is_called_once_with_the_cleaned_data_and_only_on_a_valid_post(
    client, world, login, monkeypatch
):
    calls = []

    def fake_create(**kwargs):
        calls.append(kwargs)

    monkeypatch.setattr(contact_services, "do_create_contact", fake_create)
    login(world.coord)
    url = reverse("contacts:new")
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": ""}).status_code == 200
    assert calls == []
    response = client.post(url, {"name": "  Driver Lee ", "phone": "+86 139 0000 5555"})
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:list")
    assert calls == [
        {
            "actor": world.coord,
            "name": "Driver Lee",
            "role_description": "",
            "phone": "+86 139 0000 5555",
            "notes": "",
        }
    ]


def test_a_refusal_is_shown_on_the_form_and_nothing_is_saved(client, world, login, monkeypatch):
    def refuse(**kwargs):
        raise ServiceError("This broker is already known under another alias.")

    monkeypatch.setattr(contact_services, "do_create_contact", refuse)
    login(world.coord)
    before = Contact.objects.count()
    response = client.post(
        reverse("contacts:new"), {"name": "Driver Lee", "phone": "+86 139 0000 5555"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body
    assert "This broker is already known under another alias." in body
    assert 'value="Driver Lee"' in body  # what was typed stays on the form
    assert "The contact is saved." not in body
    assert Contact.objects.count() == before


def test_success_goes_where_the_result_says_with_its_message(client, world, login):
    login(world.coord)
    response = client.post(reverse("cells:new"), {"codename": "Crane", "specialty": "boat"})
    assert response.status_code == 302
    cell = Cell.objects.exclude(pk__in=[c.pk for c in world.cells]).get()
    assert response["Location"] == reverse("cells:detail", args=[cell.pk])
    body = client.get(response["Location"]).content.decode()
    assert "The cell is created. Add its members next." in body
