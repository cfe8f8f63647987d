"""Deadline-to-alert latency: how long after a deadline passes its alert exists.

    .venv/bin/python bench/alert_latency.py [--deadlines 1000] [--spread 25]

For each database (SQLite in a file, always; PostgreSQL when
SAFEPASSAGE_DATABASE_URL is set or a local server answers on 127.0.0.1:5432):
build a database with ``--deadlines`` in-transit deadlines whose alert times
fall at random over ``--spread`` seconds, start one ``safepassage worker``
with its default poll interval, wait until every deadline has alerted, and
report p50/p99/max of ``alert.raised_at - deadline.alert_at``. ``raised_at``
is taken when the worker's transaction for that batch begins; the commit
follows within milliseconds. Target: p99 <= 2 s.

Writes bench/results/alert_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.alerts.procs import postgres_url, rig_database  # noqa: E402

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_P99 = 2.0
LATENCY_SQL = (
    "SELECT a.raised_at, d.alert_at FROM alerts_alert a "
    "JOIN checkins_deadline d ON d.id = a.deadline_id"
)
ALERTED_SQL = "SELECT COUNT(*) FROM alerts_alert WHERE deadline_id IS NOT NULL"


def _parse(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rows(db, sql: str) -> list[tuple]:
    if db.kind == "sqlite":
        conn = sqlite3.connect(db.path, timeout=20)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(db.url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _server_version(db) -> str:
    if db.kind == "sqlite":
        return "SQLite " + sqlite3.sqlite_version
    return str(_rows(db, "SHOW server_version")[0][0]).join(("PostgreSQL ", ""))


def run(kind: str, deadlines: int, spread: float, server_url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp, rig_database(kind, Path(tmp), server_url) as db:
        print(f"[{kind}] building {deadlines} deadlines ...", flush=True)
        # They start falling due 3 s after setup (the worker is up by then).
        db.run_rig(
            "setup", "--deadlines", str(deadlines), "--first", "3", "--last", str(3 + spread)
        )
        worker = db.start_worker()
        started = time.monotonic()
        if not db.wait_until(ALERTED_SQL, deadlines, timeout=spread + 120):
            raise SystemExit(f"[{kind}] not every deadline alerted in time")
        elapsed = time.monotonic() - started
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        latencies = [
            (_parse(raised) - _parse(due)).total_seconds() for raised, due in _rows(db, LATENCY_SQL)
        ]
        version = _server_version(db)
    result = {
        "database": version,
        "deadlines": len(latencies),
        "spread_seconds": spread,
        "p50_seconds": round(_percentile(latencies, 50), 3),
        "p99_seconds": round(_percentile(latencies, 99), 3),
        "max_seconds": round(max(latencies), 3),
        "mean_seconds": round(statistics.fmean(latencies), 3),
        "early": sum(1 for x in latencies if x < 0),
        "wall_seconds": round(elapsed, 1),
        "meets_target": _percentile(latencies, 99) <= TARGET_P99,
    }
    print(
        f"[{kind}] p50 {result['p50_seconds']} s, p99 {result['p99_seconds']} s, "
        f"max {result['max_seconds']} s over {result['deadlines']} deadlines",
        flush=True,
    )
    return result


def _postgres_available() -> str | None:
    url = postgres_url()
    if url:
        return url
    try:
        import psycopg

        with psycopg.connect(LOCAL_POSTGRES, connect_timeout=2):
            return LOCAL_POSTGRES
    except Exception:
        return None


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) // (1024 * 1024)} GiB"
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deadlines", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=25.0)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--output", default=str(PROJECT / "bench" / "results" / "alert_latency.json")
    )
    args = parser.parse_args()
    results = {"sqlite": run("sqlite", args.deadlines, args.spread, None)}
    server = None if args.skip_postgres else _postgres_available()
    if server:
        results["postgresql"] = run("postgres", args.deadlines, args.spread, server)
    else:
        print("PostgreSQL not reachable: measured SQLite only.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.alerts.rig_settings")
    os.environ.setdefault("RIG_SQLITE_PATH", ":memory:")
    from django.conf import settings  # the worker's defaults, for the record

    report = {
        "benchmark": "deadline-to-alert latency, one worker",
        "target_p99_seconds": TARGET_P99,
        "worker_poll_seconds": settings.WORKER_POLL_SECONDS,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
