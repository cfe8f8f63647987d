"""Production: HTTPS only, secure cookies, HSTS, no debug, a strict CSP (from base).

Every secret and the host names come from the environment; start-up stops when
one is missing. `safepassage check --deploy --fail-level WARNING` passes with
these settings (`make check` runs it, and a test does). docs/DEPLOYMENT.md lists
the variables.
"""

from __future__ import annotations

import os
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING as BASE_LOGGING

DEBUG = False


def _hosts_from_env() -> list[str]:
    """``SAFEPASSAGE_ALLOWED_HOSTS`` (comma-separated), which production must name."""
    hosts = [h.strip() for h in os.environ.get("SAFEPASSAGE_ALLOWED_HOSTS", "").split(",")]
    hosts = [h for h in hosts if h]
    if not hosts:
        raise ImproperlyConfigured(
            "SAFEPASSAGE_ALLOWED_HOSTS is not set. Name the host names safepassage answers "
            "to, comma-separated (for example safepassage.example.org)."
        )
    return hosts


# No development default here: a request for any other host is refused.
ALLOWED_HOSTS = _hosts_from_env()

# Links in notifications lead here: the public https:// address, never the
# development default.
SAFEPASSAGE_BASE_URL = os.environ.get("SAFEPASSAGE_BASE_URL", "")
# Never from a request's Host header in production: links are the configured address.
SAFEPASSAGE_BASE_URL_FROM_REQUEST = False
if not SAFEPASSAGE_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "SAFEPASSAGE_BASE_URL must be the https:// address members open "
        "(for example https://safepassage.example.org)."
    )

# HTTPS only. The redirect is a fallback for a mistyped link; HSTS (a year,
# subdomains, preload) makes browsers never try plain HTTP again.
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# Behind a TLS-terminating proxy (nginx, Caddy) Django sees plain HTTP. Only when
# the proxy is the sole way in and always sets (overwrites) X-Forwarded-Proto may
# Django trust it; opt in with SAFEPASSAGE_TLS_PROXY=1. Trusting it otherwise
# would let a client claim HTTPS.
if os.environ.get("SAFEPASSAGE_TLS_PROXY", "") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Cookies over HTTPS only. The __Host- prefix also makes the browser refuse any
# such cookie set without Secure, for another path, or by a subdomain, so no
# sibling host can plant a session, CSRF token or vault cookie.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
VAULT_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
VAULT_COOKIE_NAME = "__Host-sp_vault"

# Origins allowed to post forms besides the request's own host (rarely needed:
# only when the proxy rewrites Host). Comma-separated https:// origins.
CSRF_TRUSTED_ORIGINS = [
    o.strip()
    for o in os.environ.get("SAFEPASSAGE_CSRF_TRUSTED_ORIGINS", "").split(",")
    if o.strip()
]

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# SECURE_REFERRER_POLICY stays "same-origin" (base.py says why not "no-referrer").

# Logs: the same console lines as base.py (message and, for errors, the traceback), never
# the request itself (body, cookies, headers). Django's own loggers are pointed
# at the console only, so its mail_admins handler, which would attach the
# request, is never used.
_base_logging = cast(dict[str, Any], BASE_LOGGING)
LOGGING = {
    **_base_logging,  # base.py's handlers and loggers
    "loggers": {
        **_base_logging["loggers"],
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
