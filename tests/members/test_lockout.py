"""Guessing is slowed down per handle; nobody can be locked out.

Every onion-service client arrives from the loopback address, so the
attacker below shares 127.0.0.1 with every member. Failures for a handle
make the next attempt for that handle wait (2, 4, ... up to 60 seconds);
an attempt inside the wait is refused without its password being checked;
another handle is never affected; a targeted member waits at most the
ceiling; a coordinator's password and code get through at once; twenty
failures within an hour raise one alert. Time is driven by a clock fixture,
never slept."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts.models import Alert, AlertKind, Severity
from safepassage.alerts.worker import tick
from safepassage.members import backends, lockout
from safepassage.members.models import LoginThrottle
from safepassage.notifications.models import Notification
from safepassage.vault import crypto
from tests.conftest import vault_login
from tests.factories import PASSWORD

from .support import (
    LOGIN,
    SECOND_FACTOR,
    code_for,
    device_of,
    enrol,
    password_login,
    without_csrf,
)

WRONG = "not the password at all"
LOOPBACK = "127.0.0.1"
WAIT = re.compile(r"Wait (\d+) seconds?, then try again")
CEILING = 60
# 5 free failures, then waits of 2, 4, 8, 16 and 32 seconds, then one a minute.
PER_DAY = 5 + 5 + (24 * 60 * 60 - (2 + 4 + 8 + 16 + 32)) // 60


class Clock:
    """``django.utils.timezone.now``, moved by hand."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", fake)
    return fake


@pytest.fixture
def password_checks(monkeypatch) -> dict[str, int]:
    """Counts Argon2id key derivations: each password checked costs two."""
    backends._dummy()  # made once per process; not part of any one attempt
    calls = {"kdf": 0}
    derive = crypto._password_key

    def counting(*args, **kwargs):
        calls["kdf"] += 1
        return derive(*args, **kwargs)

    monkeypatch.setattr(crypto, "_password_key", counting)
    return calls


def _post(client, handle, password, address=LOOPBACK, **extra):
    return client.post(
        LOGIN, {"handle": handle, "password": password, **extra}, REMOTE_ADDR=address
    )


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _wait_of(response) -> int:
    assert response.status_code == 429, response.status_code
    found = WAIT.search(response.content.decode())
    assert found, response.content.decode()[:500]
    assert response["Retry-After"] == found.group(1)
    return int(found.group(1))


def _fail_until_waiting(client, handle, clock=None) -> int:
    """Wrong passwords for ``handle`` until an attempt must wait; the wait."""
    for _ in range(50):
        response = _post(client, handle, WRONG)
        if response.status_code == 429:
            return _wait_of(response)
        assert response.status_code == 200
    raise AssertionError("never had to wait")


# --- nobody is locked out ---------------------------------------------------------------


def test_an_attacker_on_everyones_address_cannot_stop_another_members_login(world):
    """Regression: five wrong passwords for one handle from 127.0.0.1 made
    every other member's right password answer 429 from there."""
    target, _ring = world.member(0)
    attacker = Client()
    for _ in range(30):
        _post(attacker, target.handle, WRONG)
    # Spraying over many handles, known and unknown, from the same address.
    for n in range(30):
        _post(attacker, f"guess-{n}", WRONG)
    other, _ring = world.member(1)
    member = Client()
    response = _post(member, other.handle, PASSWORD)
    assert response.status_code == 302
    assert _logged_in(member)
    # A coordinator from the same address too (to their second factor).
    coordinator = Client()
    response = _post(coordinator, world.coord2.handle, PASSWORD)
    assert response.status_code == 302 and response["Location"] == SECOND_FACTOR


def test_the_targeted_member_gets_in_within_the_ceiling_while_under_attack(world, clock):
    target, _ring = world.member(0)
    attacker, member = Client(), Client()
    # A long attack: every time the wait ends, the attacker tries again at once.
    for _ in range(25):
        wait = _fail_until_waiting(attacker, target.handle)
        assert wait <= CEILING
        clock.advance(wait)
    _post(attacker, target.handle, WRONG)  # the attacker takes this opening too
    assert _wait_of(_post(attacker, target.handle, WRONG)) == CEILING
    # The member, a little later: told how long, at most the ceiling.
    clock.advance(7)
    wait = _wait_of(_post(member, target.handle, PASSWORD))
    assert wait == CEILING - 7
    assert not _logged_in(member)
    clock.advance(wait)
    response = _post(member, target.handle, PASSWORD)
    assert response.status_code == 302
    assert _logged_in(member)
    # Their login ends the wait, and the count starts again.
    assert _post(attacker, target.handle, WRONG).status_code == 200


def test_inside_the_wait_even_the_right_password_is_refused_unchecked(
    world, clock, password_checks
):
    driver, _ring = world.member(0)
    client = Client()
    for attempt in range(1, 6):
        response = _post(client, driver.handle, WRONG)
        assert response.status_code == 200, attempt
        assert "Handle or password is incorrect" in response.content.decode()
    before = password_checks["kdf"]
    response = _post(client, driver.handle, PASSWORD)
    assert _wait_of(response) == 2
    assert "with this handle" in response.content.decode()
    assert password_checks["kdf"] == before  # no Argon2id work at all
    assert not _logged_in(client)
    assert client.get(reverse("field:my_legs")).status_code == 302
    # The wait does not grow with refused attempts.
    clock.advance(1)
    assert _wait_of(_post(client, driver.handle, PASSWORD)) == 1
    clock.advance(1)
    assert _post(client, driver.handle, PASSWORD).status_code == 302


def test_the_waits_double_up_to_the_ceiling(world, clock):
    driver, _ring = world.member(0)
    client = Client()
    waits = []
    for _ in range(9):
        wait = _fail_until_waiting(client, driver.handle)
        waits.append(wait)
        clock.advance(wait)
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert [lockout.delay_after(k) for k in range(12)] == [0] * 5 + [2, 4, 8, 16, 32, 60, 60]
    assert lockout.delay_after(10**9) == CEILING


def test_at_most_the_stated_number_of_passwords_a_day_for_one_handle(db):
    """The fastest attacker: an attempt the instant each wait ends, and
    probes in between. docs/SECURITY.md states this number."""
    assert PER_DAY == 1448
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    now, checked, probes = start, 0, 0
    while now < end:
        admission = lockout.claim("targeted-handle", now=now)
        if admission.admitted:
            checked += 1
            lockout.failed("targeted-handle", now=now)
            continue  # try again at once
        assert 1 <= admission.wait_seconds <= CEILING
        if admission.wait_seconds > 1:  # a probe a second before the opening
            probe = lockout.claim(
                "targeted-handle", now=now + timedelta(seconds=admission.wait_seconds - 1)
            )
            assert not probe.admitted
            probes += 1
        now += timedelta(seconds=admission.wait_seconds)
    assert checked == PER_DAY
    assert probes > 1000


def test_an_attempt_counts_before_its_password_is_checked(db):
    """Attempts arriving together cannot all take one opening: each is
    counted when it is admitted, before any password work."""
    now = timezone.now()
    admitted = [lockout.claim("someone", now=now).admitted for _ in range(8)]
    assert admitted == [True] * 5 + [False] * 3
    lockout.succeeded("someone")  # the fifth one's password was right
    assert lockout.claim("someone", now=now).admitted


def test_only_failures_in_a_row_count(world):
    driver, _ring = world.member(0)
    client = Client()
    for _ in range(4):
        _post(client, driver.handle, WRONG)
    assert _post(client, driver.handle, PASSWORD).status_code == 302
    client.post(reverse("members:logout"))
    for _ in range(5):
        assert _post(client, driver.handle, WRONG).status_code == 200
    assert _post(client, driver.handle, PASSWORD).status_code == 429


def test_failures_are_forgotten_after_a_quiet_day(world, clock):
    driver, _ring = world.member(0)
    client = Client()
    for _ in range(3):
        wait = _fail_until_waiting(client, driver.handle)
        clock.advance(wait)
    clock.advance(24 * 60 * 60)
    for _ in range(5):
        assert _post(client, driver.handle, WRONG).status_code == 200
    # The worker drops the row of a handle quiet for a day.
    clock.advance(24 * 60 * 60 + 1)
    tick(now=clock.now)
    assert not LoginThrottle.objects.exists()


def test_an_operator_ends_the_wait_on_a_handle(world):
    driver, _ring = world.member(0)
    client = Client()
    _fail_until_waiting(client, driver.handle)
    out = StringIO()
    call_command("unlock_login", driver.handle, stdout=out)
    assert "Wait lifted (5 failures forgotten)." in out.getvalue()
    assert _post(client, driver.handle, PASSWORD).status_code == 302
    # A handle never tried: the same kind of answer.
    out = StringIO()
    call_command("unlock_login", "nobody-at-all", stdout=out)
    assert "Wait lifted (0 failures forgotten)." in out.getvalue()


# --- a coordinator with their code gets through ----------------------------------------


def _enrolled(world) -> str:
    client = Client()
    assert password_login(client, world.coord).status_code == 302
    return enrol(client, world.coord, world.coord_keyring)


def test_a_coordinator_with_their_code_gets_past_the_wait(world, clock):
    secret = _enrolled(world)
    attacker, coordinator = Client(), Client()
    for _ in range(12):
        clock.advance(_fail_until_waiting(attacker, world.coord.handle))
    _post(attacker, world.coord.handle, WRONG)
    # Without the code: wait, like anyone. The page offers the code field.
    response = _post(coordinator, world.coord.handle, PASSWORD)
    assert _wait_of(response) == CEILING
    assert 'name="code"' in response.content.decode()
    # With it: in at once, the second factor passed with the same code.
    code = code_for(secret, after=device_of(world.coord).last_t)
    response = _post(coordinator, world.coord.handle, PASSWORD, code=code)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:home")
    assert coordinator.get(reverse("dashboard:home")).status_code == 200
    # The wait stays for the attacker; the code does not lengthen it.
    assert _wait_of(_post(attacker, world.coord.handle, PASSWORD)) == CEILING
    for password, guess in ((WRONG, code), (PASSWORD, code), (WRONG, "123456")):
        assert _wait_of(_post(attacker, world.coord.handle, password, code=guess)) == CEILING
    # Outside a wait the code field is not shown.
    assert 'name="code"' not in Client().get(LOGIN).content.decode()


def test_the_code_path_reveals_nothing_about_the_password(world, clock, password_checks):
    """Inside a wait, a right password with a wrong code answers exactly as a
    wrong password does, after the same work; and a cell member's code does
    nothing."""
    _enrolled(world)
    driver, _ring = world.member(0)
    for handle in (world.coord.handle, driver.handle, "nobody-here"):
        _fail_until_waiting(Client(), handle)
    pages, work = [], []
    for handle, password in (
        (world.coord.handle, PASSWORD),
        (world.coord.handle, WRONG),
        (driver.handle, PASSWORD),
        ("nobody-here", PASSWORD),
    ):
        before = password_checks["kdf"]
        response = _post(Client(), handle, password, code="123456")
        work.append(password_checks["kdf"] - before)
        pages.append((response.status_code, without_csrf(response.content.decode())))
    assert len(set(pages)) == 1 and pages[0][0] == 429
    assert work == [2, 2, 2, 2]  # the same two derivations as any login


# --- the alert ------------------------------------------------------------------------


def _guessing_alerts():
    return Alert.objects.filter(kind=AlertKind.LOGIN_GUESSING)


def _failures(handle, count, clock) -> None:
    """``count`` wrong passwords for ``handle``, each as soon as allowed."""
    client = Client()
    done = 0
    while done < count:
        response = _post(client, handle, WRONG)
        if response.status_code == 429:
            clock.advance(_wait_of(response))
        else:
            done += 1


def test_twenty_failures_in_an_hour_raise_one_alert_to_the_coordinators(world, clock):
    target, _ring = world.member(0)
    _failures(target.handle, 19, clock)
    tick(now=clock.now)
    assert not _guessing_alerts().exists()
    _failures(target.handle, 1, clock)
    assert clock.now - LoginThrottle.objects.get().window_started_at < timedelta(hours=1)
    tick(now=clock.now)
    alert = _guessing_alerts().get()
    assert alert.organisation_id == world.org.pk
    assert alert.raised_by_id == target.pk
    assert alert.severity == Severity.CRITICAL
    assert alert.details is None  # nothing of what was typed
    told = set(Notification.objects.filter(alert=alert).values_list("member_id", flat=True))
    assert told == {world.coord.pk, world.coord2.pk}
    # The attack goes on within the hour: no second alert.
    _failures(target.handle, 15, clock)
    tick(now=clock.now)
    assert _guessing_alerts().count() == 1
    # A new hour, twenty more: one more alert.
    clock.advance(60 * 60)
    _failures(target.handle, 20, clock)
    tick(now=clock.now)
    tick(now=clock.now)
    assert _guessing_alerts().count() == 2


def test_the_alert_shows_the_coordinators_the_handle(world, clock, login):
    target, ring = world.member(0)
    _failures(target.handle, 20, clock)
    tick(now=clock.now)
    alert = _guessing_alerts().get()
    coordinator = login(world.coord)
    page = coordinator.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert target.handle in page and WRONG not in page
    assert target.handle in coordinator.get(reverse("alerts:list")).content.decode()
    # Not the member's own to see: it is for the coordinators.
    member = Client()
    vault_login(member, target, ring)
    assert member.get(reverse("alerts:detail", args=[alert.pk])).status_code == 404
    assert str(alert.pk) not in member.get(reverse("alerts:list")).content.decode()


def test_an_attack_on_a_handle_nobody_has_raises_nothing(world, clock):
    _failures("nobody-by-this-name", 20, clock)
    assert LoginThrottle.objects.get().attack_noticed_at is not None
    assert tick(now=clock.now)["login_guessing"] == 0
    assert not _guessing_alerts().exists()
    assert LoginThrottle.objects.get().alerted_at is not None  # handled, once


# --- nothing tells handles apart, nothing is kept about who tried ----------------------


def test_a_wrong_handle_and_a_right_handle_get_identical_answers(world, clock, password_checks):
    driver, _ring = world.member(0)
    answers = []
    for handle in (driver.handle, "nobody-here"):
        client = Client()
        seen = []
        for _ in range(7):
            before = password_checks["kdf"]
            response = _post(client, handle, WRONG)
            seen.append(
                (
                    response.status_code,
                    response.get("Retry-After"),
                    without_csrf(response.content.decode()).replace(handle, "HANDLE"),
                    password_checks["kdf"] - before,
                )
            )
        answers.append(seen)
    assert answers[0] == answers[1]
    assert [status for status, *_rest in answers[0]] == [200] * 5 + [429, 429]
    assert [work for *_rest, work in answers[0]] == [2] * 5 + [0, 0]


def test_the_records_hold_a_digest_not_handles_addresses_or_browsers(world):
    driver, _ring = world.member(0)
    Client().post(
        f"{LOGIN}?next=/cases/",
        {"handle": driver.handle, "password": "typed-secret-by-mistake"},
        REMOTE_ADDR="192.0.2.77",
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 9; SM-J400F)",
    )
    row = LoginThrottle.objects.get()
    stored = " ".join(str(getattr(row, f.attname)) for f in LoginThrottle._meta.concrete_fields)
    for secret in (driver.handle, "192.0.2.77", "SM-J400F", "typed-secret-by-mistake", "/cases/"):
        assert secret not in stored, secret
    assert row.handle_digest == lockout.digest_of_handle(driver.handle)
    assert row.failures == 1
    # The digest is keyed: it is not a plain hash anyone could recompute.
    import hashlib

    assert row.handle_digest != hashlib.sha256(driver.handle.encode()).hexdigest()
