"""Settings shared by every environment.

Secrets come from the environment only; a missing secret stops start-up
(DESIGN.md: "Startup fails if a secret is missing").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("SAFEPASSAGE_VAR_DIR", PROJECT_DIR / "var"))


def require_env(name: str) -> str:
    """Return the environment variable ``name`` or refuse to start."""
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(
            f"The secret {name} is not set. safepassage refuses to start without it "
            f"(run `make secrets` for local development)."
        )
    return value


SECRET_KEY = require_env("SAFEPASSAGE_SECRET_KEY")
# Seals notification addresses that must be usable while nobody is logged in.
SAFEPASSAGE_DISPATCH_KEY = require_env("SAFEPASSAGE_DISPATCH_KEY")

DEBUG = False


def served_address(value: str) -> tuple[str, str]:
    """(host, port) from an address in runserver's syntax: ``port``,
    ``host:port`` or ``[ipv6]:port`` (``SAFEPASSAGE_ADDR``, which
    ``bin/serve-dev`` passes to runserver)."""
    value = value.strip() or "127.0.0.1:8000"
    if value.isdigit():
        return "127.0.0.1", value
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", port or "8000"


# The address the development server listens on; links and allowed hosts
# follow it unless SAFEPASSAGE_BASE_URL / SAFEPASSAGE_ALLOWED_HOSTS say otherwise.
SERVED_HOST, SERVED_PORT = served_address(os.environ.get("SAFEPASSAGE_ADDR", ""))
# A wildcard address (0.0.0.0, [::]) names no host a browser can open.
SERVED_ON_WILDCARD = SERVED_HOST in ("0.0.0.0", "[::]", "::")  # noqa: S104 (a comparison)
ALLOWED_HOSTS: list[str] = [
    h
    for h in os.environ.get(
        "SAFEPASSAGE_ALLOWED_HOSTS",
        ",".join(
            ["127.0.0.1", "localhost"] + ([] if SERVED_ON_WILDCARD else [SERVED_HOST.strip("[]")])
        ),
    ).split(",")
    if h
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "csp",
    "safepassage.core",
    "safepassage.vault",
    "safepassage.audit",
    "safepassage.organisations",
    "safepassage.members",
    "safepassage.cells",
    "safepassage.contacts",
    "safepassage.cases",
    "safepassage.journeys",
    "safepassage.safehouses",
    "safepassage.compromise",
    "safepassage.checkins",
    "safepassage.alerts",
    "safepassage.notifications",
    "safepassage.dashboard",
    "safepassage.field",
    "safepassage.demo",
    "safepassage.api",
    "safepassage.backups",
    "safepassage.travellers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "safepassage.members.middleware.MemberLanguageMiddleware",
    # Coordinators' second factor, and idle expiry that only real activity renews.
    "safepassage.members.middleware.MemberSessionMiddleware",
    # One audit entry per request that opened a sealed value (who, which records).
    "safepassage.audit.middleware.DecryptionAuditMiddleware",
    "safepassage.vault.middleware.VaultMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "safepassage.urls"
WSGI_APPLICATION = "safepassage.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "safepassage.core.context_processors.member_roles",
            ],
            # A missing variable is a bug, not an empty string to show.
            "string_if_invalid": "",
        },
    }
]


def database_from_env() -> dict[str, Any]:
    """SQLite (WAL, synchronous=FULL, IMMEDIATE transactions) unless a URL is set."""
    url = os.environ.get("SAFEPASSAGE_DATABASE_URL")
    if url:
        db: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        db.setdefault("TEST", {})
        return db
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        # Kept 0600 with its -wal and -shm files (core/files.py).
        "NAME": os.environ.get("SAFEPASSAGE_SQLITE_PATH", str(VAR_DIR / "safepassage.sqlite3")),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue
            # instead of failing on a lock upgrade; the audit chain relies on it.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
            ),
        },
    }


DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "members.Member"
# Handles are unique among members (a conditional constraint): a decoy, the
# account a duress password opens, carries its member's handle, and the
# login backend tells them apart. Django's check looks for a plain unique field.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTHENTICATION_BACKENDS = ["safepassage.members.backends.HandleBackend"]
LOGIN_URL = "members:login"
LOGIN_REDIRECT_URL = "dashboard:home"

PASSWORD_HASHERS = ["safepassage.vault.hashers.VaultArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Argon2id cost for both password hashing and key derivation. The floor is
# enforced at start-up (vault.checks); these defaults sit well above it.
VAULT_ARGON2_OPSLIMIT = int(os.environ.get("SAFEPASSAGE_ARGON2_OPSLIMIT", "3"))
VAULT_ARGON2_MEMLIMIT = int(os.environ.get("SAFEPASSAGE_ARGON2_MEMLIMIT", str(64 * 1024 * 1024)))

# Sessions are server-side and short: the key material in them is ciphertext
# under a key that only the browser's cookie holds.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# A session ends after this many idle minutes. Each request a member makes
# renews it (members.middleware); the notification badge's polling does not.
SESSION_IDLE_MINUTES = int(os.environ.get("SAFEPASSAGE_SESSION_IDLE_MINUTES", "30"))
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
VAULT_COOKIE_NAME = "sp_vault"

# --- login hardening (members.lockout, members.second_factor) -----------------------
# Growing delays per typed handle, never a lockout (members.lockout): the
# first LOGIN_FREE_FAILURES failures in a row are free; after the k-th the
# next attempt for that handle waits 2 ** (k - free + 1) seconds, at most the
# ceiling, and one inside the wait is refused without its password being
# checked. No count per address: every onion-service client is the loopback
# address. At most 1,448 passwords a day can be tried against one handle
# (docs/SECURITY.md). A coordinator's password and authenticator code get
# through at once.
LOGIN_FREE_FAILURES = 5
LOGIN_DELAY_CEILING_SECONDS = 60
# Failures in a row are forgotten after a day without any.
LOGIN_FAILURES_FORGOTTEN_AFTER_SECONDS = 24 * 60 * 60
# This many failures for one handle within the window (from its first)
# raise one alert to the coordinators of the member with that handle.
LOGIN_ALERT_FAILURES = 20
LOGIN_ALERT_WINDOW_SECONDS = 60 * 60
# Coordinators' authenticator codes: after n wrong codes in a row the next
# is refused for factor * 2**(n-1) seconds.
SECOND_FACTOR_THROTTLE_FACTOR = 1

# Uploads stay in memory (never a temporary file on disk) and are small.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
VAULT_MAX_PHOTO_BYTES = 5 * 1024 * 1024
MEDIA_ROOT = str(VAR_DIR / "media")
# Stored files (sealed photos) and their folders are the owner's only, like
# every file in var/.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ko", _("Korean")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Date order and words per language (safepassage/formats/).
FORMAT_MODULE_PATH = ["safepassage.formats"]

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = str(VAR_DIR / "static")

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Never send our URLs (which carry record ids) to other sites. "same-origin"
# rather than "no-referrer": browsers then send a real Origin on our own form
# posts, which Django's CSRF check requires ("no-referrer" makes it "null").
SECURE_REFERRER_POLICY = "same-origin"
# A strict Content Security Policy in every environment, so the page tests catch
# a violation: scripts, styles, images and requests only from our own origin, no
# inline script or style (none is allowed by 'unsafe-inline', nonces or
# hashes), no eval, no plugins, no <base>, no framing, forms post only to us.
# htmx is vendored and loaded from 'self', with eval and its injected
# indicator <style> turned off (base.html's htmx-config).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# The JSON API (safepassage.api, docs/API.md): JSON only, session sign-in for
# now (401 when missing), and errors mapped to the statuses the pages use.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "safepassage.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["safepassage.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "safepassage.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "safepassage API",
    "DESCRIPTION": "JSON API for bots, bridges and scripts. See docs/API.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several records have a "status"; each set of choices gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "safepassage.cases.models.CaseStatus",
        "JourneyStatusEnum": "safepassage.journeys.models.JourneyStatus",
        "LegStatusEnum": "safepassage.journeys.models.LegStatus",
        "HandoffStatusEnum": "safepassage.journeys.models.HandoffStatus",
        "HandoffKindEnum": "safepassage.api.serializers.HANDOFF_KINDS",
    },
}

# Logs never carry record contents; the vault logs only ids and field names.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Link tokens and query strings never reach a log line (core/logging.py).
    "filters": {"redact_secrets": {"()": "safepassage.core.logging.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # The development server's access log ("GET /t/... HTTP/1.1" 200):
        # through the filtering console handler instead of Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- warning system: check-ins, alerts, notifications ------------------------------
# Minutes an unacknowledged alert waits at each escalation level before the
# next: level 0 is the cell's lead, level 1 the case's coordinators, level 2
# every coordinator of the organisation.
ALERT_ESCALATION_MINUTES = [
    int(m) for m in os.environ.get("SAFEPASSAGE_ALERT_ESCALATION_MINUTES", "5,10").split(",") if m
]
# How often the worker looks for overdue deadlines, escalations and deliveries.
WORKER_POLL_SECONDS = float(os.environ.get("SAFEPASSAGE_WORKER_POLL_SECONDS", "0.5"))
# Notification delivery: attempts, backoff (seconds, doubled per attempt up to
# the cap) and how long a worker's claim on a delivery lasts before another
# worker may take it over (a worker killed mid-send).
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("SAFEPASSAGE_NOTIFY_MAX_ATTEMPTS", "8"))
NOTIFY_BACKOFF_SECONDS = float(os.environ.get("SAFEPASSAGE_NOTIFY_BACKOFF_SECONDS", "30"))
NOTIFY_BACKOFF_CAP_SECONDS = float(os.environ.get("SAFEPASSAGE_NOTIFY_BACKOFF_CAP_SECONDS", "3600"))
NOTIFY_CLAIM_SECONDS = float(os.environ.get("SAFEPASSAGE_NOTIFY_CLAIM_SECONDS", "120"))
NOTIFY_TIMEOUT_SECONDS = float(os.environ.get("SAFEPASSAGE_NOTIFY_TIMEOUT_SECONDS", "10"))
# Links in notifications and traveller links point here (nothing else about
# the alert is sent). Without it, the address the development server listens
# on; on a wildcard address, links made during a request use the request's
# host instead (core/links.py).
SAFEPASSAGE_BASE_URL = os.environ.get(
    "SAFEPASSAGE_BASE_URL",
    f"http://{'127.0.0.1' if SERVED_ON_WILDCARD else SERVED_HOST}:{SERVED_PORT}",
)
SAFEPASSAGE_BASE_URL_FROM_REQUEST = SERVED_ON_WILDCARD and "SAFEPASSAGE_BASE_URL" not in os.environ
# Email over SMTP (Django's email API).
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("SAFEPASSAGE_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("SAFEPASSAGE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("SAFEPASSAGE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("SAFEPASSAGE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("SAFEPASSAGE_EMAIL_USE_TLS", "") == "1"
EMAIL_USE_SSL = os.environ.get("SAFEPASSAGE_EMAIL_USE_SSL", "") == "1"
EMAIL_TIMEOUT = int(os.environ.get("SAFEPASSAGE_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("SAFEPASSAGE_EMAIL_FROM", "safepassage@localhost")

# --- retention and backups (docs/BACKUPS.md) -----------------------------------------------
# Days after a case arrived or was closed before the worker purges it by
# crypto-shredding its keys (0: never automatically; a case's coordinator
# can still purge it at once).
SAFEPASSAGE_RETENTION_DAYS = int(os.environ.get("SAFEPASSAGE_RETENTION_DAYS", "90"))
# The age public key (age1...) backups are encrypted to. Its identity (the
# secret half) stays offline and is needed only to restore.
SAFEPASSAGE_BACKUP_RECIPIENT = os.environ.get("SAFEPASSAGE_BACKUP_RECIPIENT", "").strip()
