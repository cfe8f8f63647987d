"""Login lockout (django-axes), kept from becoming a record of who logs in from where.

Axes counts failed logins per handle and per address (settings: ``AXES_*``)
in its ``AccessAttempt`` table. Stored as axes would store them, those rows
would tell a database seizure which handles were tried from which IP
addresses with which browsers, and a password typed into the handle field by
mistake. So:

- the handle and the address are stored only as keyed digests (HMAC under a
  key derived from ``SECRET_KEY``, an environment secret): the same handle or
  address always gives the same digest, so counting works, but a dump alone
  cannot be matched against a list of addresses or handles. The address
  digest is written in IPv6 form because axes keeps it in an IP-address
  column (PostgreSQL's ``inet``);
- the browser's User-Agent and Accept headers are not stored, and form and
  query values are masked (``AXES_SENSITIVE_PARAMETERS``);
- no access log of successful logins is kept (``AXES_DISABLE_ACCESS_LOG``).

A lockout never depends on whether the handle exists: axes counts the digest
of whatever was typed, and the lockout page is the same for every handle.
"""

from __future__ import annotations

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

_HANDLE_SALT = "safepassage.members.lockout.handle"
_ADDRESS_SALT = "safepassage.members.lockout.address"


def _digest_of_handle(handle: str) -> str:
    return salted_hmac(_HANDLE_SALT, handle, algorithm="sha256").hexdigest()


def handle_key(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """What axes counts failures of for a handle (``AXES_USERNAME_CALLABLE``)."""
    handle = None
    if credentials:
        handle = credentials.get("username")
    if handle is None and request is not None:
        handle = request.POST.get("handle")
    if handle is None:
        return None
    return _digest_of_handle(str(handle))


def client_address(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or, behind the deployment's own
    proxy (``CLIENT_ADDRESS_FROM_PROXY``, set by SAFEPASSAGE_TLS_PROXY=1), the
    last X-Forwarded-For entry, which that proxy appended (earlier entries
    are whatever the client claimed)."""
    if getattr(settings, "CLIENT_ADDRESS_FROM_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR") or None


def address_key(request: HttpRequest) -> str | None:
    """What axes counts failures of for an address (``AXES_CLIENT_IP_CALLABLE``):
    a keyed digest of ``REMOTE_ADDR`` written as an IPv6 address.

    ``REMOTE_ADDR`` is the address of whatever connects to the application:
    behind a reverse proxy the deployment must set it to the client's address
    (a proxy-aware application server), or every member shares one address,
    and five failures by anyone lock everyone out for the cool-off.
    """
    address = client_address(request)
    if not address:
        return None
    digest = salted_hmac(_ADDRESS_SALT, address, algorithm="sha256").digest()
    return str(ipaddress.IPv6Address(digest[:16]))


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, minus the browser headers it would store."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None:
            request.axes_user_agent = ""
            request.axes_http_accept = ""
        return super().user_login_failed(sender, credentials, request, **kwargs)


def reset(handle: str) -> int:
    """Lift the lockout on ``handle`` (every address's failures for it).

    Returns the number of attempt records removed. An address stays locked
    until its own cool-off ends.
    """
    return AxesProxyHandler.reset_attempts(username=_digest_of_handle(handle))
