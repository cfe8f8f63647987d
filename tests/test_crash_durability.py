"""Crash durability: the real server is SIGKILLed while client processes check
in over loopback; every acknowledged check-in is stored.

A bounded run is part of the suite (300 check-ins, three clients, one kill);
the full run (10,000 check-ins, four clients, two kills) is marked slow.
Both run on SQLite, and on PostgreSQL when SAFEPASSAGE_DATABASE_URL is set.
See bench/crash_durability.py and docs/BENCHMARKS.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "crash_durability.py"
_spec = importlib.util.spec_from_file_location("crash_durability", BENCH)
assert _spec is not None and _spec.loader is not None
durability = importlib.util.module_from_spec(_spec)
sys.modules["crash_durability"] = durability
_spec.loader.exec_module(durability)

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not os.environ.get("SAFEPASSAGE_DATABASE_URL"),
            reason="PostgreSQL runs when SAFEPASSAGE_DATABASE_URL is set",
        ),
    ),
]


def _run(backend: str, tmp_path: Path, *, checkins: int, clients: int, kills: int):
    return durability.run(
        backend,
        tmp_path,
        checkins=checkins,
        clients=clients,
        kills=kills,
        server_url=os.environ.get("SAFEPASSAGE_DATABASE_URL"),
    )


def _assert_durable(result, *, checkins: int, kills: int) -> None:
    report = durability.report(result)
    assert result.sent == checkins, report
    assert len(result.kill_times_s) == kills, report
    # Each kill came while the clients were still sending (the harness refuses
    # to kill after they finished), and the run went on after it.
    assert all(0 < at < result.seconds for at in result.kill_times_s), report
    assert result.lost_acknowledged == 0, (result.lost_ids, report)
    # Every id is stored once at most (no client retried a request it had sent).
    assert result.duplicates_stored == 0, report
    # Anything stored that was not acknowledged had an unknown outcome (the
    # connection broke mid-request), never an answer saying it was refused.
    assert result.stored_unacknowledged == result.stored_unknown_outcome, report
    assert result.stored == result.acknowledged + result.stored_unknown_outcome, report
    # Nothing but a kill disturbed the run: per client and kill, at most the
    # request in flight and one sent into the dying process's listening socket
    # (accepted by the kernel, reset when the process is gone).
    assert result.refused == 0, report
    assert result.unknown <= 2 * kills * result.clients, report
    assert result.audit_chain_intact, report
    if result.database["vendor"] == "sqlite":
        assert result.database["journal_mode"] == "wal", report
        assert result.database["synchronous"] == "FULL", report


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sigkilled_server_loses_no_acknowledged_checkin(backend, tmp_path):
    checkins, kills = 300, 1
    result = _run(backend, tmp_path, checkins=checkins, clients=3, kills=kills)
    _assert_durable(result, checkins=checkins, kills=kills)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_thousand_checkins_two_kills(backend, tmp_path):
    checkins, kills = 10_000, 2
    result = _run(backend, tmp_path, checkins=checkins, clients=4, kills=kills)
    _assert_durable(result, checkins=checkins, kills=kills)
