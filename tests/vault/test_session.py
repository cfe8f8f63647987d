"""Key material in sessions: the row holds ciphertext, the cookie holds its key,
and neither alone opens anything."""

from __future__ import annotations

import base64

import pytest
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.test import RequestFactory

from safepassage.members.services import log_in, log_out
from safepassage.vault import crypto, session
from safepassage.vault.middleware import VaultMiddleware

from ..factories import PASSWORD

SESSION_COOKIE = settings.SESSION_COOKIE_NAME
VAULT_COOKIE = settings.VAULT_COOKIE_NAME


def _encodings(secret: bytes) -> list[bytes]:
    """The forms in which a key could leak into a text column or a cookie."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def _contains_key(haystack: bytes | str, secret: bytes) -> bool:
    data = haystack.encode("latin-1", "replace") if isinstance(haystack, str) else haystack
    return any(form in data for form in _encodings(secret))


def _serve(request, view=None) -> HttpResponse:
    """Run the request through the session, auth and vault middleware."""

    def inner(req):
        return view(req) if view else HttpResponse("ok")

    chain = SessionMiddleware(AuthenticationMiddleware(VaultMiddleware(inner)))
    return chain(request)


def _login(member, password=PASSWORD):
    """POST-like request through ``log_in``; returns (result, request, response)."""
    request = RequestFactory().post("/login/")
    result = {}

    def view(req):
        result["member"] = log_in(req, handle=member.handle, password=password)
        return HttpResponse("done")

    response = _serve(request, view)
    return result["member"], request, response


def _later_request(cookies: dict[str, str]):
    """A later request carrying only the given cookies; returns the keyring it got."""
    request = RequestFactory().get(
        "/", HTTP_COOKIE="; ".join(f"{k}={v}" for k, v in cookies.items())
    )
    seen = {}

    def view(req):
        seen["keyring"] = req.keyring
        seen["user"] = req.user
        return HttpResponse("ok")

    _serve(request, view)
    return seen["keyring"], seen["user"]


def _private_key(member) -> bytes:
    from safepassage.members.services import unlock_private_key

    return unlock_private_key(member, PASSWORD)


# --- a real login -----------------------------------------------------------------------------------


@pytest.fixture
def logged_in(world):
    member, _ring = world.member(0)
    result, request, response = _login(member)
    assert result == member
    return member, request, response


def test_login_leaves_ciphertext_in_the_row_and_the_key_in_the_cookie(logged_in):
    member, _request, response = logged_in
    private_key = _private_key(member)
    session_key = response.cookies[SESSION_COOKIE].value
    vault_cookie = response.cookies[VAULT_COOKIE].value
    row = Session.objects.get(session_key=session_key)

    # The stored session: no private key in any encoding, raw or decoded.
    assert not _contains_key(row.session_data, private_key)
    decoded = row.get_decoded()
    assert set(decoded) >= {session.SESSION_BLOB, session.SESSION_MEMBER}
    for value in decoded.values():
        assert not _contains_key(str(value), private_key)
    blob = base64.b64decode(decoded[session.SESSION_BLOB])
    assert not _contains_key(blob, private_key)

    # The cookie: a key, but not the private key, and not enough by itself.
    assert not _contains_key(vault_cookie, private_key)
    assert crypto.decode_key(vault_cookie) != private_key
    assert crypto.open_with_session_key(crypto.decode_key(vault_cookie), blob) == private_key
    morsel = response.cookies[VAULT_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict"
    assert not morsel["max-age"]  # gone when the browser closes


def test_with_both_the_row_and_the_cookie_the_keys_open(logged_in):
    member, _request, response = logged_in
    keyring, user = _later_request(
        {
            SESSION_COOKIE: response.cookies[SESSION_COOKIE].value,
            VAULT_COOKIE: response.cookies[VAULT_COOKIE].value,
        }
    )
    assert user == member
    assert keyring is not None and keyring.member_private_key == _private_key(member)
    assert keyring.load_everything()


def test_the_session_row_without_the_cookie_opens_nothing_and_ends_the_session(logged_in):
    _member, _request, response = logged_in
    session_key = response.cookies[SESSION_COOKIE].value
    keyring, user = _later_request({SESSION_COOKIE: session_key})
    assert keyring is None
    assert not user.is_authenticated
    # The middleware ended the session rather than leave it half open.
    assert not Session.objects.filter(session_key=session_key).exists()


def test_the_session_row_with_a_forged_cookie_opens_nothing(logged_in):
    _member, _request, response = logged_in
    forged = crypto.encode_key(crypto.new_session_key())
    keyring, user = _later_request(
        {SESSION_COOKIE: response.cookies[SESSION_COOKIE].value, VAULT_COOKIE: forged}
    )
    assert keyring is None and not user.is_authenticated


def test_the_cookie_without_its_session_row_opens_nothing(logged_in, world):
    member, _request, response = logged_in
    vault_cookie = response.cookies[VAULT_COOKIE].value
    # Alone.
    keyring, user = _later_request({VAULT_COOKIE: vault_cookie})
    assert keyring is None and not user.is_authenticated
    # With another session of the same member (a second login): its row holds
    # ciphertext under a different key.
    _result, _req, second = _login(member)
    keyring, _user = _later_request(
        {SESSION_COOKIE: second.cookies[SESSION_COOKIE].value, VAULT_COOKIE: vault_cookie}
    )
    assert keyring is None


def test_a_session_row_of_another_member_does_not_take_this_cookie(logged_in, world):
    _member, _request, response = logged_in
    other, _ring = world.member(1)
    _result, _req, theirs = _login(other)
    keyring, _user = _later_request(
        {
            SESSION_COOKIE: theirs.cookies[SESSION_COOKIE].value,
            VAULT_COOKIE: response.cookies[VAULT_COOKIE].value,
        }
    )
    assert keyring is None


def test_logging_out_forgets_the_key_material(logged_in):
    _member, _request, response = logged_in
    cookies = {
        SESSION_COOKIE: response.cookies[SESSION_COOKIE].value,
        VAULT_COOKIE: response.cookies[VAULT_COOKIE].value,
    }
    request = RequestFactory().post(
        "/logout/", HTTP_COOKIE="; ".join(f"{k}={v}" for k, v in cookies.items())
    )

    def view(req):
        log_out(req)
        return HttpResponse("bye")

    out = _serve(request, view)
    assert out.cookies[VAULT_COOKIE].value == ""  # told to delete it
    assert not Session.objects.filter(session_key=cookies[SESSION_COOKIE]).exists()
    keyring, user = _later_request(cookies)
    assert keyring is None and not user.is_authenticated


# --- refused logins create nothing ---------------------------------------------------------------------


@pytest.mark.parametrize("password", ["wrong password entirely", PASSWORD.upper(), ""])
def test_a_wrong_password_creates_no_key_material(world, password):
    member, _ring = world.member(0)
    sessions_before = Session.objects.count()
    result, request, response = _login(member, password)
    assert result is None
    assert session.SESSION_BLOB not in request.session
    assert getattr(request, "_vault_cookie", None) is None
    assert VAULT_COOKIE not in response.cookies
    assert SESSION_COOKIE not in response.cookies
    assert Session.objects.count() == sessions_before
    assert not request.user.is_authenticated


def test_a_removed_member_gets_no_key_material(world):
    from safepassage.members.services import do_remove_member
    from safepassage.vault.keyring import unlocked

    member, _ring = world.member(0)
    with unlocked(world.coord_keyring):
        do_remove_member(actor=world.coord, member=member)
    member.refresh_from_db()
    result, request, response = _login(member)
    assert result is None
    assert VAULT_COOKIE not in response.cookies
    assert session.SESSION_BLOB not in request.session
