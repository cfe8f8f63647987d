"""No user enumeration: for an unknown handle and a known one, the login and
the invitation pages answer the same, and the login does the same Argon2id
work (counted, not timed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.members import backends
from safepassage.members.models import Invitation, Member, MemberStatus
from safepassage.members.services import do_accept_invitation, do_invite_member
from safepassage.roles import Role
from safepassage.vault import crypto, hashers
from safepassage.vault.keyring import unlocked
from tests.factories import PASSWORD

from .support import DURESS, LOGIN, set_duress, without_csrf

WRONG = "not the password at all"


@pytest.fixture
def argon2_calls(monkeypatch):
    """Counts Argon2id runs: key derivations and Django password-hash checks."""
    backends._dummy()  # made once per process; not part of any one login
    calls = {"kdf": 0, "hasher": 0}
    derive = crypto._password_key

    def counting_derive(*args, **kwargs):
        calls["kdf"] += 1
        return derive(*args, **kwargs)

    monkeypatch.setattr(crypto, "_password_key", counting_derive)
    for name in ("verify", "encode"):
        original = getattr(hashers.VaultArgon2PasswordHasher, name)

        def counting(self, *args, _original=original, **kwargs):
            calls["hasher"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(hashers.VaultArgon2PasswordHasher, name, counting)
    return calls


def _attempt(handle, password, calls, address):
    before = dict(calls)
    response = Client().post(LOGIN, {"handle": handle, "password": password}, REMOTE_ADDR=address)
    return response, {k: calls[k] - before[k] for k in calls}


def test_unknown_and_known_handles_get_the_same_page(world):
    driver, _ring = world.member(0)
    pages = []
    for n, handle in enumerate((driver.handle, "nobody-by-this-name", world.coord.handle)):
        response = Client().post(
            LOGIN, {"handle": handle, "password": WRONG}, REMOTE_ADDR=f"192.0.2.{n + 1}"
        )
        # The form keeps what was typed; nothing else may differ.
        body = without_csrf(response.content.decode())
        assert body.count(f'value="{handle}"') == 1
        pages.append((response.status_code, body.replace(f'value="{handle}"', 'value=""')))
    assert pages[0][0] == 200
    assert pages[0] == pages[1] == pages[2]
    assert "Handle or password is incorrect" in pages[0][1]


def test_every_login_attempt_does_the_same_argon2id_work(world, argon2_calls):
    with_duress, ring = world.member(0)
    set_duress(with_duress, ring)
    without, _ring = world.member(1)
    removed, _ring = world.member(0, 1)
    Member.objects.filter(pk=removed.pk).update(status=MemberStatus.REMOVED, is_active=False)
    cases = {
        "unknown handle": ("nobody-by-this-name", PASSWORD),
        "known, wrong password": (without.handle, WRONG),
        "known, right password": (without.handle, PASSWORD),
        "duress set, wrong password": (with_duress.handle, WRONG),
        "duress set, right password": (with_duress.handle, PASSWORD),
        "duress password": (with_duress.handle, DURESS),
        "removed member": (removed.handle, PASSWORD),
        "coordinator": (world.coord.handle, PASSWORD),
    }
    work = {}
    for n, (name, (handle, password)) in enumerate(cases.items()):
        response, spent = _attempt(handle, password, argon2_calls, f"198.51.100.{n + 1}")
        assert response.status_code in (200, 302), name
        work[name] = spent
    # Two key derivations each (the member's sealed key and their decoy's, or
    # dummies), and no separate password-hash check.
    assert all(spent == {"kdf": 2, "hasher": 0} for spent in work.values()), work


def _used_token(world) -> str:
    with unlocked(world.coord_keyring):
        _inv, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[0], display_name="A"
        )
    do_accept_invitation(token=token, handle="joined-already", password=PASSWORD)
    return token


def _token(world, **changes) -> str:
    with unlocked(world.coord_keyring):
        invitation, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[0], display_name="B"
        )
    Invitation.objects.filter(pk=invitation.pk).update(**changes)
    return token


def test_an_invitation_link_answers_the_same_unknown_used_revoked_or_expired(world):
    tokens = {
        "unknown": crypto.random_token(),
        "used": _used_token(world),
        "revoked": _token(world, revoked_at=timezone.now()),
        "expired": _token(world, expires_at=timezone.now() - timedelta(minutes=1)),
    }
    answers = {}
    for name, token in tokens.items():
        url = reverse("members:join", args=[token])
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            answers[(name, method)] = (
                response.status_code,
                without_csrf(response.content.decode()),
            )
    assert len(set(answers.values())) == 1, answers.keys()
    assert next(iter(answers.values()))[0] == 404
