"""Exposure analysis at scale: ``exposure_of`` for one subject and
``organisation_analysis`` for a whole organisation of 5,000 cells and
50,000 legs.

    .venv/bin/python bench/exposure.py                # SQLite (and PostgreSQL, below)
    .venv/bin/python bench/exposure.py --quick        # 500 cells, 5,000 legs

The organisation is created through the services (its coordinators'
compartment, founder, recovery and audit keys), then everything else is
inserted in bulk with the shape the services give it: a compartment per
case, leg and handoff; a leg's key granted to its cell's members and under
its case's key; a handoff's to the members of the cells of its two legs and
under its case's key; a case's to its coordinators and the recovery key.
Wrapped keys are random bytes of the real length and sealed columns are
empty: the exposure computation reads grant rows and relations, never key
material or sealed values (vehicle and place searches, which do, are not
measured here).

Runs in a throwaway SQLite database in a temporary directory, and, when
SAFEPASSAGE_DATABASE_URL is set, in a fresh database created on that
PostgreSQL server and dropped afterwards. Each database runs in a child
process (Django is configured once per process). Writes
bench/results/exposure.json; docs/BENCHMARKS.md explains the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "exposure.json"
TARGET_ONE_CELL_SECONDS = 1.0

# Shape of the organisation (full run).
CELLS = 5000
LEGS = 50000
LEGS_PER_JOURNEY = 5
MEMBERS_PER_CELL = 2
COORDINATORS = 20
COORDINATORS_PER_CASE = 2
SAFE_HOUSES = 500
CONTACTS = 200
SEED = 20261123


# --- the child: one database --------------------------------------------------------------------


def configure(tmp: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "safepassage.settings.test"
    os.environ["SAFEPASSAGE_VAR_DIR"] = str(tmp)
    os.environ["SAFEPASSAGE_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def insert(model, rows: list[dict]) -> None:
    """INSERT ``rows`` (attname -> value) with executemany: far cheaper than
    model instances. Columns left out get the field's default (``auto_now``
    fields: now), so columns added to a model later need no change here."""
    from django.db import connection, models
    from django.utils import timezone

    if not rows:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            defaults[f.attname] = now
        elif f.has_default() and not f.primary_key:
            defaults[f.attname] = f.get_default()
        else:
            defaults[f.attname] = None
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(
                sql,
                [
                    [
                        f.get_db_prep_save(row.get(f.attname, defaults[f.attname]), connection)
                        for f in fields
                    ]
                    for row in rows[start : start + 5000]
                ],
            )


def build(cells: int, legs: int) -> dict:
    """The organisation, in bulk. Returns ids the measurements pick from."""
    from django.db import transaction

    from safepassage.cases.models import Case, CaseCoordinator, CaseStatus, Traveller
    from safepassage.cells.models import Cell, CellMembership
    from safepassage.contacts.models import Contact
    from safepassage.journeys.models import (
        Handoff,
        HandoffStatus,
        Journey,
        JourneyStatus,
        Leg,
        LegStatus,
    )
    from safepassage.members.models import Member, MemberStatus
    from safepassage.organisations.services import do_create_organisation
    from safepassage.roles import Role
    from safepassage.safehouses.models import SafeHouse
    from safepassage.vault.models import Compartment, CompartmentGrant, CompartmentKind, HolderKind

    rng = random.Random(SEED)
    member_wrap = bytes(80)  # an X25519 sealed box of a 32-byte key
    parent_wrap = bytes(72)  # nonce + XChaCha20-Poly1305 of a 32-byte key
    new = do_create_organisation(
        name="Benchmark network",
        founder_handle="bench-founder",
        founder_password="a long benchmark password 0101",
        founder_display_name="Founder",
    )
    org = new.organisation
    coords_compartment = org.coordinators_compartment_id

    def member(handle: str, role: str) -> dict:
        return {
            "id": uuid.uuid4(),
            "organisation_id": org.pk,
            "handle": handle,
            "role": role,
            "status": MemberStatus.ACTIVE,
            "public_key": bytes(32),
            "sealed_private_key": bytes(72),
            "kdf_salt": bytes(16),
            "kdf_opslimit": 2,
            "kdf_memlimit": 19 * 1024 * 1024,
            "password": "!",  # unusable: nobody logs in
        }

    grants: list[dict] = []

    def grant_member(compartment_id: uuid.UUID, member_id: uuid.UUID) -> None:
        grants.append(
            {
                "compartment_id": compartment_id,
                "version": 1,
                "holder_kind": HolderKind.MEMBER,
                "member_id": member_id,
                "wrapped_key": member_wrap,
            }
        )

    def grant_parent(compartment_id: uuid.UUID, parent_id: uuid.UUID) -> None:
        grants.append(
            {
                "compartment_id": compartment_id,
                "version": 1,
                "holder_kind": HolderKind.PARENT,
                "parent_id": parent_id,
                "parent_version": 1,
                "wrapped_key": parent_wrap,
            }
        )

    def grant_recovery(compartment_id: uuid.UUID) -> None:
        grants.append(
            {
                "compartment_id": compartment_id,
                "version": 1,
                "holder_kind": HolderKind.RECOVERY,
                "wrapped_key": member_wrap,
            }
        )

    coordinators = [new.founder.pk] + [uuid.uuid4() for _ in range(1, COORDINATORS)]
    coordinator_rows = []
    for i, coordinator in enumerate(coordinators[1:], start=1):
        row = member(f"bench-coord-{i}", Role.COORDINATOR)
        row["id"] = coordinator
        coordinator_rows.append(row)
        grant_member(coords_compartment, coordinator)

    cell_ids = [uuid.uuid4() for _ in range(cells)]
    cell_members: dict[uuid.UUID, list[uuid.UUID]] = {}
    members, memberships = [], []
    for i, cell in enumerate(cell_ids):
        ids = []
        for j in range(MEMBERS_PER_CELL):
            row = member(f"bench-m-{i}-{j}", Role.CELL_MEMBER)
            members.append(row)
            memberships.append({"cell_id": cell, "member_id": row["id"], "is_lead": j == 0})
            ids.append(row["id"])
        cell_members[cell] = ids
    houses = [uuid.uuid4() for _ in range(SAFE_HOUSES)]
    contacts = [uuid.uuid4() for _ in range(CONTACTS)]

    compartments: list[dict] = []
    cases, links, travellers, journeys, leg_rows, handoffs = [], [], [], [], [], []

    def compartment(kind: str) -> uuid.UUID:
        pk = uuid.uuid4()
        compartments.append({"id": pk, "organisation_id": org.pk, "kind": kind})
        return pk

    statuses = (
        [JourneyStatus.PLANNING] * 20
        + [JourneyStatus.ACTIVE] * 30
        + [JourneyStatus.COMPLETED] * 45
        + [JourneyStatus.ABORTED] * 5
    )
    case_status = {
        JourneyStatus.PLANNING: CaseStatus.PLANNING,
        JourneyStatus.ACTIVE: CaseStatus.IN_TRANSIT,
        JourneyStatus.COMPLETED: CaseStatus.ARRIVED,
        JourneyStatus.ABORTED: CaseStatus.DETAINED,
    }
    for _ in range(legs // LEGS_PER_JOURNEY):
        case_compartment = compartment(CompartmentKind.CASE)
        journey_status = rng.choice(statuses)
        case = uuid.uuid4()
        cases.append(
            {
                "id": case,
                "organisation_id": org.pk,
                "compartment_id": case_compartment,
                "status": case_status[journey_status],
            }
        )
        grant_recovery(case_compartment)
        for coordinator in rng.sample(coordinators, COORDINATORS_PER_CASE):
            links.append({"case_id": case, "member_id": coordinator})
            grant_member(case_compartment, coordinator)
        for _ in range(rng.randint(1, 3)):
            travellers.append(
                {"id": uuid.uuid4(), "case_id": case, "compartment_id": case_compartment}
            )
        journey = uuid.uuid4()
        journeys.append(
            {
                "id": journey,
                "case_id": case,
                "compartment_id": case_compartment,
                "status": journey_status,
            }
        )
        # Where an active journey is: legs before it are handed off.
        current = rng.randrange(LEGS_PER_JOURNEY)
        these: list[dict] = []
        for position, cell in enumerate(rng.sample(cell_ids, LEGS_PER_JOURNEY)):
            if journey_status == JourneyStatus.PLANNING:
                status = LegStatus.PLANNED
            elif journey_status == JourneyStatus.COMPLETED:
                status = LegStatus.HANDED_OFF
            elif journey_status == JourneyStatus.ABORTED:
                status = LegStatus.CANCELLED
            elif position < current:
                status = LegStatus.HANDED_OFF
            elif position == current:
                status = LegStatus.STARTED
            else:
                status = LegStatus.PLANNED
            leg_compartment = compartment(CompartmentKind.LEG)
            these.append(
                {
                    "id": uuid.uuid4(),
                    "journey_id": journey,
                    "position": position,
                    "cell_id": cell,
                    "contact_id": rng.choice(contacts) if rng.random() < 0.05 else None,
                    "safe_house_id": (
                        rng.choice(houses) if position == 2 and rng.random() < 0.3 else None
                    ),
                    "compartment_id": leg_compartment,
                    "status": status,
                }
            )
            grant_parent(leg_compartment, case_compartment)
            for member_id in cell_members[cell]:
                grant_member(leg_compartment, member_id)
        leg_rows += these
        for position in range(LEGS_PER_JOURNEY + 1):
            before = these[position - 1] if position > 0 else None
            after = these[position] if position < LEGS_PER_JOURNEY else None
            handoff_compartment = compartment(CompartmentKind.HANDOFF)
            done = (after is not None and after["status"] != LegStatus.PLANNED) or (
                after is None and journey_status == JourneyStatus.COMPLETED
            )
            handoffs.append(
                {
                    "id": uuid.uuid4(),
                    "journey_id": journey,
                    "from_leg_id": before["id"] if before else None,
                    "to_leg_id": after["id"] if after else None,
                    "position": position,
                    "compartment_id": handoff_compartment,
                    "status": HandoffStatus.DONE if done else HandoffStatus.PENDING,
                }
            )
            grant_parent(handoff_compartment, case_compartment)
            for leg in (before, after):
                if leg is not None:
                    for member_id in cell_members[leg["cell_id"]]:
                        grant_member(handoff_compartment, member_id)

    with transaction.atomic():
        insert(Member, coordinator_rows + members)
        insert(Cell, [{"id": c, "organisation_id": org.pk} for c in cell_ids])
        insert(CellMembership, memberships)
        insert(SafeHouse, [{"id": h, "organisation_id": org.pk} for h in houses])
        insert(Contact, [{"id": c, "organisation_id": org.pk} for c in contacts])
        insert(Compartment, compartments)
        insert(Case, cases)
        insert(CaseCoordinator, links)
        insert(Traveller, travellers)
        insert(Journey, journeys)
        insert(Leg, leg_rows)
        insert(Handoff, handoffs)
        insert(CompartmentGrant, grants)

    return {
        "organisation": org,
        "cells": cell_ids,
        "cell_members": [m for ids in cell_members.values() for m in ids],
        "coordinators": coordinators,
        "safe_houses": houses,
        "contacts": contacts,
        "handoffs": [h["id"] for h in handoffs],
        "counts": {
            "cells": cells,
            "members": len(coordinators) + len(members),
            "cases": len(cases),
            "travellers": len(travellers),
            "journeys": len(journeys),
            "legs": len(leg_rows),
            "handoffs": len(handoffs),
            "compartments": len(compartments) + 1,
            "grants": CompartmentGrant.objects.filter(compartment__organisation=org).count(),
            "safe_houses": len(houses),
            "contacts": len(contacts),
        },
    }


def timed(fn: Callable[[], object]) -> tuple[float, float, int, object]:
    """Wall seconds, CPU seconds of this process, queries run, result.

    The CPU figure leaves out time spent waiting for a CPU on a busy machine
    (and, for PostgreSQL, the server's own work)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, len(queries.captured_queries), result


def summary(
    samples: list[tuple[float, float, int, object]], describe: Callable[[object], dict]
) -> dict:
    seconds = [s[0] for s in samples]
    cpu = [s[1] for s in samples]
    return {
        "runs": len(samples),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "cpu_median_ms": round(statistics.median(cpu) * 1000, 1),
        "queries": max(s[2] for s in samples),
        "typical_result": describe(samples[len(samples) // 2][3]),
    }


def sizes(exposure) -> dict:
    return {
        "compartments": len(exposure.compartment_ids),
        "legs": len(exposure.leg_ids),
        "handoffs": len(exposure.handoff_ids),
        "travellers": len(exposure.traveller_ids),
        "adjacent_cells": len(exposure.adjacent_cell_ids),
        "open_legs": len(exposure.open_leg_ids),
    }


def measure(world: dict, samples: int) -> dict:
    from django.db import connection

    from safepassage.compromise.analysis import organisation_analysis
    from safepassage.compromise.exposure import Subject, SubjectKind, exposure_of
    from safepassage.compromise.graph import exposure_graph_svg

    org = world["organisation"]
    rng = random.Random(SEED + 1)
    # Warm the connection and the database's caches as a running server would be.
    exposure_of(organisation=org, subject=Subject(SubjectKind.CELL, world["cells"][0]))

    def each(kind: str, ids: list, count: int) -> dict:
        chosen = rng.sample(ids, min(count, len(ids)))
        runs = [
            timed(lambda i=i: exposure_of(organisation=org, subject=Subject(kind, i)))
            for i in chosen
        ]
        return summary(runs, sizes)

    results = {
        "cell": each(SubjectKind.CELL, world["cells"], samples),
        "cell_member": each(SubjectKind.MEMBER, world["cell_members"], samples),
        "coordinator": each(SubjectKind.MEMBER, world["coordinators"], 3),
        "safe_house": each(SubjectKind.SAFE_HOUSE, world["safe_houses"], samples // 2),
        "contact": each(SubjectKind.CONTACT, world["contacts"], samples // 2),
        "handoff": each(SubjectKind.HANDOFF, world["handoffs"], samples // 2),
    }
    runs = [timed(lambda: organisation_analysis(organisation=org)) for _ in range(3)]
    results["organisation_analysis"] = summary(
        runs,
        lambda a: {
            "cells": len(a.cells),
            "links": len(a.links),
            "warnings": len(a.warnings),
            "by_kind": {
                kind: sum(1 for w in a.warnings if w.kind == kind)
                for kind in sorted({w.kind for w in a.warnings})
            },
        },
    )
    analysis = runs[-1][3]
    labels = {cell_id: f"Cell {i}" for i, cell_id in enumerate(world["cells"])}
    graph = [
        timed(lambda: exposure_graph_svg(analysis, labels=labels))  # type: ignore[arg-type]
        for _ in range(3)
    ]
    results["graph_svg"] = summary(graph, lambda svg: {"bytes": len(svg)})  # type: ignore[arg-type]
    results["database"] = connection.vendor
    return results


def child(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        configure(Path(tmp))
        from django.db import connection

        started = time.perf_counter()
        world = build(args.cells, args.legs)
        built = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        figures = measure(world, args.samples)
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("select sqlite_version()")
                version = "SQLite " + cursor.fetchone()[0]
            else:
                cursor.execute("SHOW server_version")
                version = "PostgreSQL " + cursor.fetchone()[0]
        figures.update(
            {"server": version, "build_seconds": round(built, 1), "shape": world["counts"]}
        )
        print("RESULT " + json.dumps(figures), flush=True)


# --- the parent: every database, then the results file ------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def run_child(args: argparse.Namespace, database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SAFEPASSAGE_DATABASE_URL"}
    if database_url:
        env["SAFEPASSAGE_DATABASE_URL"] = database_url
    command = [
        sys.executable,
        __file__,
        "--child",
        "--cells",
        str(args.cells),
        "--legs",
        str(args.legs),
        "--samples",
        str(args.samples),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    sys.stderr.write(done.stderr[-4000:] if done.returncode else "")
    if done.returncode:
        raise SystemExit(f"benchmark child failed ({done.returncode})")
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def machine() -> dict:
    cpu = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout  # noqa: S607
        cpu = next((x.split(":", 1)[1].strip() for x in out.splitlines() if "Model name" in x), "")
    except OSError:
        pass
    memory = ""
    try:
        kib = next(
            int(x.split()[1])
            for x in Path("/proc/meminfo").read_text().splitlines()
            if "MemTotal" in x
        )
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1_5_15": list(os.getloadavg()),
    }


def print_table(kind: str, figures: dict) -> None:
    print(f"\n[{figures['server']}] built in {figures['build_seconds']} s: {figures['shape']}")
    print(
        f"{'measure':<24}{'median ms':>12}{'max ms':>10}{'cpu ms':>9}{'queries':>9}  typical result"
    )
    for name in (
        "cell",
        "cell_member",
        "coordinator",
        "safe_house",
        "contact",
        "handoff",
        "organisation_analysis",
        "graph_svg",
    ):
        f = figures[name]
        print(
            f"{name:<24}{f['median_ms']:>12}{f['max_ms']:>10}{f['cpu_median_ms']:>9}"
            f"{f['queries']:>9}  "
            f"{f['typical_result']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 cells, 5,000 legs")
    parser.add_argument("--cells", type=int, default=None)
    parser.add_argument("--legs", type=int, default=None)
    parser.add_argument("--samples", type=int, default=25, help="subjects timed per kind")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.cells = args.cells or (CELLS // 10 if args.quick else CELLS)
    args.legs = args.legs or (LEGS // 10 if args.quick else LEGS)
    if args.child:
        child(args)
        return

    started = time.perf_counter()
    load_at_start = list(os.getloadavg())
    results: dict = {}
    print(f"SQLite: {args.cells} cells, {args.legs} legs ...", flush=True)
    results["sqlite"] = run_child(args, None)
    print_table("sqlite", results["sqlite"])
    server = os.environ.get("SAFEPASSAGE_DATABASE_URL")
    if server:
        import psycopg

        name = f"sp_bench_exposure_{uuid.uuid4().hex[:10]}"
        admin = _with_database(server, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            print(f"\nPostgreSQL: {args.cells} cells, {args.legs} legs ...", flush=True)
            results["postgresql"] = run_child(args, _with_database(server, name))
            print_table("postgresql", results["postgresql"])
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    one_cell_max = max(r["cell"]["max_ms"] for r in results.values()) / 1000
    out = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "target_one_cell_seconds": TARGET_ONE_CELL_SECONDS,
        "meets_target": one_cell_max < TARGET_ONE_CELL_SECONDS,
        "databases": results,
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    verdict = "meets" if out["meets_target"] else "MISSES"
    print(f"\none cell, slowest: {one_cell_max * 1000:.0f} ms ({verdict} the < 1 s target)")
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
