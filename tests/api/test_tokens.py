"""Cell tokens: issued by a cell member for themselves, listed, revoked; what the
database keeps of them; and when a token stops working (401)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from safepassage.api.models import CellToken
from safepassage.cells.models import Cell, CellStatus
from safepassage.cells.services import do_remove_member_from_cell
from safepassage.members.services import do_change_password, do_remove_member
from safepassage.vault import crypto
from safepassage.vault.keyring import unlocked

from ..conftest import vault_login
from ..factories import PASSWORD, OrganisationFactory
from .helpers import (
    NOT_FOUND,
    audit_entries,
    bearer,
    cases_url,
    issue_token,
    legs_url,
    revoke_url,
    tokens_url,
)

pytestmark = pytest.mark.django_db

INVALID = {"detail": "This token is not valid: it is unknown, expired or revoked."}


@pytest.fixture
def bridge() -> Client:
    """A client with no cookies at all: what a messaging bridge is."""
    return Client()


def _issue(client, cell, **extra):
    return client.post(
        tokens_url(), {"cell": str(cell.pk), "label": "Signal bridge", **extra}, "application/json"
    )


# --- issuing, listing, revoking ------------------------------------------------------------


def test_cell_member_issues_a_token_shown_once(client, world, login):
    member, ring = world.member(0)
    login(member, ring)

    response = _issue(client, world.cells[0])

    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert token.startswith("spc_") and len(token) >= 40
    assert body["cell"] == str(world.cells[0].pk)
    assert body["label"] == "Signal bridge"
    assert body["state"] == "active"
    assert body["last_used_at"] is None and body["revoked_at"] is None
    row = CellToken.objects.get(pk=body["id"])
    assert row.member == member and row.cell == world.cells[0]
    assert row.organisation_id == world.org.pk
    lifetime = row.expires_at - row.created_at
    assert timedelta(days=89, hours=23) < lifetime <= timedelta(days=90)
    assert "no-store" in response["Cache-Control"]
    # Listed afterwards: the label opens for its member, the token is never shown again.
    listed = client.get(tokens_url()).json()
    assert [row["id"] for row in listed] == [body["id"]]
    assert listed[0]["label"] == "Signal bridge"
    assert "token" not in listed[0]
    assert token not in client.get(tokens_url()).content.decode()
    # And it works.
    assert Client().get(legs_url(), headers=bearer(token)).status_code == 200
    (entry,) = audit_entries(world, "api_token.issue")
    assert entry["actor"] == str(member.pk) and entry["target_id"] == body["id"]
    assert entry["detail"]["cell"] == str(world.cells[0].pk)


def test_a_shorter_lifetime_can_be_asked_for(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    response = _issue(client, world.cells[0], expires_in_days=7)
    row = CellToken.objects.get(pk=response.json()["id"])
    assert timedelta(days=6, hours=23) < row.expires_at - row.created_at <= timedelta(days=7)


def test_the_database_holds_neither_the_token_nor_the_private_key(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    token = _issue(client, world.cells[0]).json()["token"]
    row = CellToken.objects.get(member=member)
    private_key = ring.member_private_key
    assert private_key

    # Only the digest of the token is kept.
    assert row.token_digest == crypto.token_digest(token)
    # Every stored byte of the row, as the database has it.
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(CellToken._meta.db_table)
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [row.pk.hex])  # noqa: S608
        raw_row = cursor.fetchone()
    assert raw_row is not None
    stored = b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for value in raw_row
    )
    assert token.encode() not in stored
    assert crypto.encode_key(private_key).encode() not in stored
    assert private_key not in stored
    assert b"Signal bridge" not in stored
    # The blob is the private key sealed under the token, bound to this row.
    sealed = bytes(row.sealed_private_key)
    assert crypto.open_private_key_with_token(sealed, token, row.aad) == private_key
    with pytest.raises(crypto.SealBroken):
        crypto.open_private_key_with_token(sealed, token + "x", row.aad)
    with pytest.raises(crypto.SealBroken):
        crypto.open_private_key_with_token(sealed, token, row.aad.replace(b"|", b"/"))
    # The label opens only with the member's own private key.
    assert crypto.open_note_as_member(private_key, bytes(row.sealed_label)) == "Signal bridge"
    with pytest.raises(crypto.SealBroken):
        crypto.open_note_as_member(world.coord_keyring.member_private_key, bytes(row.sealed_label))


def test_issue_refusals(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    cases = [
        ({"cell": str(world.cells[1].pk)}, "That is not one of your cells."),
        ({"cell": str(uuid.uuid4())}, "That is not one of your cells."),
        ({"label": "   "}, "label: This field may not be blank."),
        ({"expires_in_days": 0}, "expires_in_days: "),
        ({"expires_in_days": 91}, "expires_in_days: "),
        ({"cell": "not-a-cell"}, "cell: "),
    ]
    for override, message in cases:
        body = {"cell": str(world.cells[0].pk), "label": "x", **override}
        response = client.post(tokens_url(), body, "application/json")
        assert response.status_code == 400, (override, response.content)
        assert response.json()["detail"].startswith(message), (override, response.json())
    missing = client.post(tokens_url(), {"cell": str(world.cells[0].pk)}, "application/json")
    assert missing.status_code == 400
    assert missing.json()["detail"] == "label: This field is required."
    assert missing.json()["fields"] == {"label": ["This field is required."]}
    assert not CellToken.objects.exists()


def test_a_retired_cell_gets_no_token(client, world, login):
    member, ring = world.member(0)
    Cell.objects.filter(pk=world.cells[0].pk).update(status=CellStatus.RETIRED)
    login(member, ring)
    assert _issue(client, world.cells[0]).status_code == 400


def test_at_most_ten_tokens_in_use(client, world, login):
    member, ring = world.member(0)
    for n in range(10):
        issue_token(member, ring, world.cells[0], label=f"bridge {n}")
    login(member, ring)
    response = _issue(client, world.cells[0])
    assert response.status_code == 400 and "revoke one" in response.json()["detail"]
    oldest = CellToken.objects.filter(member=member).order_by("created_at").first()
    CellToken.objects.filter(pk=oldest.pk).update(revoked_at=timezone.now())
    assert _issue(client, world.cells[0]).status_code == 201


def test_only_cell_members_in_person_manage_tokens(client, world, login):
    member, ring = world.member(0)
    token, row = issue_token(member, ring, world.cells[0])
    # Anonymous: 401, for a real token and a missing one alike.
    for url in (tokens_url(), revoke_url(row), revoke_url(uuid.uuid4())):
        for verb in ("get", "post"):
            response = getattr(client, verb)(url)
            assert response.status_code == 401, (verb, url)
    # A coordinator (of this organisation or another): 404, as for a missing endpoint.
    login(world.coord, world.coord_keyring)
    assert client.get(tokens_url()).json() == NOT_FOUND
    assert client.post(revoke_url(row)).status_code == 404
    other = OrganisationFactory()
    client.logout()
    vault_login(client, other.founder, other.keyring)
    assert client.get(tokens_url()).status_code == 404
    assert client.post(revoke_url(row)).status_code == 404
    # A member of another cell, and another member of the same cell: not theirs (404).
    for n_cell, n in ((1, 0), (0, 1)):
        someone, someone_ring = world.member(n_cell, n)
        client.logout()
        login(someone, someone_ring)
        assert client.get(tokens_url()).json() == []
        assert client.post(revoke_url(row)).json() == NOT_FOUND
    # The token itself neither lists, issues nor revokes tokens.
    bridge = Client()
    assert bridge.get(tokens_url(), headers=bearer(token)).json() == NOT_FOUND
    assert bridge.post(revoke_url(row), headers=bearer(token)).json() == NOT_FOUND
    issued = bridge.post(
        tokens_url(),
        {"cell": str(world.cells[0].pk), "label": "again"},
        "application/json",
        headers=bearer(token),
    )
    assert issued.status_code == 404
    assert CellToken.objects.count() == 1
    assert CellToken.objects.get().revoked_at is None


def test_revoked_token_gets_401_at_once(client, world, login, bridge):
    member, ring = world.member(0)
    token, row = issue_token(member, ring, world.cells[0])
    assert bridge.get(legs_url(), headers=bearer(token)).status_code == 200
    login(member, ring)

    response = client.post(revoke_url(row))

    assert response.status_code == 200
    assert response.json()["state"] == "revoked" and response.json()["revoked_at"]
    refused = bridge.get(legs_url(), headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json() == INVALID
    assert 'Bearer realm="safepassage"' in refused["WWW-Authenticate"]
    # Revoking again changes nothing and is not recorded twice.
    assert client.post(revoke_url(row)).status_code == 200
    (entry,) = audit_entries(world, "api_token.revoke")
    assert entry["target_id"] == str(row.pk)
    assert client.get(tokens_url()).json()[0]["state"] == "revoked"


def test_expired_token_gets_401(world, bridge):
    member, ring = world.member(0)
    token, row = issue_token(member, ring, world.cells[0])
    CellToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bridge.get(legs_url(), headers=bearer(token))
    assert response.status_code == 401 and response.json() == INVALID


def test_removed_member_token_gets_401(world, bridge):
    member, ring = world.member(0)
    token, _row = issue_token(member, ring, world.cells[0])
    with unlocked(world.coord_keyring):
        do_remove_member(actor=world.coord, member=member)
    response = bridge.get(legs_url(), headers=bearer(token))
    assert response.status_code == 401 and response.json() == INVALID


def test_member_who_left_the_cell_or_a_compromised_cell_gets_401(world, bridge):
    member, ring = world.member(0)
    other, other_ring = world.member(0, 1)
    token, _row = issue_token(member, ring, world.cells[0])
    other_token, _other_row = issue_token(other, other_ring, world.cells[0])
    with unlocked(world.coord_keyring):
        do_remove_member_from_cell(actor=world.coord, member=member, cell=world.cells[0])
    assert bridge.get(legs_url(), headers=bearer(token)).status_code == 401
    assert bridge.get(legs_url(), headers=bearer(other_token)).status_code == 200
    Cell.objects.filter(pk=world.cells[0].pk).update(status=CellStatus.COMPROMISED)
    assert bridge.get(legs_url(), headers=bearer(other_token)).status_code == 401


def test_unknown_malformed_and_tampered_tokens_get_401(world, bridge):
    member, ring = world.member(0)
    token, row = issue_token(member, ring, world.cells[0])
    for header in (
        "Bearer spc_" + "A" * 43,
        "Bearer " + token[:-1],
        "Bearer",
        f"Bearer {token} extra",
        "Bearer " + "x" * 500,
    ):
        response = bridge.get(legs_url(), headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json() == INVALID, header
    # The sealed key altered in the database: the token no longer opens anything.
    blob = bytearray(bytes(row.sealed_private_key))
    blob[-1] ^= 1
    CellToken.objects.filter(pk=row.pk).update(sealed_private_key=bytes(blob))
    assert bridge.get(legs_url(), headers=bearer(token)).status_code == 401


def test_a_token_row_moved_to_another_member_opens_nothing(world, bridge):
    member, ring = world.member(0)
    other, _other_ring = world.member(0, 1)
    token, row = issue_token(member, ring, world.cells[0])
    CellToken.objects.filter(pk=row.pk).update(member=other)
    assert bridge.get(legs_url(), headers=bearer(token)).status_code == 401


def test_a_password_change_keeps_the_token_working(world, bridge):
    """The key pair stays the same; the member revokes tokens themselves."""
    member, ring = world.member(0)
    token, _row = issue_token(member, ring, world.cells[0])
    with unlocked(ring):
        do_change_password(actor=member, current_password=PASSWORD, new_password="x" * 20)
    assert bridge.get(legs_url(), headers=bearer(token)).status_code == 200


def test_a_bad_bearer_token_is_refused_even_beside_a_session(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    assert client.get(legs_url()).status_code == 200
    response = client.get(legs_url(), headers={"Authorization": "Bearer spc_nothing"})
    assert response.status_code == 401


def test_last_used_is_recorded(world, bridge):
    member, ring = world.member(0)
    token, row = issue_token(member, ring, world.cells[0])
    assert row.last_used_at is None
    bridge.get(legs_url(), headers=bearer(token))
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert timezone.now() - row.last_used_at < timedelta(minutes=1)


def test_anonymous_401_names_both_schemes(client):
    response = client.get(cases_url())
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Session realm="safepassage", Bearer realm="safepassage"'
