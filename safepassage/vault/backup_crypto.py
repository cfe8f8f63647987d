"""Encryption of backup files with age (through pyrage), to a recipient key kept offline.

age (https://age-encryption.org/v1) is a small, well-specified file
encryption format: X25519 to the recipient's public key, then
ChaCha20-Poly1305 over 64 KiB chunks (STREAM). Every chunk is authenticated
and the last one is marked, so a flipped, missing or appended byte anywhere
makes decryption fail. The server holds only the public key
(``SAFEPASSAGE_BACKUP_RECIPIENT``); the identity (secret key) lives offline
and is handed to ``safepassage restore`` only when restoring.

Both directions stream: ``encrypt`` reads its plaintext from a file-like
object and ``decrypt`` writes to one, so a large database never sits in
memory. The rest of the backup code never touches cryptography.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import BinaryIO

import pyrage
from pyrage import x25519

from .crypto import VaultError


class BackupKeyError(VaultError):
    """A recipient or identity that is not a usable age X25519 key."""


class BackupDamaged(VaultError):
    """The file does not decrypt: damaged, truncated, or made for another key."""


def parse_recipient(text: str) -> x25519.Recipient:
    """An age public key (``age1...``), or BackupKeyError."""
    text = (text or "").strip()
    if not text.startswith("age1"):
        raise BackupKeyError(
            "the backup recipient must be an age public key (age1...); "
            "see docs/BACKUPS.md to make one"
        )
    try:
        return x25519.Recipient.from_str(text)
    except pyrage.RecipientError as exc:
        raise BackupKeyError(
            f"the backup recipient is not a valid age public key ({exc})"
        ) from None


def read_identities(path: Path) -> list[x25519.Identity]:
    """The age identities (``AGE-SECRET-KEY-1...``) in an identity file, as
    ``age-keygen`` writes it (``#`` comment lines are skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupKeyError(f"cannot read the identity file {path}: {exc}") from None
    identities = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            # Never echo the line: it may be a secret key with a typo in it.
            raise BackupKeyError(
                f"{path} holds a line that is not an age identity (AGE-SECRET-KEY-1...)"
            ) from None
    if not identities:
        raise BackupKeyError(f"{path} holds no age identity (AGE-SECRET-KEY-1...)")
    return identities


def new_identity_file_text(*, now: datetime.datetime) -> tuple[str, str]:
    """A fresh identity as ``age-keygen`` would write it, and its public key."""
    identity = x25519.Identity.generate()
    public = str(identity.to_public())
    text = f"# created: {now.isoformat(timespec='seconds')}\n# public key: {public}\n{identity}\n"
    return text, public


def encrypt(reader: BinaryIO, writer: BinaryIO, recipient: x25519.Recipient) -> None:
    """Stream ``reader``'s bytes, encrypted to ``recipient``, into ``writer``."""
    pyrage.encrypt_io(reader, writer, [recipient])


def decrypt(reader: BinaryIO, writer: BinaryIO, identities: list[x25519.Identity]) -> None:
    """Stream the decryption of ``reader`` into ``writer``; BackupDamaged if it fails.

    Chunks are written only once authenticated, but a chunk damaged further
    on fails only when reached: callers that act on the plaintext decrypt
    once to verify before they act. Exceptions raised by ``writer`` pass
    through unchanged.
    """
    try:
        pyrage.decrypt_io(reader, writer, identities)
    except (pyrage.DecryptError, OSError) as exc:
        raise BackupDamaged(str(exc) or type(exc).__name__) from None
