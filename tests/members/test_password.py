"""Changing one's own password."""

from __future__ import annotations

from django.urls import reverse

from safepassage.members.models import Member
from safepassage.members.services import unlock_private_key
from safepassage.vault import crypto
from tests.factories import PASSWORD

URL = reverse("members:password")
NEW = "temple bicycle harbour noodle"


def test_needs_a_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("members:login"))


def test_wrong_current_password_changes_nothing(client, world, login):
    login(world.coord)
    response = client.post(
        URL, {"current_password": "wrong wrong wrong", "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 200
    assert "The current password is not correct." in response.content.decode()
    member = Member.objects.get(pk=world.coord.pk)
    assert unlock_private_key(member, PASSWORD)


def test_mismatch_and_weak_passwords_are_refused(client, world, login):
    login(world.coord)
    response = client.post(
        URL, {"current_password": PASSWORD, "new_password1": NEW, "new_password2": NEW + "x"}
    )
    assert "The two passwords are not the same." in response.content.decode()
    response = client.post(
        URL, {"current_password": PASSWORD, "new_password1": "short", "new_password2": "short"}
    )
    assert "This password is too short." in response.content.decode()
    assert unlock_private_key(Member.objects.get(pk=world.coord.pk), PASSWORD)


def test_change_password_keeps_the_session_and_the_keys(client, world, login):
    login(world.coord)
    response = client.post(
        URL, {"current_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 302
    # Still logged in, and the keys still open the records.
    assert "Camellia" in client.get(reverse("cases:list")).content.decode()
    member = Member.objects.get(pk=world.coord.pk)
    assert unlock_private_key(member, NEW)
    try:
        unlock_private_key(member, PASSWORD)
    except crypto.WrongPassword:
        pass
    else:
        raise AssertionError("the old password still opens the key")
    client.post(reverse("members:logout"))
    response = client.post(reverse("members:login"), {"handle": member.handle, "password": NEW})
    assert response.status_code == 302
