"""The production settings (safepassage/settings/production.py).

- Django's deployment checks pass with no warning (`check --deploy --fail-level
  WARNING`, as `make check` runs it), and fail as soon as one appears;
- start-up refuses a missing secret, host name or https:// address;
- over HTTPS the answers carry HSTS, the CSP and the other security headers,
  plain HTTP is redirected, and every cookie is Secure and __Host- prefixed.
"""

from __future__ import annotations

import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse

from safepassage.settings import base as base_settings
from safepassage.vault import session as vault_session

from ..conftest import vault_login

HOST = "safepassage.example.org"
# What production.py decides about transport security, cookies and headers.
SECURITY_SETTINGS = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_NAME",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_NAME",
    "VAULT_COOKIE_SECURE",
    "VAULT_COOKIE_NAME",
    "CONTENT_SECURITY_POLICY",
]


def _production_env(tmp_path, **overrides: str | None) -> dict[str, str]:
    """A deployment's environment: fresh fake secrets, a host name, an https address."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SAFEPASSAGE_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="safepassage.settings.production",
        SAFEPASSAGE_SECRET_KEY=secrets.token_urlsafe(50),
        SAFEPASSAGE_DISPATCH_KEY=secrets.token_hex(32),
        SAFEPASSAGE_ALLOWED_HOSTS=HOST,
        SAFEPASSAGE_BASE_URL=f"https://{HOST}",
        SAFEPASSAGE_VAR_DIR=str(tmp_path),
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "safepassage.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load(module: str, monkeypatch, tmp_path, **overrides: str | None) -> dict:
    """The settings module's names, executed afresh with the production environment."""
    for name, value in _production_env(tmp_path, **overrides).items():
        if name.startswith("SAFEPASSAGE_"):
            monkeypatch.setenv(name, value)
    for name, value in overrides.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
    if module == "safepassage.settings.base":
        # Already imported (the test settings extend it): run its file afresh.
        return runpy.run_path(str(Path(base_settings.__file__)), run_name="base_under_test")
    return runpy.run_module(module, run_name=f"{module}_under_test")


@pytest.fixture
def production(monkeypatch, tmp_path) -> dict:
    return _load("safepassage.settings.production", monkeypatch, tmp_path)


# --- Django's deployment checks -----------------------------------------------------------


def test_deploy_check_passes_with_no_warning(tmp_path):
    result = _deploy_check(_production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_fails_on_a_warning(tmp_path):
    # The control: a weak secret key is only a warning (security.W009), and
    # --fail-level WARNING turns it into a failure.
    weak = _production_env(tmp_path, SAFEPASSAGE_SECRET_KEY="django-insecure-" + "a" * 50)
    result = _deploy_check(weak)
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


# --- start-up refuses what is missing -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAFEPASSAGE_ALLOWED_HOSTS", None),
        ("SAFEPASSAGE_ALLOWED_HOSTS", " , "),
        ("SAFEPASSAGE_BASE_URL", None),
        ("SAFEPASSAGE_BASE_URL", f"http://{HOST}"),
    ],
)
def test_production_refuses_to_start_without(name, value, monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match=name):
        _load("safepassage.settings.production", monkeypatch, tmp_path, **{name: value})


@pytest.mark.parametrize("name", ["SAFEPASSAGE_SECRET_KEY", "SAFEPASSAGE_DISPATCH_KEY"])
def test_no_settings_start_without_a_secret(name, monkeypatch, tmp_path):
    # base.py reads the secrets; production imports it.
    with pytest.raises(ImproperlyConfigured, match=name):
        _load("safepassage.settings.base", monkeypatch, tmp_path, **{name: None})


# --- what the settings say ----------------------------------------------------------------


def test_production_settings(production):
    assert production["DEBUG"] is False
    assert production["ALLOWED_HOSTS"] == [HOST]
    assert production["SAFEPASSAGE_BASE_URL"] == f"https://{HOST}"
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_HSTS_SECONDS"] >= 365 * 24 * 60 * 60
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production["SECURE_HSTS_PRELOAD"] is True
    for cookie in ("SESSION", "CSRF", "VAULT"):
        assert production[f"{cookie}_COOKIE_SECURE"] is True, cookie
        assert production[f"{cookie}_COOKIE_NAME"].startswith("__Host-"), cookie
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["X_FRAME_OPTIONS"] == "DENY"
    assert production["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert "csp.middleware.CSPMiddleware" in production["MIDDLEWARE"]
    # No deployment check passes by being silenced.
    silenced = production.get("SILENCED_SYSTEM_CHECKS", [])
    assert not [c for c in silenced if c.startswith(("security.", "csp."))], silenced
    # The proxy header is trusted only when asked for.
    assert "SECURE_PROXY_SSL_HEADER" not in production


def test_the_tls_proxy_header_is_opt_in(monkeypatch, tmp_path):
    behind_proxy = _load(
        "safepassage.settings.production", monkeypatch, tmp_path, SAFEPASSAGE_TLS_PROXY="1"
    )
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_production_logs_never_use_a_handler_that_attaches_the_request(production):
    logging = production["LOGGING"]
    handlers = {h["class"] for h in logging["handlers"].values()}
    assert handlers == {"logging.StreamHandler"}
    assert "%(request)" not in str(logging["formatters"])
    assert logging["loggers"]["django"]["handlers"] == ["console"]
    assert logging["loggers"]["django"]["propagate"] is False


# --- behaviour over HTTPS -----------------------------------------------------------------


@pytest.fixture
def production_security(production):
    values = {name: production[name] for name in SECURITY_SETTINGS}
    with override_settings(**values):
        yield values


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https(client, production_security):
    response = client.get(reverse("members:login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@pytest.mark.django_db
def test_https_answers_carry_the_security_headers(client, production_security):
    response = client.get(reverse("members:login"), secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    csrf = response.cookies["__Host-csrftoken"]
    assert csrf["secure"] and csrf["path"] == "/" and not csrf["domain"]


@pytest.mark.django_db
def test_session_and_vault_cookies_are_secure(client, world, production_security):
    vault_login(client, world.coord, world.coord_keyring)
    response = client.get(reverse("dashboard:home"), secure=True)
    # The vault cookie, under its production name, opened the coordinator's keys.
    assert response.status_code == 200

    def saves_the_session(request):
        request.session["touched"] = True
        return HttpResponse()

    request = RequestFactory().get("/", secure=True)
    answer = SessionMiddleware(saves_the_session)(request)
    session = answer.cookies["__Host-sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Strict"

    request = HttpRequest()
    request._vault_cookie = "a-fresh-session-key"  # type: ignore[attr-defined]
    answer = HttpResponse()
    vault_session.apply_cookie(request, answer)
    vault = answer.cookies["__Host-sp_vault"]
    assert vault["secure"] and vault["httponly"] and vault["samesite"] == "Strict"
