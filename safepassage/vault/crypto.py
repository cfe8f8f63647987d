"""Every cryptographic operation in safepassage, and nothing else.

No other module imports PyNaCl, argon2, PyCryptodome or standardwebhooks.
Function names say who
can decrypt what they produce:

- ``seal_for_compartment`` / ``open_with_compartment_key``: anyone holding the
  compartment's data key (XChaCha20-Poly1305, associated data binds the
  ciphertext to one record, one field, one compartment and one key version).
- ``wrap_key_for_holder`` / ``unwrap_key_as_holder``: the holder of one X25519
  private key (a member, or the organisation's recovery key).
- ``wrap_key_under_parent`` / ``unwrap_key_with_parent``: anyone holding the
  parent compartment's key.
- ``seal_private_key_with_password`` / ``open_private_key_with_password``: the
  person who knows the password (Argon2id, then XSalsa20-Poly1305).
- ``seal_for_session`` / ``open_with_session_key``: the browser holding the
  session cookie, together with the server holding the session row.
- ``seal_for_audit_readers``: the holders of an organisation's audit private key.
- ``split_recovery_key`` / ``combine_recovery_shares``: any k of n coordinators.
- ``seal_for_dispatcher`` / ``open_as_dispatcher``: whoever holds the dispatch
  key (an environment secret, never in the database): the worker, so it can
  send notifications while nobody is logged in.
- ``audit_mac``: whoever holds the dispatch key (anchors the audit chain).
- ``webhook_signature_headers``: the Standard Webhooks signature (HMAC-SHA256
  over the message id, the timestamp and the body), checked by whoever shares
  the member's webhook secret; ``sign_webhook`` / ``webhook_signature_valid``:
  the legacy HMAC over the body alone, sent alongside until version 0.2.
- ``seal_private_key_for_token`` / ``open_private_key_with_token``: whoever
  holds the API token (a messaging bridge); the server keeps only the
  ciphertext and a digest of the token.
- ``seal_note_for_member`` / ``open_note_as_member``: the one member whose
  public key it was sealed to (a token's label, for its owner's own list).
- ``seal_for_link_holder`` / ``open_as_link_holder``: whoever holds a
  traveller link's token (the link's URL); the server keeps only the
  ciphertext and a digest of the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.public
import nacl.pwhash
import nacl.secret
import nacl.utils
from Crypto.Protocol.SecretSharing import Shamir  # nosec B413  # PyCryptodome, not PyCrypto
from standardwebhooks.webhooks import Webhook

KEY_BYTES = 32
SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES
_XNONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
# Sealed text is padded to a multiple of this many bytes so that ciphertext
# length reveals only a coarse size, not the exact length of a name.
PAD_BLOCK = 32

# Blob formats. The first byte says how the rest is to be read.
FORMAT_SEALED = 1
FORMAT_PLAIN_BENCHMARK = 0


class VaultError(Exception):
    """Base class for vault failures."""


class SealBroken(VaultError):
    """A ciphertext failed authentication: it was altered, moved or truncated."""


class WrongPassword(VaultError):
    """The password does not open the member's private key."""


class ArgonTooWeak(VaultError):
    """Argon2id parameters below the floor."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. libsodium fixes parallelism at 1."""

    opslimit: int
    memlimit: int


# OWASP Password Storage Cheat Sheet (Argon2id): m=19 MiB, t=2, p=1 is the
# lowest recommended configuration. Nothing below it is accepted.
ARGON2_FLOOR = KdfParams(opslimit=2, memlimit=19 * 1024 * 1024)


def check_kdf_floor(params: KdfParams) -> None:
    """Raise ArgonTooWeak if ``params`` is below the floor."""
    if params.opslimit < ARGON2_FLOOR.opslimit or params.memlimit < ARGON2_FLOOR.memlimit:
        raise ArgonTooWeak(
            f"Argon2id parameters (opslimit={params.opslimit}, memlimit={params.memlimit}) "
            f"are below the floor (opslimit>={ARGON2_FLOOR.opslimit}, "
            f"memlimit>={ARGON2_FLOOR.memlimit})."
        )


# --- random material -------------------------------------------------------


def new_data_key() -> bytes:
    """A fresh random 256-bit compartment data key."""
    return nacl.utils.random(KEY_BYTES)


def new_salt() -> bytes:
    return nacl.utils.random(SALT_BYTES)


def random_index(n: int) -> int:
    """An unpredictable index in ``range(n)`` (verification phrase words)."""
    return secrets.randbelow(n)


def random_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (invitation links)."""
    return secrets.token_urlsafe(nbytes)


# --- compartment sealing (records) -------------------------------------------


def _pad(data: bytes) -> bytes:
    return bytes(nacl.bindings.sodium_pad(data, PAD_BLOCK))


def _unpad(data: bytes) -> bytes:
    return bytes(nacl.bindings.sodium_unpad(data, PAD_BLOCK))


def seal_for_compartment(key: bytes, plaintext: bytes, aad: bytes, *, version: int) -> bytes:
    """Seal ``plaintext`` so that only holders of ``key`` can open it.

    The blob is ``format(1) | version(4) | nonce(24) | ciphertext``; ``aad``
    must be given again, byte for byte, to open it.
    """
    nonce = nacl.utils.random(_XNONCE_BYTES)
    header = bytes([FORMAT_SEALED]) + version.to_bytes(4, "big")
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        _pad(plaintext), header + aad, nonce, key
    )
    return header + nonce + ct


def blob_version(blob: bytes) -> int:
    """The key version a sealed blob was made with (not authenticated by itself)."""
    if len(blob) < 5 or blob[0] != FORMAT_SEALED:
        raise SealBroken("not a sealed value")
    return int.from_bytes(blob[1:5], "big")


def blob_is_sealed(blob: bytes) -> bool:
    return (
        len(blob) >= 5 + _XNONCE_BYTES + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
        and blob[0] == FORMAT_SEALED
    )


def open_with_compartment_key(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Open a blob made by ``seal_for_compartment``; raise SealBroken if altered."""
    if not blob_is_sealed(blob):
        raise SealBroken("not a sealed value")
    header, nonce, ct = blob[:5], blob[5 : 5 + _XNONCE_BYTES], blob[5 + _XNONCE_BYTES :]
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, header + aad, nonce, key
        )
        return _unpad(padded)
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise SealBroken("sealed value failed authentication") from exc


def plain_benchmark_blob(plaintext: bytes) -> bytes:
    """The unsealed storage format, used only by the sealing-off benchmark."""
    return bytes([FORMAT_PLAIN_BENCHMARK]) + plaintext


def open_plain_benchmark_blob(blob: bytes) -> bytes:
    if not blob or blob[0] != FORMAT_PLAIN_BENCHMARK:
        raise SealBroken("not a benchmark plaintext value")
    return blob[1:]


# --- member key pairs and passwords ------------------------------------------


def _password_key(password: str, salt: bytes, params: KdfParams) -> bytes:
    check_kdf_floor(params)
    return nacl.pwhash.argon2id.kdf(
        KEY_BYTES,
        password.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


@dataclass(frozen=True)
class SealedKeyPair:
    public_key: bytes
    sealed_private_key: bytes
    salt: bytes
    params: KdfParams


def new_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as (public, private) raw bytes."""
    sk = nacl.public.PrivateKey.generate()
    return bytes(sk.public_key), bytes(sk)


def keypair_from_private(private_key: bytes) -> tuple[bytes, bytes]:
    """(public, private) for an existing X25519 private key."""
    sk = nacl.public.PrivateKey(private_key)
    return bytes(sk.public_key), bytes(sk)


def seal_private_key_with_password(
    private_key: bytes, password: str, params: KdfParams, *, salt: bytes | None = None
) -> tuple[bytes, bytes]:
    """Seal ``private_key`` under an Argon2id key from ``password``: (sealed, salt)."""
    salt = salt or new_salt()
    box = nacl.secret.SecretBox(_password_key(password, salt, params))
    return bytes(box.encrypt(private_key)), salt


def new_member_keypair(password: str, params: KdfParams) -> SealedKeyPair:
    """A member's X25519 key pair with the private half sealed under their password."""
    public_key, private_key = new_keypair()
    sealed, salt = seal_private_key_with_password(private_key, password, params)
    return SealedKeyPair(public_key, sealed, salt, params)


def unopenable_sealed_private_key() -> tuple[bytes, bytes]:
    """(sealed, salt) shaped like a password-sealed private key that no
    password opens: random bytes of the same length, with no key derivation
    (the other members of the organisation a duress password opens, who
    never log in). Opening it fails as a wrong password does."""
    sealed_length = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + 32
    return nacl.utils.random(sealed_length), new_salt()


def open_private_key_with_password(
    sealed_private_key: bytes, password: str, salt: bytes, params: KdfParams
) -> bytes:
    """The member's private key, or WrongPassword. Touches nothing else."""
    box = nacl.secret.SecretBox(_password_key(password, salt, params))
    try:
        return bytes(box.decrypt(sealed_private_key))
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassword("password does not open this key") from exc


# --- key wrapping ----------------------------------------------------------------


def wrap_key_for_holder(public_key: bytes, data_key: bytes) -> bytes:
    """Wrap ``data_key`` so only the holder of ``public_key``'s private half opens it."""
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public_key)).encrypt(data_key))


def unwrap_key_as_holder(private_key: bytes, wrapped: bytes) -> bytes:
    try:
        return bytes(nacl.public.SealedBox(nacl.public.PrivateKey(private_key)).decrypt(wrapped))
    except nacl.exceptions.CryptoError as exc:
        raise SealBroken("wrapped key failed authentication") from exc


def wrap_key_under_parent(parent_key: bytes, child_key: bytes, aad: bytes) -> bytes:
    """Wrap ``child_key`` for holders of the parent compartment's key."""
    nonce = nacl.utils.random(_XNONCE_BYTES)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(child_key, aad, nonce, parent_key)
    return nonce + ct


def unwrap_key_with_parent(parent_key: bytes, wrapped: bytes, aad: bytes) -> bytes:
    nonce, ct = wrapped[:_XNONCE_BYTES], wrapped[_XNONCE_BYTES:]
    try:
        return bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, aad, nonce, parent_key)
        )
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise SealBroken("wrapped key failed authentication") from exc


def seal_for_audit_readers(public_key: bytes, plaintext: bytes) -> bytes:
    """Anyone may write; only the holders of the audit private key can read."""
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public_key)).encrypt(plaintext))


def open_as_audit_reader(private_key: bytes, blob: bytes) -> bytes:
    try:
        return bytes(nacl.public.SealedBox(nacl.public.PrivateKey(private_key)).decrypt(blob))
    except nacl.exceptions.CryptoError as exc:
        raise SealBroken("audit entry failed authentication") from exc


# --- session -------------------------------------------------------------------


def new_session_key() -> bytes:
    return nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)


def seal_for_session(session_key: bytes, data: bytes) -> bytes:
    """Seal ``data`` for the session: the key lives only in the browser's cookie."""
    return bytes(nacl.secret.SecretBox(session_key).encrypt(data))


def open_with_session_key(session_key: bytes, blob: bytes) -> bytes:
    try:
        return bytes(nacl.secret.SecretBox(session_key).decrypt(blob))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise SealBroken("session key material failed authentication") from exc


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SealBroken("malformed key") from exc
    if len(key) != KEY_BYTES:
        raise SealBroken("malformed key")
    return key


# --- hashing ---------------------------------------------------------------------


def chain_hash(previous: bytes, entry: bytes) -> bytes:
    """Link one audit entry to the one before it (BLAKE2b-256 over ciphertext)."""
    return nacl.hash.blake2b(
        len(previous).to_bytes(4, "big") + previous + entry,
        digest_size=32,
        encoder=nacl.encoding.RawEncoder,
    )


def audit_mac(dispatch_key: bytes, message: bytes) -> bytes:
    """A MAC over an audit chain position (keyed BLAKE2b-256).

    Who can produce or check it: whoever holds the dispatch key (the server's
    environment, never the database), so rows written or rewritten with
    database access alone do not carry a valid one. The MAC key is derived
    from the dispatch key under its own personalisation, so it is never the
    key the dispatcher seals with.
    """
    mac_key = nacl.hash.blake2b(
        b"",
        key=dispatch_key,
        digest_size=32,
        person=b"sp-audit-key",
        encoder=nacl.encoding.RawEncoder,
    )
    return nacl.hash.blake2b(
        message,
        key=mac_key,
        digest_size=32,
        person=b"sp-audit-mac",
        encoder=nacl.encoding.RawEncoder,
    )


def token_digest(token: str) -> str:
    """A lookup digest for a bearer token; the token itself is never stored."""
    return nacl.hash.blake2b(
        token.encode("utf-8"), digest_size=32, person=b"sp-token", encoder=nacl.encoding.HexEncoder
    ).decode("ascii")


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def fingerprint(public_key: bytes) -> str:
    """A short human-comparable fingerprint of a public key (for approving members)."""
    digest = nacl.hash.blake2b(
        public_key, digest_size=10, person=b"sp-fingerp", encoder=nacl.encoding.RawEncoder
    )
    hexed = digest.hex().upper()
    return " ".join(hexed[i : i + 4] for i in range(0, len(hexed), 4))


# --- organisation recovery (Shamir k-of-n) ------------------------------------------


def split_recovery_key(secret: bytes, threshold: int, holders: int) -> list[str]:
    """Split a 32-byte secret into ``holders`` shares, any ``threshold`` of which recover it.

    PyCryptodome's Shamir works on 16-byte secrets, so each half is split
    separately with the same indices; a share carries both halves.
    """
    if len(secret) != KEY_BYTES:
        raise VaultError("recovery secret must be 32 bytes")
    if not 1 <= threshold <= holders:
        raise VaultError("threshold must be between 1 and the number of holders")
    if threshold == 1:
        # Shamir with k=1 is the secret itself; refuse rather than pretend.
        raise VaultError("recovery needs at least two holders to agree")
    first = Shamir.split(threshold, holders, secret[:16])
    second = Shamir.split(threshold, holders, secret[16:])
    shares = []
    for (idx_a, share_a), (idx_b, share_b) in zip(first, second, strict=True):
        assert idx_a == idx_b  # noqa: S101 - PyCryptodome numbers shares 1..n in order
        shares.append(f"{idx_a}-{(share_a + share_b).hex()}")
    return shares


def combine_recovery_shares(shares: list[str]) -> bytes:
    """Recombine shares made by ``split_recovery_key`` (exactly ``threshold`` of them)."""
    first, second = [], []
    try:
        for share in shares:
            idx_text, hexed = share.strip().split("-", 1)
            raw = bytes.fromhex(hexed)
            if len(raw) != 32:
                raise ValueError
            first.append((int(idx_text), raw[:16]))
            second.append((int(idx_text), raw[16:]))
    except ValueError as exc:
        raise VaultError("a recovery share is malformed") from exc
    if len({idx for idx, _share in first}) != len(first):
        raise VaultError("the same recovery share was given twice")
    try:
        return Shamir.combine(first) + Shamir.combine(second)
    except ValueError as exc:
        raise VaultError("the recovery shares do not fit together") from exc


# --- notification dispatch (the worker, while nobody is logged in) ---------------------


def dispatch_key_from_hex(text: str) -> bytes:
    """The dispatch key from its configured form (64 hex characters = 32 bytes)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise VaultError("the dispatch key must be 64 hexadecimal characters") from exc
    if len(key) != KEY_BYTES:
        raise VaultError("the dispatch key must be 64 hexadecimal characters")
    return key


def seal_for_dispatcher(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Seal a notification address so only holders of the dispatch key open it.

    Same construction as ``seal_for_compartment`` (XChaCha20-Poly1305, padded,
    ``aad`` binding the value to one row and field), with version 0.
    """
    return seal_for_compartment(key, plaintext, aad, version=0)


def open_as_dispatcher(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Open a blob made by ``seal_for_dispatcher``; raise SealBroken if altered."""
    return open_with_compartment_key(key, blob, aad)


WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
WEBHOOK_KEY_MIN_BYTES = 24
WEBHOOK_KEY_MAX_BYTES = 64


def new_webhook_secret() -> str:
    """A fresh shared secret for signing one member's webhook calls, in the
    Standard Webhooks form: ``whsec_`` and the base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def webhook_secret_well_formed(secret: str) -> bool:
    """Whether ``secret`` is ``whsec_`` and the base64 of 24 to 64 bytes."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except ValueError:
        return False
    return WEBHOOK_KEY_MIN_BYTES <= len(key) <= WEBHOOK_KEY_MAX_BYTES


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a webhook secret: the decoded bytes of a ``whsec_``
    secret, and for a secret stored before secrets took that form (any string
    of 16 characters or more) its UTF-8 bytes, so the legacy signature of an
    existing secret is unchanged and its Standard Webhooks form is
    ``whsec_`` + base64(secret)."""
    if webhook_secret_well_formed(secret):
        return base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :])
    return secret.encode("utf-8")


def webhook_signature_headers(
    secret: str, *, message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """The Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``: ``v1,`` base64 HMAC-SHA256 over ``id.timestamp.body``),
    signed by the ``standardwebhooks`` library with ``webhook_key(secret)``."""
    signature = Webhook(webhook_key(secret)).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def sign_webhook(secret: str, body: bytes) -> str:
    """The legacy ``X-Safepassage-Signature`` value, ``sha256=<hex HMAC-SHA256(body)>``
    under ``webhook_key(secret)``. Body only, no timestamp, so it does not stop a
    replay: sent alongside the Standard Webhooks headers until version 0.2."""
    digest = hmac.new(webhook_key(secret), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_valid(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the legacy signature of exactly ``body`` under ``secret``."""
    return hmac.compare_digest(sign_webhook(secret, body).encode("ascii"), header.encode("utf-8"))


# --- API tokens (a bridge acting with one member's keys) ------------------------------


def _token_key(token: str) -> bytes:
    """The key a token opens: BLAKE2b-256 of the token under its own personalisation
    (distinct from ``token_digest``, so the stored digest says nothing about the key).
    The token is 256 random bits, so no password KDF is needed."""
    return nacl.hash.blake2b(
        token.encode("utf-8"),
        digest_size=KEY_BYTES,
        person=b"sp-token-key",
        encoder=nacl.encoding.RawEncoder,
    )


def seal_private_key_for_token(private_key: bytes, token: str, aad: bytes) -> bytes:
    """Seal a member's private key so that only the holder of ``token`` opens it.

    Who can decrypt: whoever presents the token (the bridge it was given to),
    for the duration of one request. The server stores this blob and
    ``token_digest(token)``, never the token, so neither a database dump nor
    the server at rest opens it. ``aad`` binds the blob to one token row (its
    id, member and cell): moved to another row it fails to open.
    Blob: ``nonce(24) | XChaCha20-Poly1305 ciphertext``.
    """
    nonce = nacl.utils.random(_XNONCE_BYTES)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        private_key, aad, nonce, _token_key(token)
    )
    return nonce + ct


def open_private_key_with_token(blob: bytes, token: str, aad: bytes) -> bytes:
    """The private key sealed by ``seal_private_key_for_token``; SealBroken if the
    token, the row it is bound to or the blob differs."""
    nonce, ct = blob[:_XNONCE_BYTES], blob[_XNONCE_BYTES:]
    try:
        return bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ct, aad, nonce, _token_key(token)
            )
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise SealBroken("token-sealed key failed authentication") from exc


def seal_note_for_member(public_key: bytes, text: str) -> bytes:
    """Seal a short text to one member's public key (anonymous sealed box, padded
    to a multiple of ``PAD_BLOCK`` so its length says little).

    Who can decrypt: only the holder of that member's private key (the member
    while logged in). Nobody else, coordinators included.
    """
    sealed = nacl.public.SealedBox(nacl.public.PublicKey(public_key))
    return bytes(sealed.encrypt(_pad(text.encode("utf-8"))))


def open_note_as_member(private_key: bytes, blob: bytes) -> str:
    """Open a text sealed by ``seal_note_for_member``; SealBroken if altered."""
    try:
        padded = nacl.public.SealedBox(nacl.public.PrivateKey(private_key)).decrypt(blob)
        return _unpad(bytes(padded)).decode("utf-8")
    except (nacl.exceptions.CryptoError, ValueError, UnicodeDecodeError) as exc:
        raise SealBroken("sealed note failed authentication") from exc


# --- traveller links (a traveller with no account) --------------------------------------


def _link_key(token: str) -> bytes:
    """The key a traveller link's token opens: BLAKE2b-256 of the token under its
    own personalisation (distinct from ``token_digest`` and from an API token's
    key, so the stored digest says nothing about the key). The token is 256
    random bits, so no password KDF is needed."""
    return nacl.hash.blake2b(
        token.encode("utf-8"),
        digest_size=KEY_BYTES,
        person=b"sp-link-key",
        encoder=nacl.encoding.RawEncoder,
    )


def seal_for_link_holder(token: str, plaintext: bytes, aad: bytes) -> bytes:
    """Seal ``plaintext`` so that only the holder of a traveller link's ``token``
    opens it (XChaCha20-Poly1305, padded to a multiple of ``PAD_BLOCK``).

    Who can decrypt: whoever presents the token, which travels only in the
    link's URL. The server stores this blob and ``token_digest(token)``, never
    the token, so a database dump alone opens nothing. ``aad`` binds the blob
    to one link row: moved to another row it fails to open.
    Blob: ``nonce(24) | ciphertext``.
    """
    nonce = nacl.utils.random(_XNONCE_BYTES)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        _pad(plaintext), aad, nonce, _link_key(token)
    )
    return nonce + ct


def open_as_link_holder(token: str, blob: bytes, aad: bytes) -> bytes:
    """The plaintext sealed by ``seal_for_link_holder``; SealBroken if the token,
    the row it is bound to or the blob differs."""
    nonce, ct = blob[:_XNONCE_BYTES], blob[_XNONCE_BYTES:]
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, aad, nonce, _link_key(token)
        )
        return _unpad(bytes(padded))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise SealBroken("link-sealed value failed authentication") from exc
