"""Worker processes against a database of their own (used by tests and the benchmark)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class RigDatabase:
    """A database for worker subprocesses: a SQLite file or a fresh PostgreSQL database."""

    env: dict[str, str]
    kind: str
    path: Path | None = None
    url: str | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    def run_rig(self, *args: str, timeout: float = 120) -> dict:
        out = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.alerts.rig", *args],
            cwd=PROJECT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start_worker(self, *extra: str, log: Path | None = None) -> subprocess.Popen:
        stderr = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "safepassage.cli", "worker", *extra],
            cwd=PROJECT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        self.procs.append(proc)
        return proc

    def scalar(self, sql: str):
        if self.kind == "sqlite":
            with contextlib.closing(sqlite3.connect(self.path, timeout=20)) as conn:
                return conn.execute(sql).fetchone()[0]
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchone()[0]

    def wait_until(self, sql: str, expected, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.scalar(sql) == expected:
                return True
            time.sleep(0.2)
        return False

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["DJANGO_SETTINGS_MODULE"] = "tests.alerts.rig_settings"
    env["PYTHONPATH"] = str(PROJECT)
    env.pop("RIG_DATABASE_URL", None)
    env.pop("RIG_SQLITE_PATH", None)
    return env


def postgres_url() -> str | None:
    return os.environ.get("SAFEPASSAGE_DATABASE_URL") or None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextlib.contextmanager
def rig_database(kind: str, tmp_path: Path, server_url: str | None = None) -> Iterator[RigDatabase]:
    """A fresh database for worker processes; PostgreSQL gets a unique database."""
    env = _base_env()
    if kind == "sqlite":
        path = tmp_path / "rig.sqlite3"
        env["RIG_SQLITE_PATH"] = str(path)
        db = RigDatabase(env=env, kind=kind, path=path)
        try:
            yield db
        finally:
            db.stop_all()
        return
    import psycopg

    server = server_url or postgres_url()
    assert server, "PostgreSQL needs SAFEPASSAGE_DATABASE_URL"
    name = f"sp_rig_{uuid.uuid4().hex[:12]}"
    admin = _with_database(server, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    env["RIG_DATABASE_URL"] = url
    db = RigDatabase(env=env, kind=kind, url=url)
    try:
        yield db
    finally:
        db.stop_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
