"""Login delays: guessing a handle's password is slowed down, nobody is locked out.

Failed logins are counted per typed handle only (``LoginThrottle``). The
first ``LOGIN_FREE_FAILURES`` failures in a row cost nothing; after the k-th
one (k >= the free count) the next attempt for that handle must wait
``2 ** (k - free + 1)`` seconds, at most ``LOGIN_DELAY_CEILING_SECONDS``. An
attempt inside the wait is refused with the seconds left, and its password
is not checked. The wait is a "not before" time in the database: nothing
sleeps in a request.

There is no per-address count. Every client of an onion service arrives
from the loopback address, so any wall per address is a wall in front of
every member at once; and spreading guesses over many handles still meets
each handle's own delay. A member's correct login is never refused because
of failures on another handle, and a targeted member waits at most the
ceiling. A coordinator gets in at once, inside a wait, with their password
and a right code from their authenticator app (``services.log_in``).

An attempt is counted as a failure *before* its password is checked
(``claim``), under the row's lock, and refunded if the password was right
(``succeeded``): so parallel requests cannot all slip through one opening,
and the password work happens with no lock held.

Each failure also counts towards the alert window: when a handle reaches
``LOGIN_ALERT_FAILURES`` failures within ``LOGIN_ALERT_WINDOW`` of the
window's first, the row is marked (``attack_noticed_at``) and the worker
raises the alert to the coordinators of the member with that handle
(``alerts.worker.alert_login_guessing``). Marking it is the same write
whether or not anybody has the handle, so the answer and its timing say
nothing about it.

The handle is stored only as a keyed digest (HMAC under a key derived from
``SECRET_KEY``, an environment secret): the same handle always gives the
same digest, so counting works, but a database dump alone cannot be matched
against a list of handles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.crypto import salted_hmac

from .models import LoginThrottle

_HANDLE_SALT = "safepassage.members.lockout.handle"


def digest_of_handle(handle: str) -> str:
    """The keyed digest a handle is counted under."""
    return salted_hmac(_HANDLE_SALT, handle, algorithm="sha256").hexdigest()


def delay_after(failures: int) -> int:
    """Seconds the next attempt must wait after ``failures`` failures in a row."""
    free = settings.LOGIN_FREE_FAILURES
    if failures < free:
        return 0
    # The exponent is capped before it is raised, so a huge count costs nothing.
    exponent = min(failures - free + 1, settings.LOGIN_DELAY_CEILING_SECONDS.bit_length())
    return min(2**exponent, settings.LOGIN_DELAY_CEILING_SECONDS)


@dataclass(frozen=True)
class Admission:
    """Whether an attempt may check its password; if not, how long to wait."""

    admitted: bool
    wait_seconds: int = 0


def _fresh(row: LoginThrottle, now: datetime) -> None:
    """Forget failures in a row after a day without any."""
    quiet = timedelta(seconds=settings.LOGIN_FAILURES_FORGOTTEN_AFTER_SECONDS)
    if row.last_failure_at is not None and now - row.last_failure_at >= quiet:
        row.failures = 0


def claim(handle: str, *, now: datetime) -> Admission:
    """Admit an attempt for ``handle`` at ``now``, counting it as a failure
    until ``succeeded`` refunds it; or refuse it, with the seconds to wait.

    Runs in its own short transaction, holding the handle's row (SQLite's
    IMMEDIATE transactions and PostgreSQL's row lock), so two attempts
    cannot both take the same opening.
    """
    digest = digest_of_handle(handle)
    with transaction.atomic():
        LoginThrottle.objects.get_or_create(handle_digest=digest)
        row = LoginThrottle.objects.select_for_update().get(handle_digest=digest)
        if row.not_before is not None and now < row.not_before:
            wait = math.ceil((row.not_before - now).total_seconds())
            return Admission(admitted=False, wait_seconds=max(wait, 1))
        _fresh(row, now)
        row.failures += 1
        row.last_failure_at = now
        wait = delay_after(row.failures)
        row.not_before = now + timedelta(seconds=wait) if wait else None
        row.save(update_fields=["failures", "last_failure_at", "not_before"])
    return Admission(admitted=True)


def wait_left(handle: str, *, now: datetime) -> int:
    """Seconds an attempt for ``handle`` would have to wait at ``now`` (0: none)."""
    row = LoginThrottle.objects.filter(handle_digest=digest_of_handle(handle)).first()
    if row is None or row.not_before is None or now >= row.not_before:
        return 0
    return max(math.ceil((row.not_before - now).total_seconds()), 1)


def failed(handle: str, *, now: datetime) -> None:
    """The admitted attempt's password was wrong: count it towards the alert
    window, and mark the handle when the window reaches the threshold."""
    window = timedelta(seconds=settings.LOGIN_ALERT_WINDOW_SECONDS)
    with transaction.atomic():
        row = LoginThrottle.objects.select_for_update().get(handle_digest=digest_of_handle(handle))
        if row.window_started_at is None or now - row.window_started_at >= window:
            row.window_started_at = now
            row.window_failures = 0
        row.window_failures += 1
        fields = ["window_started_at", "window_failures"]
        # Exactly at the threshold: once per window, however long the attack goes on.
        if row.window_failures == settings.LOGIN_ALERT_FAILURES:
            row.attack_noticed_at = now
            fields.append("attack_noticed_at")
        row.save(update_fields=fields)


def succeeded(handle: str) -> None:
    """The password was right: refund the attempt and end the wait.

    The alert window is kept: a member logging in does not hide the
    failures before it from the coordinators.
    """
    LoginThrottle.objects.filter(handle_digest=digest_of_handle(handle)).update(
        failures=0, not_before=None
    )


def reset(handle: str) -> int:
    """Forget the failures counted against ``handle`` (an operator's command).

    Returns the number of failures forgotten; 0 for a handle never tried.
    """
    digest = digest_of_handle(handle)
    with transaction.atomic():
        row = LoginThrottle.objects.select_for_update().filter(handle_digest=digest).first()
        if row is None:
            return 0
        forgotten = row.failures
        row.failures = 0
        row.not_before = None
        row.save(update_fields=["failures", "not_before"])
    return forgotten


def forget_quiet(*, now: datetime) -> int:
    """Delete the rows of handles with no failure for a day and no alert
    pending (the worker, each tick), so the table holds only what is being
    counted. Returns the rows deleted."""
    quiet = now - timedelta(seconds=settings.LOGIN_FAILURES_FORGOTTEN_AFTER_SECONDS)
    pending_alert = Q(attack_noticed_at__isnull=False) & (
        Q(alerted_at__isnull=True) | Q(alerted_at__lt=F("attack_noticed_at"))
    )
    deleted, _rows = (
        LoginThrottle.objects.filter(Q(last_failure_at__isnull=True) | Q(last_failure_at__lt=quiet))
        .filter(Q(window_started_at__isnull=True) | Q(window_started_at__lt=quiet))
        .exclude(pending_alert)
        .delete()
    )
    return deleted
