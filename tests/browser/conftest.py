"""Browser tests: Debian's Chromium driven by Playwright against a live server.

- The browser is the machine's own (``/usr/bin/chromium``, or
  ``SAFEPASSAGE_CHROMIUM``); Playwright never downloads one. Without it the
  tests skip, except on CI (``CI=true``), where they fail: CI installs it.
- The server is Django's live-server thread, one per test module, answering
  one request at a time (see ``SerialServerThread``), on the test database.
- Screenshots go to ``test-artifacts/browser/``. With
  ``SAFEPASSAGE_SCREENSHOTS=<dir>`` the ones the README shows are also
  written there, compressed (``SAFEPASSAGE_SCREENSHOTS=docs/screenshots``).
- axe-core comes from the npm registry (``tests/browser/package.json``,
  installed by ``make browser-deps``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

from tests.factories import PASSWORD

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
CHROMIUM = os.environ.get("SAFEPASSAGE_CHROMIUM", "/usr/bin/chromium")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = PROJECT / "test-artifacts" / "browser"
# Generous waits: CI runs these beside the rest of the suite on two cores.
TIMEOUT_MS = 20_000

# A phone: the field pages are made for a cheap one.
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 12; SM-A125F) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
    ),
}
# A coordinator's laptop.
DESK: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}


def unavailable(reason: str) -> None:
    """Skip for want of a tool; on CI, where ``.ci/run`` installs it, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason} (CI installs it: see .ci/run and `make browser-deps`)", pytrace=False
        )
    pytest.skip(reason)


# --- the server ----------------------------------------------------------------------------


class _Serialised:
    """A WSGI application that holds ``lock`` while it answers, so the test
    thread can keep the server still while it changes the database itself."""

    def __init__(self, app, lock: threading.RLock) -> None:
        self.app = app
        self.lock = lock

    def __call__(self, environ, start_response):
        with self.lock:
            return self.app(environ, start_response)


class SerialServerThread(LiveServerThread):
    """Django's live server answering one request at a time.

    On SQLite the test database lives in memory and the server thread shares
    the test thread's connection; two requests at once (a page and its
    stylesheet, a poll) would then share one transaction state. One at a time
    is also closer to a phone on a bad link. PostgreSQL gets its own connection
    in this thread, closed when the thread ends.
    """

    def __init__(self, *args, lock: threading.RLock, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock = lock

    def _create_server(self, connections_override=None):
        return WSGIServer(
            (self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False
        )


class LiveSite:
    def __init__(self, thread: SerialServerThread) -> None:
        self.thread = thread
        self.url = f"http://{thread.host}:{thread.port}"

    def __call__(self, path: str) -> str:
        return self.url + path

    @contextmanager
    def still(self) -> Iterator[None]:
        """No request is answered inside this block (for database work done by
        the test itself while a page might be polling)."""
        with self.thread.lock:
            yield


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker) -> Iterator[LiveSite]:
    """A live server for the module's tests. Each test brings its own data
    (``transactional_db``, so the server thread sees what the test wrote)."""
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    lock = threading.RLock()
    thread = SerialServerThread(
        "127.0.0.1",
        lambda app: _Serialised(StaticFilesHandler(app), lock),
        connections_override=shared,
        port=0,
        lock=lock,
    )
    thread.daemon = True
    for conn in shared.values():
        conn.inc_thread_sharing()
    # The server answers between tests too (a page still loading), so the
    # database stays reachable for the module's lifetime.
    with django_db_blocker.unblock():
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        try:
            yield LiveSite(thread)
        finally:
            thread.terminate()
            for conn in shared.values():
                conn.dec_thread_sharing()


# --- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, one per module."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    expect.set_options(timeout=TIMEOUT_MS)
    # Playwright's synchronous API runs an event loop in this thread between
    # calls; Django would take the test's own database work for async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_failed = report.failed
    return report


@pytest.fixture
def contexts(request, browser, site, transactional_db) -> Iterator[Any]:
    """``contexts(phone=True, **options)`` opens a browser context (a fresh
    profile: no cookies, no cache) for ``site``; all are closed after the test,
    before its data is flushed. A failed test leaves a screenshot of each page."""
    yield from _contexts(request, browser, site)


def _contexts(request, browser, site: LiveSite) -> Iterator[Any]:
    opened: list[Any] = []
    for stale in ARTIFACTS.glob(f"FAILED-{request.node.name}-*.png"):
        stale.unlink()

    def open_context(*, phone: bool = False, **options):
        kwargs = {**(PHONE if phone else DESK), "base_url": site.url, **options}
        context = browser.new_context(**kwargs)
        context.set_default_timeout(TIMEOUT_MS)
        opened.append(context)
        return context

    yield open_context
    for index, context in enumerate(opened):
        if getattr(request.node, "browser_failed", False):
            for number, page in enumerate(context.pages):
                name = f"FAILED-{request.node.name}-{index}-{number}"
                with contextlib.suppress(Exception):
                    screenshot(page, name, full_page=True)
        context.close()


# --- logging in ----------------------------------------------------------------------------


def log_in(page, handle: str, password: str = PASSWORD, *, next_path: str | None = None) -> None:
    """Log in through the real login form, and for a coordinator through the
    authenticator-app step after it, as a person would; wait for the page after."""
    page.goto("/members/login/" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/members/second-factor/" in page.url:
        page.get_by_label("Code from your authenticator app").fill(
            authenticator_code(page, handle, password)
        )
        with page.expect_navigation():
            page.get_by_role("button", name="Continue").click()
    assert "/members/login/" not in page.url, f"login as {handle} failed"
    assert "/members/second-factor/" not in page.url, f"{handle}'s code was refused"


def authenticator_code(page, handle: str, password: str) -> str:
    """What the coordinator's authenticator app shows now: set up from the
    secret the page prints at the first login, afterwards from the device
    (opened with the member's own key). A step already used is never used again."""
    from safepassage.members import second_factor
    from safepassage.members.models import Member
    from safepassage.members.services import unlock_private_key

    member = Member.objects.get(handle=handle)
    device, field = second_factor.device_for(member)
    printed = page.locator(".fingerprint")
    if printed.count():
        secret = printed.inner_text().replace(" ", "")
    else:
        assert device is not None, f"{handle} has no authenticator app set up"
        secret = second_factor.open_secret(
            getattr(device, field), unlock_private_key(member, password)
        )
    oath = second_factor.totp(secret)
    last = device.last_t if device is not None else -1
    if oath.t() <= last:
        oath.drift = last + 1 - oath.t()
    return f"{oath.token():0{second_factor.DIGITS}d}"


# --- bytes on the wire -------------------------------------------------------------------------


class Wire:
    """Counts the bytes a page costs on the wire, as Chromium's network stack
    saw them (``encodedDataLength``: headers and body as sent, compressed if
    they were), for every request including redirects, with the cache off:
    a phone's first visit."""

    def __init__(self, context, page) -> None:
        self.page = page
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        self.requests: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.redirects: list[tuple[str, int]] = []
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.loadingFailed", self._failed)

    def _sent(self, event: dict) -> None:
        redirect = event.get("redirectResponse")
        if redirect is not None:
            self.redirects.append((redirect["url"], int(redirect.get("encodedDataLength", 0))))
        self.requests[event["requestId"]] = event["request"]["url"]

    def _finished(self, event: dict) -> None:
        self.sizes[event["requestId"]] = int(event["encodedDataLength"])

    def _failed(self, event: dict) -> None:
        self.sizes[event["requestId"]] = 0

    @contextmanager
    def measure(self) -> Iterator[dict[str, int]]:
        """Bytes per URL for whatever the block does (a navigation, a form sent)."""
        self.requests.clear()
        self.sizes.clear()
        self.redirects.clear()
        result: dict[str, int] = {}
        yield result
        self.page.wait_for_load_state("load")
        for _ in range(100):  # the last events may trail the load event
            if set(self.requests) <= set(self.sizes):
                break
            self.page.wait_for_timeout(20)
        assert set(self.requests) <= set(self.sizes), "a request never finished"
        for url, size in self.redirects:
            result[url] = result.get(url, 0) + size
        for request_id, url in self.requests.items():
            result[url] = result.get(url, 0) + self.sizes[request_id]


# --- screenshots and accessibility --------------------------------------------------------------


def screenshot(
    page, name: str, *, docs: bool = False, full_page: bool = False, clip: dict | None = None
) -> Path:
    """Save ``name``.png under test-artifacts/browser/ (``clip``: that part of
    the whole page); a ``docs`` one is also written, compressed, to
    ``$SAFEPASSAGE_SCREENSHOTS`` when that is set."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(
        path=str(path),
        full_page=full_page or clip is not None,
        clip=clip,
        animations="disabled",
        caret="hide",
    )
    target = os.environ.get("SAFEPASSAGE_SCREENSHOTS")
    if docs and target:
        out = Path(target)
        if not out.is_absolute():
            out = PROJECT / out
        out.mkdir(parents=True, exist_ok=True)
        _compress(path, out / f"{name}.png")
    return path


def _compress(source: Path, target: Path) -> None:
    """A palette PNG: a fraction of the size, and text stays sharp."""
    try:
        from PIL import Image
    except ImportError:
        shutil.copyfile(source, target)
        return
    with Image.open(source) as image:
        small = image.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT)
        small.save(target, optimize=True)


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page and return its violations, every impact
    (rule id, impact, help and the offending elements)."""
    if not AXE.is_file():
        unavailable(f"axe-core is not installed at {AXE} (run `make browser-deps`)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
            }));
        }"""
    )
    return found
