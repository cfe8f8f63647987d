"""Helpers for the webhook tests: a receiver on loopback and a fake DNS.

The fake DNS replaces ``socket.getaddrinfo`` itself, so it answers for every
lookup the code under test makes, whichever library makes it. Numeric hosts
(``127.0.0.1``, ``2130706433``, ``::1``) are answered as the system would;
names only from the table; anything else does not resolve.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

INTERNAL_HOST = "bridge.internal"
PUBLIC_ADDRESS = "93.184.216.34"  # a globally routable address (never connected to)

_real_getaddrinfo = socket.getaddrinfo


class FakeDNS:
    def __init__(self):
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        try:
            return _real_getaddrinfo(
                host, port, family, type or socket.SOCK_STREAM, proto, socket.AI_NUMERICHOST
            )
        except socket.gaierror:
            pass
        self.lookups.append(host)
        answers = self.names.get(host.lower().rstrip("."))
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if callable(answers):
            answers = answers()
        infos = []
        for address in answers:
            infos += _real_getaddrinfo(
                address, port, family, type or socket.SOCK_STREAM, proto, socket.AI_NUMERICHOST
            )
        return infos


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDNS:
    dns = FakeDNS()
    dns.names[INTERNAL_HOST] = ["127.0.0.1"]
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns


class Hook:
    """A tiny webhook receiver on loopback: records each request (any method)
    and each connection, answers ``status`` (with ``location`` if set)."""

    def __init__(self, host: str = INTERNAL_HOST):
        self.requests: list[tuple[str, dict, bytes]] = []
        self.connections = 0
        self.status = 200
        self.location = ""
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hook.requests.append((self.command, dict(self.headers), body))
                self.send_response(hook.status)
                if hook.location:
                    self.send_header("Location", hook.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT = _answer

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def get_request(self):
                hook.connections += 1
                return super().get_request()

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def posts(self) -> list[tuple[dict, bytes]]:
        return [(headers, body) for method, headers, body in self.requests if method == "POST"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def allow_internal_host(world, host: str = INTERNAL_HOST) -> None:
    """The world's coordinator lists ``host`` as an internal webhook host."""
    from safepassage.notifications.services import do_set_internal_webhook_hosts
    from safepassage.vault.keyring import unlocked

    with unlocked(world.coord_keyring):
        do_set_internal_webhook_hosts(actor=world.coord, hosts=[host])
