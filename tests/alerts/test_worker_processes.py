"""Real worker processes: killed with SIGKILL, restarted, and run side by side.

Each test gets its own database (a SQLite file, or a fresh PostgreSQL
database when SAFEPASSAGE_DATABASE_URL is set), because the suite's own test
database is out of a subprocess's reach.
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from tests.alerts.procs import postgres_url, rig_database

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not postgres_url(), reason="PostgreSQL runs when SAFEPASSAGE_DATABASE_URL is set"
        ),
    ),
]
PENDING_DUE = (
    "SELECT COUNT(*) FROM checkins_deadline WHERE state = 'pending' "
    "AND alert_at <= CURRENT_TIMESTAMP"
)
ALL_ALERTED = "SELECT COUNT(*) FROM alerts_alert WHERE deadline_id IS NOT NULL"


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkilled_worker_loses_nothing_and_alerts_each_deadline_exactly_once(backend, tmp_path):
    deadlines = 300
    with rig_database(backend, tmp_path) as db:
        # Deadlines fall due from 1 s before the worker starts to 6 s after.
        db.run_rig("setup", "--deadlines", str(deadlines), "--first", "-1", "--last", "6")
        first = db.start_worker("--interval", "0.05")
        # Kill it while deadlines are falling due (some already alerted, some not).
        assert db.wait_until(
            "SELECT CASE WHEN COUNT(*) > 0 THEN 1 ELSE 0 END FROM alerts_alert", 1, timeout=30
        ), "the first worker never raised anything"
        time.sleep(0.7)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        alerted_before_restart = db.scalar(ALL_ALERTED)
        assert alerted_before_restart < deadlines, "the kill came too late to mean anything"
        # While it is down, more deadlines pass.
        time.sleep(1.5)
        assert db.scalar(PENDING_DUE) > 0

        second = db.start_worker("--interval", "0.05")
        assert db.wait_until(ALL_ALERTED, deadlines, timeout=60), db.scalar(ALL_ALERTED)
        # A clean stop on SIGTERM.
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0

        status = db.run_rig("status")
    assert status["deadlines"]["missed"] == deadlines
    assert status["alerts"] == deadlines
    assert status["deadlines_alerted_twice"] == 0
    # Every alert told the case's two coordinators, once each.
    assert status["notifications"] == 2 * deadlines
    assert status["notifications_twice"] == 0
    assert status["audit_chain_broken_at"] == [None]


@pytest.mark.skipif(not postgres_url(), reason="several workers need PostgreSQL")
def test_two_workers_on_postgresql_never_double_alert(tmp_path):
    deadlines = 1000
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with rig_database("postgres", tmp_path) as db:
        db.run_rig("setup", "--deadlines", str(deadlines), "--first", "-1", "--last", "6")
        workers = [db.start_worker("--interval", "0.05", log=log) for log in logs]
        assert db.wait_until(ALL_ALERTED, deadlines, timeout=90), db.scalar(ALL_ALERTED)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        assert [w.wait(timeout=15) for w in workers] == [0, 0]
        status = db.run_rig("status")
    assert status["alerts"] == deadlines
    assert status["deadlines"]["missed"] == deadlines
    assert status["deadlines_alerted_twice"] == 0
    assert status["notifications"] == 2 * deadlines
    assert status["notifications_twice"] == 0
    assert status["audit_chain_broken_at"] == [None]
    # Each worker counts what it raised; together exactly one alert per deadline.
    raised = [sum(int(n) for n in re.findall(r"'raised': (\d+)", log.read_text())) for log in logs]
    assert sum(raised) == deadlines, raised
