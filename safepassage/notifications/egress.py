"""Where a webhook may be sent, and sending it there and nowhere else.

A webhook address is chosen by a member, so a careless or hostile one could
point the worker at the server's own loopback services, the local network or
a cloud provider's metadata endpoint (a blind request forgery from inside
the deployment). The rules:

- ``https://`` to a host whose every address is public. A host on the
  organisation's list of internal hosts (set by a coordinator, for the
  organisation's own bridge) may also use ``http://`` and private or
  loopback addresses; cloud metadata addresses are refused even then.
- The host is resolved once per attempt; if any of its addresses is
  forbidden the attempt is refused, and otherwise the connection goes to
  one of exactly those addresses, with the URL's host name in the ``Host``
  header and as the TLS server name (so the certificate is still checked for
  the name). A second lookup that answers differently (DNS rebinding) is
  therefore never made.
- Redirects are never followed: ``http.client`` does not follow them, and a
  3xx counts as a failed attempt.

The address rules run when an address is set (``check_url`` and
``resolve_checked``, from the service) and again at every delivery, since
addresses and the list of internal hosts change, and DNS answers too.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services (AWS, GCP, Azure, OpenStack, ... on
# 169.254.169.254; AWS's IPv6 endpoint; Alibaba's). Refused for every host,
# internal ones included: no bridge lives there.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class AddressRefused(Exception):
    """The address may not be used; ``code`` is short and names no address."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Target:
    """A checked webhook URL, split into what the connection needs."""

    scheme: str
    host: str
    port: int
    path: str
    internal: bool


def normalise_host(host: str) -> str:
    """A host name or address as compared with the list of internal hosts:
    lower case, no trailing dot, no brackets; raises ValueError if not one."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not host or not all(_HOST_LABEL.match(p) for p in host.split(".")):
        raise ValueError(host)
    return host


def check_url(url: str, *, internal_hosts: frozenset[str]) -> Target:
    """Split ``url`` if its form is allowed: https, or http for an internal
    host; a host and nothing odd. Addresses are checked by ``resolve_checked``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AddressRefused("bad-url") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AddressRefused("bad-url")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("bad-url")
    try:
        host = normalise_host(parts.hostname)
    except ValueError as exc:
        raise AddressRefused("bad-url") from exc
    internal = host in internal_hosts
    if parts.scheme == "http" and not internal:
        raise AddressRefused("http-not-internal")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default_port, path, internal)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an address resolves to itself).
    The one place that asks DNS, so tests can answer for it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """``ip`` and any IPv4 address carried inside it (mapped, 6to4, Teredo, NAT64)."""
    found: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour:
            found.append(ip.sixtofour)
        if ip.teredo:
            found.extend(ip.teredo)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refusal(address: str, *, internal: bool) -> str | None:
    """Why the worker may not connect to ``address`` (a short code), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    for candidate in _embedded(ip):
        if candidate in METADATA_ADDRESSES:
            return "metadata"
        if internal:
            continue
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link-local"
        if candidate.is_multicast:
            return "multicast"
        if candidate.is_unspecified:
            return "unspecified"
        if candidate.is_private:
            return "private"
        if candidate.is_reserved or not candidate.is_global:
            return "reserved"
    return None


def resolve_checked(target: Target) -> list[str]:
    """Resolve the target's host once; refuse if any address is forbidden."""
    try:
        addresses = resolve(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused("dns") from exc
    if not addresses:
        raise AddressRefused("dns")
    for address in addresses:
        reason = refusal(address, internal=target.internal)
        if reason:
            raise AddressRefused(reason)
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a given address, whatever DNS would say about ``host``."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a given address; the certificate is checked for ``host``."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(
    target: Target, addresses: list[str], body: bytes, headers: dict[str, str], *, timeout: float
) -> int:
    """POST ``body`` to the target at the first of ``addresses`` that accepts
    a connection; return the HTTP status (a redirect is returned, not followed)."""
    last_error: OSError | None = None
    for address in addresses:
        kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        connection = kind(target.host, target.port, address=address, timeout=timeout)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            last_error = exc
            continue
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # a bridge's answer is not used; bounded
            return response.status
        finally:
            connection.close()
    raise last_error or OSError("no address")
