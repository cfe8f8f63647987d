"""Links follow the served address; no log line carries a link's token; var/ files are private."""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from safepassage.core.links import absolute_url
from safepassage.core.logging import redact
from safepassage.settings.base import served_address

PROJECT = Path(__file__).resolve().parents[2]


# --- links ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ("127.0.0.1", "8000")),
        ("8001", ("127.0.0.1", "8001")),
        ("192.168.1.20:8000", ("192.168.1.20", "8000")),
        ("[::1]:9000", ("[::1]", "9000")),
        ("0.0.0.0:8000", ("0.0.0.0", "8000")),  # noqa: S104
    ],
)
def test_served_address_reads_runservers_syntax(value, expected):
    assert served_address(value) == expected


def _base_settings(monkeypatch, **env):
    for name in ("SAFEPASSAGE_ADDR", "SAFEPASSAGE_BASE_URL", "SAFEPASSAGE_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import safepassage.settings.base as base

    return importlib.reload(base)


def test_development_links_follow_the_served_address(monkeypatch):
    try:
        base = _base_settings(monkeypatch, SAFEPASSAGE_ADDR="192.168.1.20:8000")
        assert base.SAFEPASSAGE_BASE_URL == "http://192.168.1.20:8000"
        assert "192.168.1.20" in base.ALLOWED_HOSTS
        assert base.SAFEPASSAGE_BASE_URL_FROM_REQUEST is False

        base = _base_settings(monkeypatch)
        assert base.SAFEPASSAGE_BASE_URL == "http://127.0.0.1:8000"

        explicit = _base_settings(
            monkeypatch, SAFEPASSAGE_ADDR="0.0.0.0:8000", SAFEPASSAGE_BASE_URL="https://x.example"
        )
        assert explicit.SAFEPASSAGE_BASE_URL == "https://x.example"
        assert explicit.SAFEPASSAGE_BASE_URL_FROM_REQUEST is False

        wildcard = _base_settings(monkeypatch, SAFEPASSAGE_ADDR="0.0.0.0:8000")
        assert wildcard.SAFEPASSAGE_BASE_URL_FROM_REQUEST is True
    finally:
        _base_settings(monkeypatch)


def test_on_a_wildcard_address_a_link_takes_the_requests_host():
    request = RequestFactory().get("/", HTTP_HOST="10.0.0.5:8000")
    with override_settings(
        SAFEPASSAGE_BASE_URL="http://127.0.0.1:8000",
        SAFEPASSAGE_BASE_URL_FROM_REQUEST=True,
        ALLOWED_HOSTS=["10.0.0.5"],
    ):
        assert absolute_url("/t/abc/", request=request) == "http://10.0.0.5:8000/t/abc/"
    with override_settings(
        SAFEPASSAGE_BASE_URL="https://sp.example/", SAFEPASSAGE_BASE_URL_FROM_REQUEST=False
    ):
        assert absolute_url("/t/abc/", request=request) == "https://sp.example/t/abc/"


# --- logs -------------------------------------------------------------------------


def test_redact_replaces_link_tokens_and_query_strings():
    line = '"GET /t/Zq9_secret-Token/report/?lang=ko HTTP/1.1" 200 512'
    assert redact(line) == '"GET /t/[redacted]/report/?[redacted] HTTP/1.1" 200 512'
    assert "s3cr3t" not in redact("Not Found: /join/s3cr3t/")
    assert redact("GET /field/ HTTP/1.1") == "GET /field/ HTTP/1.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_development_servers_log_never_carries_a_token(tmp_path):
    """The real `runserver` of `make run`: access lines and error lines alike.

    Its database is a fresh empty file, so the link page fails with a 500:
    the error's own log line ("Internal Server Error: /t/...") is checked too.
    """
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "safepassage.settings.dev",
        "SAFEPASSAGE_VAR_DIR": str(tmp_path),
        "SAFEPASSAGE_ADDR": f"127.0.0.1:{port}",
        "SAFEPASSAGE_SECRET_KEY": "x" * 50,
        "SAFEPASSAGE_DISPATCH_KEY": "00" * 32,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SAFEPASSAGE_DATABASE_URL", None)
    env.pop("SAFEPASSAGE_SQLITE_PATH", None)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            token = "TOKENsecret4242abcdef"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/t/{token}/?lang=ko", timeout=5)
                except urllib.error.HTTPError:
                    break  # answered (404 or 500): the request was logged
                except (urllib.error.URLError, ConnectionError):
                    if time.monotonic() > deadline or server.poll() is not None:
                        pytest.fail(log.read_text())
                    time.sleep(0.3)
                    continue
                break
            for path in (f"/join/{token}/", f"/t/{token}/report/"):
                with contextlib.suppress(urllib.error.HTTPError):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=20)
    text = log.read_text()
    assert "/t/[redacted]/" in text  # the access line is there, redacted
    assert token not in text
    assert "lang=ko" not in text
    database = tmp_path / "safepassage.sqlite3"
    assert database.exists()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


# --- var/ files -------------------------------------------------------------------


def test_a_sqlite_database_and_its_companions_are_made_private(tmp_path):
    from safepassage.core.files import make_private

    db = tmp_path / "db.sqlite3"
    for path in (db, tmp_path / "db.sqlite3-wal", tmp_path / "db.sqlite3-shm"):
        path.write_bytes(b"")
        path.chmod(0o644)
    make_private(db)
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
