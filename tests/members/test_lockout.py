"""Brute force: the sixth attempt after five failures in a row is refused, per
handle and per address, for a cool-off period; and the lockout's records say
nothing about who tried what from where."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from axes.models import AccessAttempt
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from safepassage.members import lockout
from safepassage.vault.plaintext import THIRD_PARTY_PLAINTEXT_COLUMNS
from tests.factories import PASSWORD

from .support import LOGIN, without_csrf

WRONG = "not the password at all"
LOCKED = "Too many failed attempts to log in."


def _post(client, handle, password, address="192.0.2.10"):
    return client.post(LOGIN, {"handle": handle, "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sixth_attempt_after_five_wrong_passwords_is_refused_even_when_right(client, world):
    driver, _ring = world.member(0)
    for attempt in range(1, 5):
        response = _post(client, driver.handle, WRONG)
        assert response.status_code == 200, attempt
        assert "Handle or password is incorrect" in response.content.decode()
    # The fifth failure locks: its own answer already says so.
    assert _post(client, driver.handle, WRONG).status_code == 429
    response = _post(client, driver.handle, PASSWORD)
    assert response.status_code == 429
    body = response.content.decode()
    assert LOCKED in body and "15 minutes" in body
    assert not _logged_in(client)
    assert client.get(reverse("field:my_legs")).status_code == 302


def test_a_handle_is_locked_whatever_address_the_guesses_come_from(client, world):
    driver, _ring = world.member(0)
    for n in range(5):
        _post(client, driver.handle, WRONG, address=f"198.51.100.{n + 1}")
    assert _post(client, driver.handle, PASSWORD, address="203.0.113.7").status_code == 429
    assert not _logged_in(client)
    # Another member is not affected.
    other, _ring = world.member(1)
    assert _post(client, other.handle, PASSWORD, address="203.0.113.7").status_code == 302


def test_an_address_is_locked_whatever_handles_it_guesses(client, world):
    handles = ["nobody-1", world.member(0)[0].handle, "nobody-2", world.coord.handle, "nobody-3"]
    for handle in handles:
        _post(client, handle, WRONG, address="192.0.2.99")
    driver, _ring = world.member(1)
    assert _post(client, driver.handle, PASSWORD, address="192.0.2.99").status_code == 429
    assert not _logged_in(client)
    # From another address the same member logs in.
    assert _post(client, driver.handle, PASSWORD, address="192.0.2.100").status_code == 302


def test_only_failures_in_a_row_count(client, world):
    driver, _ring = world.member(0)
    for _ in range(4):
        _post(client, driver.handle, WRONG)
    assert _post(client, driver.handle, PASSWORD).status_code == 302
    client.post(reverse("members:logout"))
    for _ in range(4):
        assert _post(client, driver.handle, WRONG).status_code == 200
    assert _post(client, driver.handle, PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, world):
    driver, _ring = world.member(0)
    for _ in range(5):
        _post(client, driver.handle, WRONG)
    assert _post(client, driver.handle, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _post(client, driver.handle, PASSWORD).status_code == 302
    assert _logged_in(client)


def test_an_operator_lifts_the_lockout_on_a_handle(client, world):
    driver, _ring = world.member(0)
    for n in range(5):
        _post(client, driver.handle, WRONG, address=f"198.51.100.{n + 1}")
    assert _post(client, driver.handle, PASSWORD, address="203.0.113.1").status_code == 429
    out = StringIO()
    call_command("unlock_login", driver.handle, stdout=out)
    # The five failures and the refused attempt, one record per address.
    assert "Lockout lifted (6 failure records removed)." in out.getvalue()
    assert _post(client, driver.handle, PASSWORD, address="203.0.113.1").status_code == 302
    # Lifting it on a handle nobody has says the same kind of thing.
    out = StringIO()
    call_command("unlock_login", "nobody-at-all", stdout=out)
    assert "Lockout lifted (0 failure records removed)." in out.getvalue()


def test_the_lockout_page_is_the_same_for_an_unknown_and_a_known_handle(client, world):
    driver, _ring = world.member(0)
    pages = []
    for handle, address in ((driver.handle, "192.0.2.1"), ("nobody-here", "192.0.2.2")):
        for _ in range(5):
            _post(client, handle, WRONG, address=address)
        response = _post(client, handle, PASSWORD, address=address)
        pages.append((response.status_code, without_csrf(response.content.decode())))
    assert pages[0] == pages[1]
    assert pages[0][0] == 429


def test_the_records_hold_digests_not_handles_addresses_or_browsers(client, world):
    driver, _ring = world.member(0)
    client.post(
        f"{LOGIN}?next=/cases/",
        {"handle": driver.handle, "password": "typed-secret-by-mistake"},
        REMOTE_ADDR="192.0.2.77",
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 9; SM-J400F)",
    )
    attempt = AccessAttempt.objects.get()
    stored = " ".join(str(getattr(attempt, f.attname)) for f in AccessAttempt._meta.concrete_fields)
    for secret in (driver.handle, "192.0.2.77", "SM-J400F", "typed-secret-by-mistake", "/cases/"):
        assert secret not in stored, secret
    assert attempt.username == lockout.handle_key(None, {"username": driver.handle})
    assert attempt.user_agent == "" and attempt.http_accept == ""
    assert attempt.failures_since_start == 1
    # The digest is keyed: it is not a plain hash anyone could recompute.
    import hashlib

    assert attempt.username != hashlib.sha256(driver.handle.encode()).hexdigest()


def test_every_column_of_the_lockout_tables_is_declared():
    """The plaintext registry covers the tables of the libraries installed."""
    undeclared, stale = [], []
    app_labels = {label.split(".")[0] for label in THIRD_PARTY_PLAINTEXT_COLUMNS}
    assert app_labels == {"axes"}
    for app_label in app_labels:
        for model in apps.get_app_config(app_label).get_models():
            declared = THIRD_PARTY_PLAINTEXT_COLUMNS.get(model._meta.label, {})
            columns = {f.attname for f in model._meta.concrete_fields}
            undeclared += [f"{model._meta.label}.{c}" for c in sorted(columns - set(declared))]
            stale += [f"{model._meta.label}.{c}" for c in sorted(set(declared) - columns)]
            assert all(reason.strip() for reason in declared.values())
    assert undeclared == [] and stale == []


def test_behind_the_proxy_the_address_is_the_one_it_appended(rf, settings):
    """With SAFEPASSAGE_TLS_PROXY=1 the lockout counts the client's address (the
    last X-Forwarded-For entry, appended by the deployment's proxy), not the
    proxy's, and ignores what the client itself claimed before it."""
    from safepassage.members.lockout import address_key, client_address

    request = rf.post("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert client_address(request) == "10.0.0.1"  # not behind a proxy: the header is ignored
    settings.CLIENT_ADDRESS_FROM_PROXY = True
    assert client_address(request) == "203.0.113.9"
    other = rf.post("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert address_key(request) != address_key(other)
    bare = rf.post("/", REMOTE_ADDR="10.0.0.1")
    assert client_address(bare) == "10.0.0.1"
