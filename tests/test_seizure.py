"""A seized server reveals nothing: build the demo network, then read every row
of every table, every file under MEDIA_ROOT and every log line written while it
was built (SQL included), and find none of the demo's sensitive strings."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from safepassage.demo.scenario import SENSITIVE_STRINGS, build_demo, sensitive_strings_of
from safepassage.journeys.models import Leg
from safepassage.members.models import LoginThrottle, Member
from safepassage.members.services import log_in, unlock_private_key
from safepassage.organisations.models import Organisation
from safepassage.organisations.services import recovery_keyring
from safepassage.vault.keyring import Keyring, unlocked
from safepassage.vault.middleware import VaultMiddleware
from safepassage.vault.models import Compartment

from .vault.support import write_raw_value

_BASE64ISH = re.compile(r"^[A-Za-z0-9+/_=-]{16,}$")


def key_forms(key: bytes) -> list[bytes]:
    """A key as it could appear in a column, a cookie or a log line."""
    return [
        key.lower(),
        key.hex().encode(),
        base64.b64encode(key).rstrip(b"=").lower(),
        base64.urlsafe_b64encode(key).rstrip(b"=").lower(),
    ]


class Finder:
    """Looks for any of ``needles`` in text or bytes (ignoring case), and for
    any of ``keys`` in its raw, hex or base64 form."""

    def __init__(self, needles: list[str], keys: list[bytes] = ()):
        self.text = [n.lower() for n in needles]
        self.raw = [n.encode("utf-8").lower() for n in needles]
        self.raw += [form for key in keys for form in key_forms(key)]
        self.found: list[str] = []

    def text_value(self, where: str, value: str) -> None:
        lowered = value.lower()
        self.found += [f"{where}: {n!r}" for n in self.text if n in lowered]
        as_bytes = lowered.encode("utf-8", "replace")
        self.found += [f"{where}: {n!r}" for n in self.raw if n in as_bytes]
        if _BASE64ISH.match(value):  # an encoded copy is a copy
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    self.bytes_value(f"{where} (base64)", decode(value + "=" * (-len(value) % 4)))

    def bytes_value(self, where: str, value: bytes) -> None:
        lowered = value.lower()
        self.found += [f"{where}: {n!r}" for n in self.raw if n in lowered]
        decoded = value.decode("utf-8", "ignore").lower()
        self.found += [f"{where} (utf-8): {n!r}" for n in self.text if n in decoded]

    def value(self, where: str, value) -> None:
        if value is None:
            return
        if isinstance(value, bytes | bytearray | memoryview):
            self.bytes_value(where, bytes(value))
        else:
            self.text_value(where, str(value))


def scan_database(finder: Finder) -> int:
    """Every row of every table, with raw SQL. Returns the number of values read."""
    qn = connection.ops.quote_name
    seen = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {qn(table)}")  # noqa: S608
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    finder.value(f"{table}.{column}", value)
                    seen += 1
    return seen


def scan_files(finder: Finder, root: Path) -> int:
    count = 0
    if root.exists():
        for path in root.rglob("*"):
            if path.is_file():
                finder.bytes_value(str(path), path.read_bytes())
                finder.text_value(f"{path} (name)", str(path.relative_to(root)))
                count += 1
    return count


def scan_cache(finder: Finder) -> int:
    """Every key and value of every configured cache, as stored (pickled).
    Returns the number of entries read; a backend whose entries cannot be
    listed fails the test rather than being skipped."""
    count = 0
    for cache in caches.all(initialized_only=True):
        store = getattr(cache, "_cache", None)
        assert isinstance(store, dict), f"cannot list the entries of {type(cache).__name__}"
        for key, value in store.items():
            finder.value(f"cache key {key}", key)
            finder.value(f"cache {key}", value)
            count += 1
    return count


def scan_log(finder: Finder, records: list[logging.LogRecord]) -> None:
    for record in records:
        where = f"log {record.name}"
        finder.text_value(where, record.getMessage())
        if record.exc_text:
            finder.text_value(where, record.exc_text)
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        for arg in args:
            for item in arg if isinstance(arg, list | tuple) else (arg,):
                if isinstance(item, bytes | bytearray | memoryview):
                    finder.bytes_value(f"{where} (argument)", bytes(item))


@contextlib.contextmanager
def every_log_record(caplog) -> Iterator[list[logging.LogRecord]]:
    """Capture every logger at DEBUG, including those that do not propagate."""
    caplog.set_level(logging.DEBUG)
    changed = []
    for logger in [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]:
        changed.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    try:
        yield caplog.records
    finally:
        for logger, level, propagate in changed:
            logger.setLevel(level)
            if not propagate:
                logger.removeHandler(caplog.handler)


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


def _log_everyone_in(result) -> int:
    """Every demo member logs in once, as the login page would: their sessions
    (key material included) are part of what is seized. Before it, each gets
    their password wrong (typing a sensitive string instead) and a handle
    nobody has is tried, so the failed-login counts are seized too. (A
    string typed into the handle field is in the SQL of the member lookup,
    which only a DEBUG server logs; handles are plaintext anyway.)"""
    for n, (handle, password, _what) in enumerate(result.logins):
        mistyped = SENSITIVE_STRINGS[n % len(SENSITIVE_STRINGS)]
        attempts = [
            (f"nobody-{n}", password, False),
            (handle, mistyped, False),
            (handle, password, True),
        ]
        for typed_handle, typed_password, right in attempts:
            request = RequestFactory().post("/login/")

            def view(req, handle=typed_handle, password=typed_password, right=right):
                member = log_in(req, handle=handle, password=password)
                assert (member is not None) == right
                return HttpResponse("ok")

            SessionMiddleware(AuthenticationMiddleware(VaultMiddleware(view)))(request)
    return Session.objects.count()


def _browse_as_everyone(result) -> int:
    """Every demo member opens the pages they use (coordinators their
    dashboard, case list and cases; cell members their field pages), so
    whatever pages put in the cache, the session or the logs is seized too.
    Returns the number of pages read."""
    from django.test import Client
    from django.urls import reverse

    from safepassage.cases.models import Case
    from safepassage.roles import is_coordinator

    from .conftest import vault_login

    pages = 0
    for handle, password, _what in result.logins:
        member = Member.objects.get(handle=handle, decoy_of__isnull=True)
        client = Client()
        ring = Keyring(member_id=member.pk, member_private_key=unlock_private_key(member, password))
        vault_login(client, member, ring)
        if is_coordinator(member):
            urls = ["/", reverse("cases:list")] + [
                reverse("cases:detail", args=[case.pk])
                for case in Case.objects.filter(coordinator_links__member=member)
            ]
        else:
            urls = [reverse("field:my_legs")]
        for url in urls:
            assert client.get(url).status_code == 200, url
            pages += 1
    return pages


def _every_key(result) -> list[bytes]:
    """Every private key and every compartment key of the demo."""
    keys = []
    for handle, password, _what in result.logins:
        keys.append(
            unlock_private_key(Member.objects.get(handle=handle, decoy_of__isnull=True), password)
        )
    recovery = recovery_keyring(organisation=result.organisation, shares=result.recovery_shares[:2])
    keys += recovery.recovery.values()
    coordinator = result.coordinator_keyring
    fresh = Keyring(
        member_id=coordinator.member_id, member_private_key=coordinator.member_private_key
    )
    fresh.load_everything()
    recovery.load_everything()
    for ring in (fresh, recovery):
        keys += [key for _version, key in ring._keys.values()]
    with unlocked(fresh):
        keys.append(bytes(Organisation.objects.get(pk=result.organisation.pk).audit_private_key))
    return list(dict.fromkeys(keys))


@pytest.mark.django_db
def test_a_seized_server_reveals_none_of_the_demo(caplog, media_root):
    with every_log_record(caplog) as records, CaptureQueriesContext(connection) as queries:
        result = build_demo()
        sessions = _log_everyone_in(result)
        pages = _browse_as_everyone(result)
        logging.getLogger("safepassage.test").debug("built")  # the capture works
    log = list(records)
    needles = sensitive_strings_of(result)
    assert set(SENSITIVE_STRINGS) <= set(needles)
    assert len(needles) > len(SENSITIVE_STRINGS)  # the verification phrases drawn
    keys = _every_key(result)
    # Every member's private key, every compartment's key, the recovery and audit keys.
    assert len(keys) == len(result.logins) + Compartment.objects.count() + 2

    finder = Finder(needles, keys)
    values = scan_database(finder)
    scan_files(finder, media_root)  # the demo writes no files today; any it writes count
    scan_log(finder, log)
    scan_cache(finder)

    assert finder.found == [], finder.found[:20]
    # Not vacuous: thousands of values, every query logged with its arguments.
    assert values > 2000
    assert sessions == len(result.logins)
    # The failed logins were counted, and their rows scanned with the rest.
    assert LoginThrottle.objects.count() >= len(result.logins) + 1
    assert pages > len(result.logins)
    assert len(queries) > 200
    assert sum(r.name == "django.db.backends" for r in log) >= len(queries) // 2
    assert any(r.name == "safepassage.test" for r in log)


def test_the_scan_finds_a_plaintext_that_leaked(world, media_root):
    """The scanners are able to fail."""
    finder = Finder(["Water and a blanket", "吉H 5T902", "Ri Kyong-hui"])
    scan_database(finder)
    assert finder.found == []

    write_raw_value(Leg, "notes", world.legs[0].pk, b"\x00Water and a blanket in the back")
    (media_root / "photo.txt").write_bytes("plate 吉H 5T902".encode())
    Leg.objects.filter(pk=world.legs[1].pk).update(
        status=base64.b64encode(b"Ri Kyong-hui").decode()
    )
    scan_database(finder)
    scan_files(finder, media_root)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "q %s", ([b"ri kyong-hui"],), None)
    scan_log(finder, [record])
    assert any("journeys_leg.notes" in f for f in finder.found)
    assert any("journeys_leg.status (base64)" in f for f in finder.found)
    assert any("photo.txt" in f for f in finder.found)
    assert any("log x (argument)" in f for f in finder.found)
    caches["default"].set("leaked", {"note": "Water and a blanket"})
    assert scan_cache(finder) >= 1
    assert any(f.startswith("cache ") for f in finder.found)
    caches["default"].clear()

    key = bytes(range(32))
    key_finder = Finder([], [key])
    Member.objects.filter(pk=world.coord.pk).update(time_zone=key.hex().upper())
    scan_database(key_finder)
    assert any("members_member.time_zone" in f for f in key_finder.found)


def test_a_duress_passwords_cover_is_sealed_like_any_organisation(world, media_root):
    """The cover a duress password opens holds the member's organisation's
    name and display name, and its own members, cases and people: a seized
    server shows none of them, nor the decoy's key."""
    from safepassage.cases.models import Case, Traveller

    from .members.support import DURESS, set_duress

    decoy = set_duress(world.coord, world.coord_keyring)
    ring = Keyring(member_id=decoy.pk, member_private_key=unlock_private_key(decoy, DURESS))
    with unlocked(ring):
        ring.load_everything()
        cover = Organisation.objects.get(pk=decoy.organisation_id)
        needles = [cover.name, decoy.display_name, DURESS]
        needles += [m.display_name for m in Member.objects.filter(organisation=cover)]
        for case in Case.objects.filter(organisation=cover):
            needles += [case.codename, case.needs, case.summary]
        needles += [t.name for t in Traveller.objects.filter(case__organisation=cover)]
    assert cover.name and decoy.display_name and len(needles) > 20
    finder = Finder(needles, [ring.member_private_key])
    assert scan_database(finder) > 1000
    scan_files(finder, media_root)
    assert finder.found == [], finder.found[:20]


def test_webhook_addresses_and_internal_hosts_are_ciphertext(world, media_root, monkeypatch):
    """A seized database holds a member's webhook URL, its signing secret and
    the organisation's internal webhook hosts only as ciphertext."""
    import socket

    from safepassage.notifications.models import InternalWebhookHosts, NotificationAddress
    from safepassage.notifications.services import (
        do_set_internal_webhook_hosts,
        do_set_webhook,
    )

    def dns(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with unlocked(world.coord_keyring):
        do_set_internal_webhook_hosts(actor=world.coord, hosts=["heron-bridge.lan"])
        secret = do_set_webhook(actor=world.coord, url="http://heron-bridge.lan:8080/in")
    assert InternalWebhookHosts.objects.count() == NotificationAddress.objects.count() == 1

    finder = Finder(["heron-bridge", secret, secret.removeprefix("whsec_")])
    scan_database(finder)

    assert finder.found == [], finder.found
