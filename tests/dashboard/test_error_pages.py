"""404, 500 and the integrity-failure page."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from safepassage.cases.models import Case


def test_404_renders_the_layout_for_anonymous_visitors(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing here" in body
    assert "safepassage" in body


def test_404_for_a_logged_in_coordinator_keeps_the_navigation(client, world, login):
    login(world.coord)
    response = client.get(reverse("cases:detail", args=["00000000-0000-0000-0000-000000000000"]))
    assert response.status_code == 404
    assert reverse("cases:list") in response.content.decode()


def test_tampered_page_renders_for_anonymous_visitors(db):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    body = render_to_string("vault/tampered.html", request=request)
    assert "This record failed its integrity check" in body
    assert "logged" in body
    assert "coordinator" in body


def test_500_page_renders_without_any_context():
    body = render_to_string("500.html")
    assert "Something went wrong" in body


def _flip_a_byte_of_the_codename(case: Case) -> None:
    """Alter the stored ciphertext behind the application's back."""
    table = Case._meta.db_table
    key = Case._meta.pk.get_db_prep_value(case.pk, connection)
    blob = bytearray(Case.objects.filter(pk=case.pk).values_list("codename", flat=True).get())
    blob[-1] ^= 0x01
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET codename = %s WHERE id = %s", [bytes(blob), key])  # noqa: S608
        assert cursor.rowcount == 1


def test_a_tampered_ciphertext_shows_the_integrity_page_not_a_500(client, world, login):
    _flip_a_byte_of_the_codename(world.case)
    login(world.coord)
    response = client.get(reverse("cases:detail", args=[world.case.pk]))
    assert response.status_code == 409
    body = response.content.decode()
    assert "This record failed its integrity check" in body
    assert "Camellia" not in body
    # The rest of the application still works.
    assert client.get(reverse("cells:list")).status_code == 200


def test_an_expired_form_gets_a_plain_explanation(db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("members:login"), {"handle": "x", "password": "y"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This form has expired" in body and "Nothing was saved." in body
