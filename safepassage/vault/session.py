"""Key material in the session: ciphertext on the server, its key in the cookie.

At login the member's private key is sealed under a fresh random session key.
The ciphertext goes into the server-side session row; the session key goes
only into the ``VAULT_COOKIE_NAME`` cookie. A database dump has the ciphertext
without its key; a stolen cookie has the key without the row (and the row
expires with the session).
"""

from __future__ import annotations

import base64
import uuid

from django.conf import settings
from django.http import HttpRequest

from . import crypto
from .keyring import Keyring

SESSION_BLOB = "_vault_key"
SESSION_MEMBER = "_vault_member"
DELETE = object()


def seal_session_material(private_key: bytes) -> tuple[str, str]:
    """(value for the session row, value for the cookie): neither opens alone."""
    session_key = crypto.new_session_key()
    blob = base64.b64encode(crypto.seal_for_session(session_key, private_key)).decode("ascii")
    return blob, crypto.encode_key(session_key)


def open_session(request: HttpRequest, *, member_id: uuid.UUID, private_key: bytes) -> Keyring:
    """Store the member's private key for this session and return their keyring.

    Call after ``django.contrib.auth.login`` (which rotates the session id).
    """
    blob, cookie = seal_session_material(private_key)
    request.session[SESSION_BLOB] = blob
    request.session[SESSION_MEMBER] = str(member_id)
    request._vault_cookie = cookie  # type: ignore[attr-defined]
    keyring = Keyring(member_id=member_id, member_private_key=private_key)
    request.keyring = keyring  # type: ignore[attr-defined]
    return keyring


def close_session(request: HttpRequest) -> None:
    """Forget the key material: the session row and the cookie both go."""
    request.session.pop(SESSION_BLOB, None)
    request.session.pop(SESSION_MEMBER, None)
    request._vault_cookie = DELETE  # type: ignore[attr-defined]


def keyring_from_request(request: HttpRequest) -> Keyring | None:
    """The keyring of the logged-in member, or None if the key material is gone."""
    blob = request.session.get(SESSION_BLOB)
    member = request.session.get(SESSION_MEMBER)
    cookie = request.COOKIES.get(settings.VAULT_COOKIE_NAME)
    if not blob or not member or not cookie:
        return None
    if str(request.user.pk) != member:
        return None
    try:
        private_key = crypto.open_with_session_key(
            crypto.decode_key(cookie), base64.b64decode(blob)
        )
    except (crypto.SealBroken, ValueError):
        return None
    return Keyring(member_id=request.user.pk, member_private_key=private_key)


def apply_cookie(request: HttpRequest, response) -> None:
    cookie = getattr(request, "_vault_cookie", None)
    if cookie is DELETE:
        response.delete_cookie(settings.VAULT_COOKIE_NAME, samesite="Strict")
    elif cookie:
        response.set_cookie(
            settings.VAULT_COOKIE_NAME,
            cookie,
            max_age=None,  # a browser-session cookie: gone when the browser closes
            httponly=True,
            secure=getattr(settings, "VAULT_COOKIE_SECURE", False),
            samesite="Strict",
        )
