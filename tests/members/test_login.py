"""Logging in and out, and what a member awaiting approval can see."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from safepassage.members.models import Member, MemberStatus
from safepassage.members.services import do_accept_invitation, do_invite_member
from safepassage.roles import Role
from safepassage.vault.keyring import unlocked
from tests.factories import PASSWORD

from .support import code_for, device_of, enrol, secret_of

LOGIN = reverse("members:login")
GENERIC_ERROR = "Handle or password is incorrect"


def test_login_page_has_labelled_fields(client, db):
    body = client.get(LOGIN).content.decode()
    assert '<label for="id_handle">' in body
    assert '<label for="id_password">' in body
    assert 'autocomplete="current-password"' in body


def test_login_unlocks_the_members_keys(client, world):
    response = client.post(LOGIN, {"handle": world.coord.handle, "password": PASSWORD})
    assert response.status_code == 302
    # A coordinator gives a code from their authenticator app next.
    assert response["Location"] == reverse("members:second_factor")
    assert response.cookies[settings.VAULT_COOKIE_NAME].value
    enrol(client, world.coord, world.coord_keyring)
    # The sealed records open on the next page.
    body = client.get(reverse("cases:list")).content.decode()
    assert "Camellia" in body


def test_a_cell_member_goes_straight_to_their_legs(client, world):
    driver, _ring = world.member(0)
    response = client.post(LOGIN, {"handle": driver.handle, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:home")
    assert client.get(reverse("dashboard:home"))["Location"] == reverse("field:my_legs")


def test_wrong_password_and_unknown_handle_get_the_same_single_error(client, world):
    wrong = client.post(LOGIN, {"handle": world.coord.handle, "password": "not the password"})
    unknown = client.post(LOGIN, {"handle": "nobody-by-this-name", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 200
        body = response.content.decode()
        assert body.count(GENERIC_ERROR) == 1
        assert "_auth_user_id" not in client.session
    assert client.get(reverse("cases:list")).status_code == 302


def test_login_follows_a_safe_next_and_ignores_an_outside_one(client, world):
    target = reverse("cells:list")
    response = client.post(
        f"{LOGIN}?next={target}", {"handle": world.coord.handle, "password": PASSWORD}
    )
    # The next page is carried through the second factor.
    step = response["Location"]
    assert step == f"{reverse('members:second_factor')}?next=%2Fcells%2F"
    assert client.get(step).status_code == 200  # the set-up page makes the secret
    secret = secret_of(world.coord, world.coord_keyring)
    response = client.post(step, {"code": code_for(secret), "next": target})
    assert response["Location"] == target
    client.post(reverse("members:logout"))
    response = client.post(
        LOGIN,
        {"handle": world.coord.handle, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("members:second_factor")
    device = device_of(world.coord)
    response = client.post(
        reverse("members:second_factor"),
        {"code": code_for(secret, after=device.last_t), "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("dashboard:home")


def test_logout_is_a_post_and_forgets_the_keys(client, world, login):
    login(world.coord)
    page = client.get(reverse("members:logout"))
    assert page.status_code == 200
    assert "_auth_user_id" in client.session  # a GET does not log out
    response = client.post(reverse("members:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert response.cookies[settings.VAULT_COOKIE_NAME].value == ""
    after = client.get(reverse("dashboard:home"))
    assert after.status_code == 302 and after["Location"].startswith(LOGIN)


def _awaiting_member(world) -> Member:
    with unlocked(world.coord_keyring):
        _invitation, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[0], display_name="New"
        )
    member, _key = do_accept_invitation(token=token, handle="waiting-one", password=PASSWORD)
    return member


def test_a_member_awaiting_approval_sees_only_the_awaiting_page(client, world):
    member = _awaiting_member(world)
    response = client.post(LOGIN, {"handle": member.handle, "password": PASSWORD})
    assert response.status_code == 302
    home = client.get(reverse("dashboard:home"))
    assert home["Location"] == reverse("members:awaiting")
    awaiting = client.get(reverse("members:awaiting"))
    assert awaiting.status_code == 200
    assert "waiting for approval" in awaiting.content.decode()
    for url in (
        reverse("cases:list"),
        reverse("cases:detail", args=[world.case.pk]),
        reverse("cells:list"),
        reverse("members:list"),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("members:awaiting")
    assert Member.objects.get(pk=member.pk).status == MemberStatus.AWAITING_APPROVAL


def test_an_approved_member_is_sent_on_from_the_awaiting_page(client, world, login):
    login(world.coord)
    response = client.get(reverse("members:awaiting"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:home")


def test_awaiting_page_needs_a_login(client, db):
    response = client.get(reverse("members:awaiting"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
