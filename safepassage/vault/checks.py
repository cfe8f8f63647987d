"""Start-up refusals: the application does not run with weak key derivation."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import crypto


def kdf_params() -> crypto.KdfParams:
    return crypto.KdfParams(
        opslimit=settings.VAULT_ARGON2_OPSLIMIT, memlimit=settings.VAULT_ARGON2_MEMLIMIT
    )


def enforce_kdf_floor() -> None:
    """Raise ImproperlyConfigured when the Argon2id cost is below the floor."""
    try:
        crypto.check_kdf_floor(kdf_params())
    except crypto.ArgonTooWeak as exc:
        raise ImproperlyConfigured(str(exc)) from exc


enforce_kdf_floor()
