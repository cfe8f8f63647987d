"""Values people type: years of birth, phone numbers, text lengths, contacts on legs."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.cases.forms import CaseForm, TravellerForm
from safepassage.cases.models import Case, Traveller
from safepassage.cases.services import do_add_traveller, do_open_case, do_update_case
from safepassage.contacts.models import ContactStatus
from safepassage.contacts.services import do_create_contact, do_update_contact
from safepassage.core.errors import ServiceError
from safepassage.core.validation import clean_birth_year, clean_phone
from safepassage.journeys.services import (
    do_add_leg,
    do_create_journey,
    do_start_journey,
    do_update_leg,
)
from safepassage.vault.fields import TextTooLong
from safepassage.vault.keyring import unlocked

from ..conftest import vault_login


@pytest.mark.parametrize("value", ["20588", "abcd", "1850", str(timezone.now().year + 1)])
def test_a_year_of_birth_outside_four_plausible_digits_is_refused(value):
    with pytest.raises(ServiceError, match="four digits"):
        clean_birth_year(value)


def test_a_plausible_year_of_birth_is_kept():
    assert clean_birth_year(" 1994 ") == "1994"
    assert clean_birth_year("\uff11\uff19\uff19\uff14") == "1994"  # typed full-width
    assert clean_birth_year("") == ""


@pytest.mark.parametrize("value", ["abc", "12", "139 0000 1111", "+86 1"])
def test_what_is_not_an_international_phone_number_is_refused(value):
    with pytest.raises(ServiceError, match="phone number"):
        clean_phone(value)


def test_a_phone_number_is_kept_in_international_form():
    assert clean_phone("+8613900001111") == "+86 139 0000 1111"
    assert clean_phone("+82 10-1234-5678") == "+82 10-1234-5678"
    assert clean_phone("") == ""


def test_the_traveller_form_shows_the_errors_beside_the_fields():
    form = TravellerForm(data={"name": "X", "birth_year": "20588", "phone": "abc"})
    assert not form.is_valid()
    assert set(form.errors) == {"birth_year", "phone"}


@pytest.mark.django_db
def test_the_service_refuses_what_the_form_would_and_stores_nothing(world):
    with unlocked(world.coord_keyring):
        before = Traveller.objects.filter(case=world.case).count()
        with pytest.raises(ServiceError):
            do_add_traveller(actor=world.coord, case=world.case, name="Y", birth_year="20588")
        with pytest.raises(ServiceError):
            do_add_traveller(actor=world.coord, case=world.case, name="Y", phone="abc")
        assert Traveller.objects.filter(case=world.case).count() == before


# --- text lengths -----------------------------------------------------------------


def test_the_case_form_limits_its_long_texts():
    form = CaseForm(
        data={"codename": "C", "needs": "x" * 2001, "consent_scope": "y" * 1001, "summary": "z"}
    )
    assert not form.is_valid()
    assert {"needs", "consent_scope"} <= set(form.errors)


@pytest.mark.django_db
def test_a_megabyte_in_a_sealed_text_is_refused_by_every_path(world):
    with unlocked(world.coord_keyring):
        case = Case.objects.get(pk=world.case.pk)
        with pytest.raises(TextTooLong):
            do_update_case(
                actor=world.coord,
                case=case,
                codename="Camellia",
                needs="x" * 1_000_000,
                consent=case.consent,
                summary="",
            )
        with pytest.raises(TextTooLong):
            do_open_case(actor=world.coord, codename="Big", needs="", summary="s" * 1_000_000)
        assert Case.objects.get(pk=world.case.pk).needs == "insulin"
        assert not Case.objects.filter(organisation=world.org).count() > 2


@pytest.mark.django_db
def test_an_overlong_case_text_posted_keeps_the_form_and_changes_nothing(client: Client, world):
    vault_login(client, world.coord, world.coord_keyring)
    response = client.post(
        reverse("cases:edit", kwargs={"case": world.case.pk}),
        {"codename": "Camellia", "needs": "x" * 1_000_000, "summary": ""},
    )
    assert response.status_code == 200
    assert "2000" in response.content.decode()  # the limit is named beside the field
    with unlocked(world.coord_keyring):
        assert Case.objects.get(pk=world.case.pk).needs == "insulin"


# --- contacts on legs -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ContactStatus.DO_NOT_USE, ContactStatus.COMPROMISED])
def test_a_contact_marked_unusable_is_refused_by_the_service(world, status):
    with unlocked(world.coord_keyring):
        contact = do_create_contact(actor=world.coord, name="Broker Kim", phone="+86 139 0000 2222")
        do_update_contact(
            actor=world.coord,
            contact=contact,
            name="Broker Kim",
            role_description="",
            phone="+86 139 0000 2222",
            notes="",
            status=status,
        )
        journey = do_create_journey(actor=world.coord, case=world.case, title="Second route")
        with pytest.raises(ServiceError, match="cannot be given a leg"):
            do_add_leg(actor=world.coord, journey=journey, cell=world.cells[0], contact=contact)
        assert not journey.legs.exists()
        leg = world.legs[0]
        with pytest.raises(ServiceError, match="cannot be given a leg"):
            do_update_leg(
                actor=world.coord,
                leg=leg,
                cell=leg.cell,
                contact=contact,
                window_start=leg.window_start,
                window_end=leg.window_end,
                transport=leg.transport,
                route=leg.route,
                vehicle=leg.vehicle,
                notes=leg.notes,
            )


# --- leg labels -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cell_tells_apart_two_legs_with_the_same_number(client: Client, world):
    with unlocked(world.coord_keyring):
        other = do_create_journey(actor=world.coord, case=world.other_case, title="South route")
        second = do_add_leg(actor=world.coord, journey=other, cell=world.cells[0], route="A to B")
        do_start_journey(actor=world.coord, journey=world.journey)
        do_start_journey(actor=world.coord, journey=other)
    first = world.legs[0]
    assert first.position == second.position == 0
    member, keyring = world.member(0)
    vault_login(client, member, keyring)
    page = client.get(reverse("field:my_legs")).content.decode()
    assert f"Leg 1 · {first.reference}" in page
    assert f"Leg 1 · {second.reference}" in page
    assert first.reference != second.reference
