"""Crash durability: no acknowledged check-in is lost when the server is SIGKILLed.

    .venv/bin/python bench/crash_durability.py                 # 10,000 check-ins, SQLite
    .venv/bin/python bench/crash_durability.py --postgres      # also PostgreSQL
    .venv/bin/python bench/crash_durability.py --checkins 300 --kills 1 --clients 3

For each database (SQLite in a file in a temporary directory, always;
PostgreSQL with ``--postgres`` or when SAFEPASSAGE_DATABASE_URL is set, in a
fresh database created and dropped on that server):

1. ``setup``: migrate and build the test world through the services, start
   its journey, add one started leg per client in the first cell, give that
   cell's member check-in PINs and issue them a cell token for a bridge;
2. start the real server (``safepassage runserver --noreload`` on a free
   loopback port, the database configured by ``settings.base.database_from_env``:
   SQLite in WAL mode with ``synchronous=FULL``, or PostgreSQL);
3. start ``--clients`` client processes. Each posts its share of the
   check-ins to ``POST /api/v1/legs/<leg>/checkins/`` with the token, one at
   a time, each with a unique id (``client:number``) as its note, and records
   the outcome of every one: acknowledged (201), refused (any other answer),
   or unknown (the connection broke after the request was sent). A request
   that could not connect (the server is down) is sent again, unchanged;
4. meanwhile kill the server with SIGKILL ``--kills`` times, spread over the
   run, each time while requests are in flight, and start it again;
5. ``count``: open every stored check-in's note with the token's keys and
   compare: every acknowledged id must be stored. Prints sent, acknowledged,
   refused, unknown, stored-but-unacknowledged and **lost acknowledged**
   check-ins (must be 0), and checks the audit chain (each check-in appends
   an audit entry in its own transaction).

Exits non-zero if an acknowledged check-in was lost or the audit chain is
broken. Writes bench/results/crash_durability.json (``--output``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "crash_durability.json"
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
CHECKIN_PIN = "2468"
DURESS_PIN = "1357"
REQUEST_TIMEOUT = 60.0


# --- the database side (runs in a Django subprocess) --------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safepassage.settings.test")
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()


def rig_setup(legs: int) -> dict:
    """Build the world, ``legs`` started legs in cell 0, PINs and a token."""
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    from safepassage.api.services import do_issue_cell_token
    from safepassage.checkins.services import do_set_pins
    from safepassage.journeys.models import Leg, LegStatus
    from safepassage.journeys.services import do_start_journey
    from safepassage.vault.keyring import unlocked
    from tests.factories import build_world

    world = build_world()
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    template = world.legs[0]
    started = timezone.now()
    with transaction.atomic():
        created = Leg.objects.bulk_create(
            [
                Leg(
                    journey=world.journey,
                    position=100 + i,
                    cell=template.cell,
                    compartment_id=template.compartment_id,
                    status=LegStatus.STARTED,
                    started_at=started,
                    released_at=started,  # a started journey's legs are released
                )
                for i in range(legs)
            ]
        )
    member, ring = world.member(0)
    with unlocked(ring):
        do_set_pins(actor=member, checkin_pin=CHECKIN_PIN, duress_pin=DURESS_PIN)
        issued = do_issue_cell_token(actor=member, cell=world.cells[0].pk, label="durability")
    return {
        "organisation": str(world.org.pk),
        "token": issued.token,
        "legs": [str(leg.pk) for leg in created],
    }


def rig_count(token: str, legs: list[str], notes_path: str) -> dict:
    """Open every stored check-in on the legs with the token's keys; write the
    notes (the clients' ids) to ``notes_path``, one per line."""
    from django.db import connection
    from django.db.models import Count

    from safepassage.api.authentication import open_token
    from safepassage.audit.models import AuditEvent
    from safepassage.audit.selectors import check_chain
    from safepassage.checkins.models import Checkin, CheckinKind
    from safepassage.organisations.models import Organisation
    from safepassage.vault.keyring import unlocked

    _member, credential = open_token(token)
    notes = []
    with unlocked(credential.keyring):
        for checkin in Checkin.objects.filter(leg_id__in=legs, kind=CheckinKind.CHECKIN).iterator():
            notes.append(checkin.note or "")
    Path(notes_path).write_text("\n".join(notes) + "\n", encoding="utf-8")
    database: dict = {"vendor": connection.vendor}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            database["journal_mode"] = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            database["synchronous"] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                cursor.fetchone()[0]
            )
            cursor.execute("SELECT sqlite_version()")
        else:
            cursor.execute("SHOW synchronous_commit")
            database["synchronous_commit"] = cursor.fetchone()[0]
            cursor.execute("SHOW fsync")
            database["fsync"] = cursor.fetchone()[0]
            cursor.execute("SHOW server_version")
        database["version"] = cursor.fetchone()[0]
    chains = {}
    for org in Organisation.objects.all():
        result = check_chain(organisation=org)
        chains[str(org.pk)] = {
            "entries": result.entries,
            "broken_at": result.broken_at,
            "reason": result.reason,
        }
    return {
        "stored": len(notes),
        "stored_distinct": len(set(notes)),
        "audit_entries": AuditEvent.objects.count(),
        "checkins_by_kind": dict(
            Checkin.objects.values_list("kind").annotate(n=Count("id")).order_by()
        ),
        "database": database,
        "audit_chains": chains,
    }


# --- the harness --------------------------------------------------------------------------


@dataclass
class Database:
    """Where one run's server and rig commands point: a SQLite file in ``var``, or
    a PostgreSQL database at ``url``."""

    kind: str
    var: Path
    url: str | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.pop("SAFEPASSAGE_DATABASE_URL", None)
        env.pop("SAFEPASSAGE_SQLITE_PATH", None)
        env["DJANGO_SETTINGS_MODULE"] = "safepassage.settings.test"
        env["SAFEPASSAGE_VAR_DIR"] = str(self.var)
        env["PYTHONPATH"] = str(PROJECT)
        env["SAFEPASSAGE_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        if self.url:
            env["SAFEPASSAGE_DATABASE_URL"] = self.url
        return env


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextlib.contextmanager
def database(kind: str, tmp: Path, server_url: str | None = None) -> Iterator[Database]:
    var = tmp / kind
    var.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        yield Database(kind=kind, var=var)
        return
    import psycopg

    if not server_url:
        raise RuntimeError("PostgreSQL needs a server URL (SAFEPASSAGE_DATABASE_URL)")
    name = f"sp_durability_{uuid.uuid4().hex[:12]}"
    admin = _with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(kind=kind, var=var, url=_with_database(server_url, name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_rig(db: Database, *args: str, timeout: float = 600) -> dict:
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=PROJECT,
        env=db.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"rig {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    db: Database
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
                [
                    sys.executable,
                    "-m",
                    "safepassage.cli",
                    "runserver",
                    "--noreload",
                    "--skip-checks",
                    f"127.0.0.1:{self.port}",
                ],
                cwd=PROJECT,
                env=self.db.env(),
                stdout=log,
                stderr=log,
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until the server accepts connections."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"the server is not running; see {self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return time.monotonic() - began
            time.sleep(0.05)
        raise RuntimeError(f"the server did not start within {timeout} s; see {self.log}")

    def kill(self) -> None:
        if self.proc is None:
            raise RuntimeError("no server to kill")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=15)


def client(
    number: int,
    port: int,
    token: str,
    leg: str,
    count: int,
    acked_counter,
    outcomes_path: str,
) -> None:
    """Post ``count`` check-ins, one at a time; write each id's outcome to a file.

    Outcome lines: ``<id> ack|refused <status>|unknown <error>``. An attempt
    that could not connect is retried unchanged (nothing was sent); one whose
    connection broke after sending is recorded as unknown and not retried
    (it may or may not have been stored).
    """
    path = f"/api/v1/legs/{leg}/checkins/"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connect_retries = 0
    with open(outcomes_path, "w", encoding="utf-8") as out:
        for i in range(count):
            ident = f"c{number}:{i:06d}"
            body = json.dumps({"pin": CHECKIN_PIN, "note": ident})
            while True:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
                try:
                    conn.connect()
                except OSError:
                    connect_retries += 1
                    conn.close()
                    time.sleep(0.05)
                    continue
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    out.write(f"{ident} unknown {type(exc).__name__}\n")
                else:
                    if response.status == 201:
                        out.write(f"{ident} ack\n")
                        with acked_counter.get_lock():
                            acked_counter.value += 1
                    else:
                        out.write(f"{ident} refused {response.status}\n")
                finally:
                    conn.close()
                break
            out.flush()
        out.write(f"# connect_retries {connect_retries}\n")


@dataclass
class Run:
    backend: str
    checkins: int
    clients: int
    kills: int
    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    refused_statuses: dict = field(default_factory=dict)
    unknown: int = 0
    connect_retries: int = 0
    stored: int = 0
    stored_unacknowledged: int = 0
    stored_unknown_outcome: int = 0
    lost_acknowledged: int = 0
    duplicates_stored: int = 0
    kill_times_s: list = field(default_factory=list)
    restart_s: list = field(default_factory=list)
    seconds: float = 0.0
    acknowledged_per_second: float = 0.0
    database: dict = field(default_factory=dict)
    audit_chain_intact: bool = False
    audit_entries: int = 0
    lost_ids: list = field(default_factory=list)


def run(
    kind: str, tmp: Path, *, checkins: int, clients: int, kills: int, server_url: str | None
) -> Run:
    result = Run(backend=kind, checkins=checkins, clients=clients, kills=kills)
    with database(kind, tmp, server_url) as db:
        setup = run_rig(db, "setup", "--legs", str(clients))
        token, legs = setup["token"], setup["legs"]
        server = Server(db=db, port=free_port(), log=db.var / "server.log")
        server.start()
        server.wait_ready()
        shares = [
            checkins // clients + (1 if i < checkins % clients else 0) for i in range(clients)
        ]
        ctx = mp.get_context("fork")
        acked = ctx.Value("i", 0)
        outcome_files = [db.var / f"client-{i}.txt" for i in range(clients)]
        procs = [
            ctx.Process(
                target=client,
                args=(i, server.port, token, legs[i], shares[i], acked, str(outcome_files[i])),
            )
            for i in range(clients)
        ]
        began = time.monotonic()
        for proc in procs:
            proc.start()
        try:
            # Kill when the acknowledged count passes 1/(kills+1), 2/(kills+1)... of the total.
            for k in range(1, kills + 1):
                threshold = checkins * k // (kills + 1)
                while acked.value < threshold:
                    if not any(p.is_alive() for p in procs):
                        raise RuntimeError("the clients finished before the kill")
                    time.sleep(0.01)
                result.kill_times_s.append(round(time.monotonic() - began, 2))
                server.kill()
                server.start()
                result.restart_s.append(round(server.wait_ready(), 2))
            for proc in procs:
                proc.join()
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
            server.stop()
        result.seconds = round(time.monotonic() - began, 1)
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError(f"a client failed: {[p.exitcode for p in procs]}")

        outcomes: dict[str, str] = {}
        for path in outcome_files:
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("# connect_retries"):
                    result.connect_retries += int(line.split()[-1])
                    continue
                ident, outcome, *rest = line.split()
                outcomes[ident] = outcome
                if outcome == "refused":
                    status = rest[0]
                    result.refused_statuses[status] = result.refused_statuses.get(status, 0) + 1
        notes_path = db.var / "stored.txt"
        counted = run_rig(
            db, "count", "--token", token, "--legs", ",".join(legs), "--notes", str(notes_path)
        )
        stored_list = [n for n in notes_path.read_text(encoding="utf-8").splitlines() if n]
        stored = set(stored_list)
        acked_ids = {i for i, o in outcomes.items() if o == "ack"}
        result.sent = len(outcomes)
        result.acknowledged = len(acked_ids)
        result.refused = sum(1 for o in outcomes.values() if o == "refused")
        result.unknown = sum(1 for o in outcomes.values() if o == "unknown")
        result.stored = len(stored_list)
        result.duplicates_stored = len(stored_list) - len(stored)
        result.stored_unacknowledged = len(stored - acked_ids)
        result.stored_unknown_outcome = sum(1 for i in stored if outcomes.get(i) == "unknown")
        lost = sorted(acked_ids - stored)
        result.lost_acknowledged = len(lost)
        result.lost_ids = lost[:50]
        result.acknowledged_per_second = round(result.acknowledged / result.seconds, 1)
        result.database = counted["database"]
        result.audit_entries = counted["audit_entries"]
        result.audit_chain_intact = all(
            c["broken_at"] is None for c in counted["audit_chains"].values()
        )
        # The real command too, as an operator runs it.
        verify = subprocess.run(
            [sys.executable, "-m", "safepassage.cli", "verify_audit"],
            cwd=PROJECT,
            env=db.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result.audit_chain_intact = result.audit_chain_intact and verify.returncode == 0
    return result


def postgres_server(explicit: bool) -> str | None:
    url = os.environ.get("SAFEPASSAGE_DATABASE_URL")
    if url:
        return url
    if not explicit:
        return None
    try:
        import psycopg

        with psycopg.connect(LOCAL_POSTGRES, connect_timeout=2):
            return LOCAL_POSTGRES
    except Exception:
        return None


def report(result: Run) -> str:
    db = result.database
    if db.get("vendor") == "sqlite":
        settings = f"SQLite {db.get('version')} ({db.get('journal_mode')}, synchronous={db.get('synchronous')})"
    else:
        settings = (
            f"PostgreSQL {db.get('version')} (fsync={db.get('fsync')}, "
            f"synchronous_commit={db.get('synchronous_commit')})"
        )
    lines = [
        f"{settings}: {result.clients} clients, {result.kills} SIGKILLs at "
        f"{', '.join(f'{t} s' for t in result.kill_times_s)} "
        f"(back up in {', '.join(f'{t} s' for t in result.restart_s)})",
        f"  sent                          {result.sent:>7}",
        f"  acknowledged (201)            {result.acknowledged:>7}",
        f"  refused (other answers)       {result.refused:>7}  {result.refused_statuses or ''}",
        f"  unknown (connection broken)   {result.unknown:>7}",
        f"  connections refused, retried  {result.connect_retries:>7}",
        f"  stored                        {result.stored:>7}",
        f"  stored, not acknowledged      {result.stored_unacknowledged:>7}"
        f"  (of which outcome unknown: {result.stored_unknown_outcome})",
        f"  lost acknowledged             {result.lost_acknowledged:>7}",
        f"  audit chain                   {'intact' if result.audit_chain_intact else 'BROKEN'}"
        f" ({result.audit_entries} entries)",
        f"  {result.seconds} s, {result.acknowledged_per_second} acknowledged check-ins/s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("setup", help="(internal) build the rig's database")
    s.add_argument("--legs", type=int, required=True)
    c = sub.add_parser("count", help="(internal) count the stored check-ins")
    c.add_argument("--token", required=True)
    c.add_argument("--legs", required=True)
    c.add_argument("--notes", required=True)
    parser.add_argument("--checkins", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    if args.command == "setup":
        _django()
        sys.stdout.write(json.dumps(rig_setup(args.legs)) + "\n")
        return 0
    if args.command == "count":
        _django()
        counted = rig_count(args.token, args.legs.split(","), args.notes)
        sys.stdout.write(json.dumps(counted, default=str) + "\n")
        return 0

    backends = [] if args.no_sqlite else ["sqlite"]
    server_url = postgres_server(args.postgres)
    if server_url:
        backends.append("postgres")
    elif args.postgres:
        print("no PostgreSQL server: set SAFEPASSAGE_DATABASE_URL", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="sp-durability-") as tmp:
        for kind in backends:
            print(f"{kind}: {args.checkins} check-ins from {args.clients} clients ...", flush=True)
            result = run(
                kind,
                Path(tmp),
                checkins=args.checkins,
                clients=args.clients,
                kills=args.kills,
                server_url=server_url,
            )
            print(report(result), flush=True)
            results.append(result)
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_end": os.getloadavg(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(["bench/crash_durability.py", *(argv or sys.argv[1:])]),
                "machine": machine,
                "runs": [asdict(r) for r in results],
            },
            indent=2,
            default=str,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written to {args.output}")
    failed = [r for r in results if r.lost_acknowledged or not r.audit_chain_intact]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
