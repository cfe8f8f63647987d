"""What the one-button compromise response costs: a cell that runs many legs
is declared compromised, and the response freezes, notifies, revokes,
rotates every exposed compartment and burns, in one transaction.

    .venv/bin/python bench/compromise_response.py            # 3 runs, 21 legs per cell
    .venv/bin/python bench/compromise_response.py --quick    # 1 run

Each run builds a fresh organisation through the services (bench/vault.py's
``build_organisation``: 7 cases of one active 6-leg journey, legs alternating
between 2 cells, so the declared cell runs 21 legs), declares the first
cell compromised (raid) and responds with every step, as the coordinator
holding every case. Measured: wall-clock time and queries of the declaration
and of the response, and the compartments rotated. Runs in a throwaway
SQLite database in a temporary directory; writes
bench/results/compromise_response.json. docs/BENCHMARKS.md explains the
figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "compromise_response.json"
sys.path.insert(0, str(BENCH))

import vault as vault_bench  # noqa: E402 - bench/vault.py, beside this file

CASES = 7
LEGS_PER_CASE = 6
CELLS = 2


def one_run(run: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safepassage.cells.models import Cell
    from safepassage.compromise.exposure import Subject, SubjectKind
    from safepassage.compromise.models import Compromise
    from safepassage.compromise.services import do_declare_compromise, do_respond_to_compromise
    from safepassage.journeys.models import Leg, LegStatus
    from safepassage.vault.keyring import Keyring, unlocked

    org = vault_bench.build_organisation(
        f"Response benchmark {run}", cases=CASES, legs_per_case=LEGS_PER_CASE, cells=CELLS
    )
    coord = org["coord"]
    ring = org["keyring"]
    cell = Cell.objects.filter(organisation=org["organisation"]).order_by("codename").first()
    legs_of_cell = Leg.objects.filter(cell=cell).count()

    def fresh() -> Keyring:
        # As a new request resolves the coordinator's keys.
        return Keyring(member_id=ring.member_id, member_private_key=ring.member_private_key)

    with unlocked(fresh()), CaptureQueriesContext(connection) as declared_queries:
        start = time.perf_counter()
        compromise = do_declare_compromise(
            actor=coord, subject=Subject(SubjectKind.CELL, cell.pk), reason="raid", notes=""
        )
        declare_s = time.perf_counter() - start

    with unlocked(fresh()), CaptureQueriesContext(connection) as responded_queries:
        start = time.perf_counter()
        do_respond_to_compromise(actor=coord, compromise=compromise)
        respond_s = time.perf_counter() - start

    with unlocked(fresh()):
        done = Compromise.objects.get(pk=compromise.pk).response
    rotated = len(done["rotated_compartment_ids"])
    vault_bench.check(rotated > legs_of_cell, "the response rotated fewer compartments than legs")
    vault_bench.check(
        not Leg.objects.filter(cell=cell).exclude(status=LegStatus.FROZEN).exists(),
        "a leg of the compromised cell was left unfrozen",
    )
    return {
        "legs_of_cell": legs_of_cell,
        "declare_s": declare_s,
        "declare_queries": len(declared_queries.captured_queries),
        "respond_s": respond_s,
        "respond_queries": len(responded_queries.captured_queries),
        "compartments_rotated": rotated,
        "rotation_due_left": len(done["rotation_due_ids"]),
        "ms_per_rotated_compartment": respond_s * 1000 / rotated,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run instead of three")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="safepassage-bench-") as tmp:
        vault_bench.configure(Path(tmp))
        runs = [one_run(n) for n in range(1 if args.quick else 3)]
        results = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "shape": {"cases": CASES, "legs_per_case": LEGS_PER_CASE, "cells": CELLS},
            "runs": runs,
            "median": {
                key: statistics.median(run[key] for run in runs)
                for key in ("declare_s", "respond_s", "ms_per_rotated_compartment")
            },
            "machine": vault_bench.machine(),
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    print(f"\nA cell running {runs[0]['legs_of_cell']} legs declared compromised (SQLite)\n")
    print("run  declare (s)  queries  respond (s)  queries  rotated  ms per rotation")
    for n, run in enumerate(runs, start=1):
        print(
            f"{n:>3}  {run['declare_s']:>11.2f}  {run['declare_queries']:>7}  "
            f"{run['respond_s']:>11.2f}  {run['respond_queries']:>7}  "
            f"{run['compartments_rotated']:>7}  {run['ms_per_rotated_compartment']:>15.1f}"
        )
    load = results["machine"]["load_average_1_5_15"]
    print(f"\nload average (1, 5, 15 min): {load}; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
