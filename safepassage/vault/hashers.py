"""Password hashing with Argon2id at the vault's configured cost."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class VaultArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (argon2-cffi, Argon2id) at the vault's cost.

    The same floor as key derivation applies (see ``crypto.ARGON2_FLOOR``);
    ``vault.apps`` refuses to start below it.
    """

    algorithm = "argon2"
    parallelism = 1

    def __init__(self) -> None:
        self.time_cost = settings.VAULT_ARGON2_OPSLIMIT
        self.memory_cost = settings.VAULT_ARGON2_MEMLIMIT // 1024  # KiB
