"""Inviting, joining, approving and removing members."""

from __future__ import annotations

import re

from django.urls import reverse

from safepassage.cells.models import CellMembership
from safepassage.journeys.models import Leg
from safepassage.journeys.selectors import legs_for
from safepassage.members.models import Invitation, Member, MemberStatus
from safepassage.members.services import do_accept_invitation, do_invite_member
from safepassage.roles import Role
from safepassage.vault import crypto
from safepassage.vault.keyring import Keyring, unlocked
from tests.dashboard.permissions import assert_matrix
from tests.factories import PASSWORD

NEW_PASSWORD = "lantern orchard ferry kettle"


def _join_path(body: str) -> str:
    match = re.search(r"https?://[^/\s<]+(/members/join/[^/\s<]+/)", body)
    assert match, "no join link on the page"
    return match.group(1)


def test_permission_matrix(client, world):
    with unlocked(world.coord_keyring):
        invitation, _token = do_invite_member(
            actor=world.coord, role=Role.COORDINATOR, display_name="Invited Person"
        )
    target = world.member(1)[0]
    assert_matrix(
        client,
        world,
        record_urls=[
            reverse("members:approve", args=[target.pk]),
            reverse("members:remove", args=[target.pk]),
            reverse("members:revoke_invitation", args=[invitation.pk]),
        ],
        open_urls=[reverse("members:list"), reverse("members:invite")],
        secrets=["Second Coordinator", "Invited Person", target.handle],
    )
    assert Member.objects.get(pk=target.pk).status == MemberStatus.ACTIVE
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None


def test_invitation_round_trip(client, world, login):
    # A coordinator invites a driver into the Heron cell, which runs leg 1.
    login(world.coord)
    response = client.post(
        reverse("members:invite"),
        {"role": Role.CELL_MEMBER, "display_name": "Driver Kim", "cell": world.cells[0].pk},
    )
    assert response.status_code == 200
    body = response.content.decode()
    join_path = _join_path(body)
    token = join_path.rstrip("/").rsplit("/", 1)[-1]
    assert body.count(token) == 1  # shown exactly once
    assert "no-store" in response["Cache-Control"]
    assert token not in client.get(reverse("members:list")).content.decode()

    # The new member joins through the link and is logged in, awaiting approval.
    client.post(reverse("members:logout"))
    assert client.get(join_path).status_code == 200
    response = client.post(
        join_path,
        {"handle": "driver-kim", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("members:awaiting")
    member = Member.objects.get(handle="driver-kim")
    assert member.status == MemberStatus.AWAITING_APPROVAL
    fingerprint = crypto.fingerprint(bytes(member.public_key))
    assert fingerprint in client.get(reverse("members:awaiting")).content.decode()
    assert client.get(join_path).status_code == 404  # the link worked once

    # The coordinator compares the fingerprint and approves.
    login(world.coord)
    approve = reverse("members:approve", args=[member.pk])
    page = client.get(approve).content.decode()
    assert fingerprint in page and "Driver Kim" in page
    refused = client.post(approve, {})
    assert (
        "Compare the fingerprint with the person before approving them." in refused.content.decode()
    )
    assert Member.objects.get(pk=member.pk).status == MemberStatus.AWAITING_APPROVAL
    response = client.post(approve, {"compared": "on"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert CellMembership.objects.filter(member=member, cell=world.cells[0]).exists()

    # The new driver logs in and can open their leg, and only theirs.
    client.post(reverse("members:logout"))
    response = client.post(
        reverse("members:login"), {"handle": "driver-kim", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    home = client.get(reverse("dashboard:home"))
    assert home["Location"] == reverse("field:my_legs")
    own = client.get(reverse("field:leg", args=[world.legs[0].pk]))
    assert own.status_code == 200
    assert "Yanji to Changchun" in own.content.decode()
    assert client.get(reverse("field:leg", args=[world.legs[1].pk])).status_code == 404
    assert list(legs_for(member)) == [world.legs[0]]
    from safepassage.members.services import unlock_private_key

    ring = Keyring(member_id=member.pk, member_private_key=unlock_private_key(member, NEW_PASSWORD))
    with unlocked(ring):
        assert Leg.objects.get(pk=world.legs[0].pk).route == "Yanji to Changchun"
    assert ring.can_open(world.legs[0].compartment_id)
    assert not ring.can_open(world.legs[1].compartment_id)


def test_invite_form_errors_store_nothing(client, world, login):
    login(world.coord)
    before = Invitation.objects.count()
    response = client.post(
        reverse("members:invite"), {"role": Role.CELL_MEMBER, "display_name": "No Cell"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose the cell this person will join." in body
    assert "/members/join/" not in body
    response = client.post(
        reverse("members:invite"),
        {"role": Role.COORDINATOR, "display_name": "", "cell": world.cells[0].pk},
    )
    body = response.content.decode()
    assert "This field is required." in body
    assert "A coordinator does not join a cell." in body
    assert Invitation.objects.count() == before


def _token(world, role=Role.CELL_MEMBER) -> str:
    with unlocked(world.coord_keyring):
        _inv, token = do_invite_member(
            actor=world.coord,
            role=role,
            cell=world.cells[0] if role == Role.CELL_MEMBER else None,
            display_name="Someone",
        )
    return token


def test_join_form_checks_passwords_and_handles(client, world):
    url = reverse("members:join", args=[_token(world)])
    before = Member.objects.count()
    cases = [
        (
            {"handle": "new-one", "new_password1": NEW_PASSWORD, "new_password2": "different"},
            "The two passwords are not the same.",
        ),
        (
            {"handle": "new-one", "new_password1": "short", "new_password2": "short"},
            "This password is too short.",
        ),
        (
            {"handle": "new-one", "new_password1": "password1234", "new_password2": "password1234"},
            "This password is too common.",
        ),
        (
            {
                "handle": world.coord.handle,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
            "That handle cannot be used.",
        ),
        (
            {"handle": "bad handle!", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            "Enter a valid",
        ),
    ]
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 200, data
        assert message in response.content.decode(), message
    assert Member.objects.count() == before
    assert "_auth_user_id" not in client.session


def test_an_unknown_invitation_link_is_refused(client, db):
    response = client.get(reverse("members:join", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_members_list_shows_names_roles_status_and_who_awaits(client, world, login):
    token = _token(world, role=Role.COORDINATOR)
    waiting, _key = do_accept_invitation(token=token, handle="waiting-coord", password=PASSWORD)
    login(world.coord)
    body = client.get(reverse("members:list")).content.decode()
    assert "Second Coordinator" in body
    assert "Heron" in body  # cell of the cell members
    assert "Waiting for approval" in body
    assert reverse("members:approve", args=[waiting.pk]) in body
    assert "Cell member" in body and "Coordinator" in body


def test_remove_member_after_confirmation(client, world, login):
    target, _ring = world.member(0, 1)
    login(world.coord)
    url = reverse("members:remove", args=[target.pk])
    assert target.handle in client.get(url).content.decode()
    assert Member.objects.get(pk=target.pk).status == MemberStatus.ACTIVE
    response = client.post(url)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.status == MemberStatus.REMOVED
    assert not CellMembership.objects.filter(member=target).exists()
    assert target.handle not in client.get(reverse("members:list")).content.decode()


def test_a_coordinator_cannot_remove_themselves(client, world, login):
    login(world.coord)
    response = client.post(reverse("members:remove", args=[world.coord.pk]))
    assert response.status_code == 200
    assert "You cannot remove yourself." in response.content.decode()
    assert Member.objects.get(pk=world.coord.pk).status == MemberStatus.ACTIVE


def test_revoke_an_invitation(client, world, login):
    token = _token(world)
    invitation = Invitation.objects.get(token_digest=crypto.token_digest(token))
    login(world.coord)
    response = client.post(reverse("members:revoke_invitation", args=[invitation.pk]))
    assert response.status_code == 302
    client.post(reverse("members:logout"))
    assert client.get(reverse("members:join", args=[token])).status_code == 404


def test_a_handle_of_another_organisation_is_refused_as_neutrally_as_our_own(client, world):
    from tests.factories import OrganisationFactory

    elsewhere = OrganisationFactory().founder
    url = reverse("members:join", args=[_token(world)])
    answers = []
    for taken in (world.coord.handle, elsewhere.handle):
        data = {"handle": taken, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        body = client.post(url, data).content.decode()
        assert "taken" not in body
        assert "That handle cannot be used." in body
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
        answers.append(re.sub(r"\(\d+ more tr(y|ies)\)", "", body))
    # Nothing tells the two apart but the count of tries left.
    assert answers[0].replace(world.coord.handle, "H") == answers[1].replace(elsewhere.handle, "H")


def test_the_join_page_stops_after_a_few_refused_handles(client, world):
    from safepassage.members.services import MAX_REFUSED_HANDLES

    token = _token(world)
    url = reverse("members:join", args=[token])
    data = {
        "handle": world.coord.handle,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    for _ in range(MAX_REFUSED_HANDLES - 1):
        assert "That handle cannot be used." in client.post(url, data).content.decode()
    last = client.post(url, data)
    assert "not valid any more" in last.content.decode()
    # Closed for good: even a free handle is refused now, and the page says so.
    data["handle"] = "a-free-handle"
    assert client.post(url, data).status_code == 404
    assert client.get(url).status_code == 404
    assert not Member.objects.filter(handle="a-free-handle").exists()
