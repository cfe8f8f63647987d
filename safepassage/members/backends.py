"""Authentication by handle: the password is proved by opening the member's key.

Every login attempt does the same Argon2id work, whoever it names and
whatever password it carries: exactly two key derivations, one against the
member's sealed private key and one against their decoy's (the account their
duress password opens). An unknown handle, or a member without a duress
password, gets the same derivations against a dummy sealed key. So neither
the answer nor its timing says whether a handle exists, whether its member
set a duress password, or which of the two passwords was typed.

The password is checked by opening the sealed private key (XSalsa20-Poly1305
authenticates it), not by Django's password hash as well: the key is needed
anyway, and a second Argon2id run would only add time. The Django password
hash is still kept (``set_password``) for Django's own session hash.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.contrib.auth.backends import ModelBackend

from safepassage.vault import crypto
from safepassage.vault.checks import kdf_params

from .models import Member, MemberStatus

# Set on the member ``authenticate`` returns, taken off by ``services.log_in``.
UNLOCKED_KEY_ATTRIBUTE = "_sp_unlocked_private_key"


@dataclass(frozen=True)
class _Sealed:
    sealed_private_key: bytes
    salt: bytes
    params: crypto.KdfParams


_dummy_lock = threading.Lock()
_dummies: dict[crypto.KdfParams, _Sealed] = {}


def _dummy() -> _Sealed:
    """A sealed key nobody can open, at the current cost (made once per process)."""
    params = kdf_params()
    with _dummy_lock:
        if params not in _dummies:
            _public, private_key = crypto.new_keypair()
            sealed, salt = crypto.seal_private_key_with_password(
                private_key, crypto.random_token(), params
            )
            _dummies[params] = _Sealed(sealed, salt, params)
        return _dummies[params]


def _sealed(member: Member | None) -> _Sealed:
    if member is None:
        return _dummy()
    return _Sealed(
        bytes(member.sealed_private_key),
        bytes(member.kdf_salt),
        crypto.KdfParams(opslimit=member.kdf_opslimit, memlimit=member.kdf_memlimit),
    )


def _open(member: Member | None, password: str) -> bytes | None:
    """One Argon2id derivation: the private key ``password`` opens, or None."""
    sealed = _sealed(member)
    try:
        key = crypto.open_private_key_with_password(
            sealed.sealed_private_key, password, sealed.salt, sealed.params
        )
    except crypto.WrongPassword:
        return None
    return key if member is not None else None


class HandleBackend(ModelBackend):
    """Logs a member in with their handle and password, or their decoy with
    their duress password (see the module docstring for the work done)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(Member.USERNAME_FIELD)
        if username is None or password is None:
            return None
        rows = list(Member._default_manager.filter(handle=username))
        member = next((m for m in rows if m.decoy_of_id is None), None)
        decoy = None
        if member is not None:
            decoy = next((m for m in rows if m.decoy_of_id == member.pk and m.is_active), None)
        # Both derivations always run, in this order, before anything is decided.
        member_key = _open(member, password)
        decoy_key = _open(decoy, password)
        if member is None or not self.user_can_authenticate(member):
            return None
        if member_key is not None:
            chosen, key = member, member_key
        elif decoy is not None and decoy_key is not None and self.user_can_authenticate(decoy):
            chosen, key = decoy, decoy_key
        else:
            return None
        setattr(chosen, UNLOCKED_KEY_ATTRIBUTE, key)
        return chosen

    def user_can_authenticate(self, user) -> bool:
        return bool(getattr(user, "is_active", False)) and user.status != MemberStatus.REMOVED

    def get_user(self, user_id):
        try:
            member = Member._default_manager.get(pk=user_id)
        except Member.DoesNotExist:
            return None
        return member if self.user_can_authenticate(member) else None
