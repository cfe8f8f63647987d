"""What sealing costs: per field, at login, and on the coordinator dashboard.

    .venv/bin/python bench/vault.py            # or: make bench
    .venv/bin/python bench/vault.py --quick    # fewer repetitions, same figures roughly
    .venv/bin/python bench/vault.py --profile  # also profile the dashboard render

Builds everything in a throwaway SQLite database in a temporary directory
(through the services, so the key graph is the one production builds), with
production-grade Argon2id (t=3, m=64 MiB), prints a table and writes
bench/results/vault.json. docs/BENCHMARKS.md explains each figure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "vault.json"
PASSWORD = "a long benchmark password 0101"
ARGON2_OPSLIMIT = 3
ARGON2_MEMLIMIT = 64 * 1024 * 1024
TARGET_RATIO = 1.25


def configure(tmp: Path) -> None:
    """Point Django at a throwaway SQLite database before anything imports settings."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "safepassage.settings.test"
    os.environ["SAFEPASSAGE_VAR_DIR"] = str(tmp)
    os.environ["SAFEPASSAGE_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    os.environ.pop("SAFEPASSAGE_DATABASE_URL", None)
    os.environ["SAFEPASSAGE_ARGON2_OPSLIMIT"] = str(ARGON2_OPSLIMIT)
    os.environ["SAFEPASSAGE_ARGON2_MEMLIMIT"] = str(ARGON2_MEMLIMIT)
    # The Django test client's host name.
    os.environ["SAFEPASSAGE_ALLOWED_HOSTS"] = "testserver"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def check(condition: bool, message: str) -> None:
    """Stop the benchmark when it would measure the wrong thing (kept under ``-O``)."""
    if not condition:
        raise RuntimeError(message)


# --- timing ------------------------------------------------------------------------------------


def per_op_us(fn: Callable[[], object], *, ops: int, batches: int) -> dict[str, float]:
    """Microseconds per call: the median over ``batches`` of the mean of ``ops``
    calls, and the best batch (the figure least disturbed by other work)."""
    fn()  # warm up
    samples = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(ops):
            fn()
        samples.append((time.perf_counter_ns() - start) / ops / 1000)
    return {"median": statistics.median(samples), "best": min(samples)}


def median_ms(fn: Callable[[], object], *, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


# --- 1. sealing and opening one field --------------------------------------------------------------


def bench_fields(quick: bool) -> list[dict]:
    from safepassage.journeys.models import Handoff, Leg
    from safepassage.vault import crypto
    from safepassage.vault.keyring import Keyring, unlocked

    key, version = crypto.new_data_key(), 1
    ring = Keyring()
    leg = Leg(compartment_id=uuid.uuid4())
    handoff = Handoff(compartment_id=uuid.uuid4())
    ring.remember(leg.compartment_id, version, key)
    ring.remember(handoff.compartment_id, version, key)

    cases = [
        ("short text (18 B)", Leg, leg, "route", "Yanji to Changchun"),
        ("note (1 KB)", Leg, leg, "notes", ("Meet at the back door. " * 45)[:1024]),
        ("photo (200 KB)", Handoff, handoff, "photo", os.urandom(200 * 1024)),
    ]
    rows = []
    for label, model, instance, name, value in cases:
        field = model._meta.get_field(name)
        size = len(value) if isinstance(value, bytes) else len(value.encode())
        big = size > 10_000
        ops = (20 if big else 2000) // (4 if quick else 1)
        batches = 9 if quick else 25
        data = value if isinstance(value, bytes) else value.encode()
        aad = field.aad(instance, instance.compartment_id)
        blob = crypto.seal_for_compartment(key, data, aad, version=version)
        with unlocked(ring):
            sealed = field.seal(instance, value)
            check(field.open(instance, sealed) == value, f"{label} did not round-trip")
            timings = {
                "crypto_seal": lambda d=data, a=aad: crypto.seal_for_compartment(
                    key, d, a, version=version
                ),
                "crypto_open": lambda b=blob, a=aad: crypto.open_with_compartment_key(key, b, a),
                "field_seal": lambda f=field, i=instance, v=value: f.seal(i, v),
                "field_open": lambda f=field, i=instance, s=sealed: f.open(i, s),
            }
            row: dict = {"value": label, "bytes": size}
            for op, fn in timings.items():
                figures = per_op_us(fn, ops=ops, batches=batches)
                row[f"{op}_us"] = figures["median"]
                row[f"{op}_best_us"] = figures["best"]
            rows.append(row)
    return rows


# --- building organisations ----------------------------------------------------------------------


def build_organisation(name: str, *, cases: int, legs_per_case: int, cells: int) -> dict:
    """An organisation with ``cases`` cases of one active journey of ``legs_per_case``
    legs each, legs spread over ``cells`` cells of one member each."""
    from django.utils import timezone

    from safepassage.cases.services import do_add_traveller, do_open_case
    from safepassage.cells.services import do_create_cell
    from safepassage.journeys.services import do_add_leg, do_create_journey, do_start_journey
    from safepassage.members.services import (
        do_accept_invitation,
        do_approve_member,
        do_invite_member,
    )
    from safepassage.organisations.services import do_create_organisation
    from safepassage.roles import Role
    from safepassage.vault.keyring import unlocked

    tag = uuid.uuid4().hex[:6]
    new = do_create_organisation(
        name=name,
        founder_handle=f"coord-{tag}",
        founder_password=PASSWORD,
        founder_display_name="Benchmark Coordinator",
    )
    coord, ring = new.founder, new.keyring
    now = timezone.now()
    with unlocked(ring):
        cell_list = [
            do_create_cell(actor=coord, codename=f"Cell {i:02d}", specialty="driver")
            for i in range(cells)
        ]
        for i, cell in enumerate(cell_list):
            _inv, token = do_invite_member(
                actor=coord, role=Role.CELL_MEMBER, cell=cell, display_name=f"Driver {i}"
            )
            member, _key = do_accept_invitation(
                token=token, handle=f"m{i}-{tag}", password=PASSWORD
            )
            do_approve_member(actor=coord, member=member)
        for c in range(cases):
            case = do_open_case(actor=coord, codename=f"Case {c:02d}", needs="none known")
            do_add_traveller(actor=coord, case=case, name=f"Traveller {c:02d}")
            journey = do_create_journey(actor=coord, case=case, title=f"Route {c:02d}")
            for n in range(legs_per_case):
                do_add_leg(
                    actor=coord,
                    journey=journey,
                    cell=cell_list[(c + n) % cells],
                    route=f"Town {n} to Town {n + 1}",
                    vehicle="grey van",
                    window_start=now + timedelta(hours=2 * n + 1),
                    window_end=now + timedelta(hours=2 * n + 2),
                )
            do_start_journey(actor=coord, journey=journey)
    coord.refresh_from_db()
    return {"coord": coord, "keyring": ring, "organisation": new.organisation}


# --- 2. login ----------------------------------------------------------------------------------------


def bench_login(coord, ring, quick: bool) -> dict:
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.test import RequestFactory

    from safepassage.members.services import log_in, unlock_private_key
    from safepassage.vault import services as vault
    from safepassage.vault.keyring import unlocked
    from safepassage.vault.models import Compartment

    runs = 3 if quick else 9

    def full_login() -> None:
        request = RequestFactory().post("/members/login/")
        SessionMiddleware(lambda r: None).process_request(request)
        request.user = AnonymousUser()
        member = log_in(request, handle=coord.handle, password=PASSWORD)
        check(member is not None, "log_in refused the benchmark coordinator")
        request.session.save()

    def rotations_due() -> int:
        return Compartment.objects.filter(
            organisation_id=coord.organisation_id, rotation_due=True
        ).count()

    def interleaved(login_label: str) -> dict[str, list[float]]:
        """Time the parts and the whole in turn, so that other work on the
        machine (Argon2id is memory-bound) weighs on each alike."""
        steps = {
            "unwrap": lambda: unlock_private_key(coord, PASSWORD),
            "password_check": lambda: coord.check_password(PASSWORD),
            login_label: full_login,
        }
        samples: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(runs):
            for name, step in steps.items():
                start = time.perf_counter_ns()
                step()
                samples[name].append((time.perf_counter_ns() - start) / 1e6)
        return samples

    due_before = rotations_due()
    # Building journeys leaves handoff compartments due for rotation (their
    # former cells were revoked); log_in tries to rotate them.
    first = interleaved("log_in")
    due_after = rotations_due()
    # The same once those rotations are done (with the keys in force).
    with unlocked(ring):
        vault.rotate_due(keyring=ring, organisation_id=coord.organisation_id)
    cleared = rotations_due()
    second = interleaved("log_in_nothing_due")
    return {
        "argon2_opslimit": coord.kdf_opslimit,
        "argon2_memlimit": coord.kdf_memlimit,
        "runs": runs,
        "unwrap_ms": statistics.median(first["unwrap"] + second["unwrap"]),
        "password_check_ms": statistics.median(first["password_check"] + second["password_check"]),
        "log_in_ms": statistics.median(first["log_in"]),
        "log_in_nothing_due_ms": statistics.median(second["log_in_nothing_due"]),
        "rotations_due_before": due_before,
        "rotations_due_after_log_in": due_after,
        "rotations_due_cleared": cleared,
    }


# --- 3. the dashboard -----------------------------------------------------------------------------------


def logged_in_client(coord, ring):
    from django.conf import settings
    from django.test import Client

    from safepassage.members import second_factor
    from safepassage.vault import session as vault_session

    client = Client()
    client.force_login(coord)
    session = client.session
    blob, cookie = vault_session.seal_session_material(ring.member_private_key)
    session[vault_session.SESSION_BLOB] = blob
    session[vault_session.SESSION_MEMBER] = str(coord.pk)
    # A coordinator's session as the login leaves it once the second factor passed.
    session[second_factor.SESSION_KEY] = str(coord.pk)
    session.save()
    client.cookies[settings.VAULT_COOKIE_NAME] = cookie
    return client


def dashboard_get(client, expected_legs: int) -> Callable[[], None]:
    from django.urls import reverse

    url = reverse("dashboard:home")

    def get() -> None:
        response = client.get(url)
        check(response.status_code == 200, f"dashboard answered {response.status_code}")
        # The page really lists every leg (one table row each).
        rows = response.content.count(b'<th scope="row" class="num">')
        check(rows == expected_legs, f"dashboard shows {rows} legs, not {expected_legs}")

    return get


def count_opens(fn: Callable[[], None]) -> int:
    """How many sealed values one call opens."""
    from safepassage.vault import crypto

    original = crypto.open_with_compartment_key
    calls = 0

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    crypto.open_with_compartment_key = counting
    try:
        fn()
    finally:
        crypto.open_with_compartment_key = original
    return calls


def profile_points() -> list[tuple[str, Callable]]:
    """Where a dashboard request spends its time. Rendering includes the sealed
    values opened and the queries run lazily by the template, so the lines
    overlap; each is the total time inside that function."""
    from django.db.models.query import ModelIterable
    from django.db.models.sql.compiler import SQLCompiler
    from django.template.backends.django import Template
    from django.test import Client

    from safepassage.vault import crypto, session
    from safepassage.vault.fields import SealedField
    from safepassage.vault.keyring import Keyring

    return [
        ("whole request", Client.request),
        ("template rendering", Template.render),
        ("queries: compile and execute", SQLCompiler.execute_sql),
        ("queries: rows to model instances", ModelIterable.__iter__),
        ("sealed values opened (SealedField.open)", SealedField.open),
        ("  of which AEAD decryption", crypto.open_with_compartment_key),
        ("key resolution (Keyring.load)", Keyring.load),
        ("session key material", session.keyring_from_request),
    ]


def profile(fn: Callable[[], None], runs: int = 10, top: int = 15) -> dict:
    """cProfile ``runs`` calls: milliseconds per call inside each of
    ``profile_points``, and the functions with the most time of their own."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    cumulative = {key: value[3] for key, value in stats.stats.items()}  # type: ignore[attr-defined]
    points = {}
    for label, function in profile_points():
        code = function.__code__
        key = (code.co_filename, code.co_firstlineno, code.co_name)
        points[label] = round(cumulative.get(key, 0.0) / runs * 1000, 2)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return {"ms_per_request": points, "top_own_time": out.getvalue()}


def bench_dashboard(sealed_org: dict, plain_org: dict, legs: int, quick: bool, want_profile: bool):
    from safepassage.dashboard.selectors import compartments_shown, dashboard_legs
    from safepassage.vault.fields import sealing_switched_off
    from safepassage.vault.keyring import Keyring

    sealed_get = dashboard_get(logged_in_client(sealed_org["coord"], sealed_org["keyring"]), legs)
    plain_client = logged_in_client(plain_org["coord"], plain_org["keyring"])
    plain_get = dashboard_get(plain_client, legs)

    def plain() -> None:
        with sealing_switched_off():
            plain_get()

    for _ in range(3):  # warm up both (templates, URL resolver, connections)
        sealed_get()
        plain()
    pairs = 25 if quick else 120
    sealed_samples: list[float] = []
    plain_samples: list[float] = []
    for _ in range(pairs):  # alternate request by request: load on the machine hits both alike
        for get, samples in ((sealed_get, sealed_samples), (plain, plain_samples)):
            start = time.perf_counter_ns()
            get()
            samples.append((time.perf_counter_ns() - start) / 1e6)
    sealed_ms, plain_ms = statistics.median(sealed_samples), statistics.median(plain_samples)
    paired = statistics.median(a / b for a, b in zip(sealed_samples, plain_samples, strict=True))

    # Resolving the keys the page needs (done in both modes: switching sealing
    # off stores fields as plaintext but leaves the key graph in place).
    coord, ring = sealed_org["coord"], sealed_org["keyring"]
    shown = compartments_shown(coord, dashboard_legs(coord))

    def resolve() -> None:
        Keyring(member_id=coord.pk, member_private_key=ring.member_private_key).load(shown)

    result = {
        "legs": legs,
        "requests_each": len(sealed_samples),
        "sealed_ms": sealed_ms,
        "unsealed_ms": plain_ms,
        "ratio": sealed_ms / plain_ms,
        # The median of the ratios of neighbouring requests: a check on the above.
        "ratio_paired_median": paired,
        "target_ratio": TARGET_RATIO,
        "sealed_values_opened_per_page": count_opens(sealed_get),
        "compartments_resolved_per_page": len(shown),
        "key_resolution_ms": median_ms(resolve, runs=5 if quick else 15),
    }
    if want_profile or result["ratio"] > TARGET_RATIO:
        result["profile_sealed"] = profile(sealed_get)
        result["profile_unsealed"] = profile(plain)
    return result


# --- the machine ------------------------------------------------------------------------------------------


def machine() -> dict:
    import sqlite3

    import django
    import nacl

    cpu = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "django": django.get_version(),
        "pynacl": nacl.__version__,
        "platform": platform.platform(),
        # Other work on the machine shows in every figure.
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# --- report --------------------------------------------------------------------------------------------------


def report(results: dict) -> str:
    lines = [
        "",
        "1. Sealing and opening one value (µs per operation: median of batches, best batch)",
        "",
    ]
    ops = ("crypto_seal", "crypto_open", "field_seal", "field_open")
    lines.append(f"{'value':<20}" + "".join(f"{op.replace('_', ' '):>16}" for op in ops))
    for row in results["fields"]:
        cells = "".join(f"{row[op + '_us']:>8.1f} ({row[op + '_best_us']:>5.1f})" for op in ops)
        lines.append(f"{row['value']:<20}{cells}")
    login = results["login"]
    lines += [
        "",
        f"2. Login (Argon2id t={login['argon2_opslimit']}, m={login['argon2_memlimit'] // 2**20} MiB; median of {login['runs']}, ms)",
        "",
        f"{'password -> private key (unlock_private_key)':<52} {login['unwrap_ms']:>8.1f}",
        f"{'password hash check (argon2-cffi)':<52} {login['password_check_ms']:>8.1f}",
        f"{'full log_in, ' + str(login['rotations_due_before']) + ' rotations due':<52} {login['log_in_ms']:>8.1f}",
        f"{'full log_in, nothing due':<52} {login['log_in_nothing_due_ms']:>8.1f}",
    ]
    d = results["dashboard"]
    lines += [
        "",
        f"3. Coordinator dashboard, {d['legs']} active legs (median of {d['requests_each']} requests, ms)",
        "",
        f"{'sealed':<52} {d['sealed_ms']:>8.1f}",
        f"{'sealing switched off':<52} {d['unsealed_ms']:>8.1f}",
        f"{'ratio sealed / unsealed (target <= ' + str(d['target_ratio']) + ')':<52} {d['ratio']:>8.2f}",
        f"{'median of paired ratios (a cross-check)':<52} {d['ratio_paired_median']:>8.2f}",
        f"{'sealed values opened per page':<52} {d['sealed_values_opened_per_page']:>8d}",
        f"{'compartments resolved per page':<52} {d['compartments_resolved_per_page']:>8d}",
        f"{'resolving those keys (in both modes)':<52} {d['key_resolution_ms']:>8.1f}",
    ]
    m = results["machine"]
    lines += [
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, {m['memory']}; Python {m['python']}, "
        f"SQLite {m['sqlite']}, Django {m['django']}, PyNaCl {m['pynacl']}; "
        f"load average {' '.join(f'{x:.2f}' for x in m['load_average_at_start'] or [])} at the start, "
        f"{' '.join(f'{x:.2f}' for x in m['load_average_1_5_15'] or [])} at the end",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--profile", action="store_true", help="profile the dashboard render")
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--legs-per-case", type=int, default=10)
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="safepassage-bench-") as tmp:
        configure(Path(tmp))
        from safepassage.vault.fields import sealing_switched_off

        started = time.perf_counter()
        print("sealing and opening single values ...", flush=True)
        fields = bench_fields(args.quick)
        print("building the sealed organisation ...", flush=True)
        shape = {"cases": args.cases, "legs_per_case": args.legs_per_case, "cells": args.cells}
        sealed_org = build_organisation("Sealed Network", **shape)
        print("building the unsealed organisation ...", flush=True)
        with sealing_switched_off():
            plain_org = build_organisation("Plain Network", **shape)
        print("login ...", flush=True)
        login = bench_login(sealed_org["coord"], sealed_org["keyring"], args.quick)
        print("dashboard ...", flush=True)
        legs = args.cases * args.legs_per_case
        dashboard = bench_dashboard(sealed_org, plain_org, legs, args.quick, args.profile)

    results = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "shape": shape,
        "fields": fields,
        "login": login,
        "dashboard": {k: v for k, v in dashboard.items() if not k.startswith("profile_")},
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(report(results))
    if "profile_sealed" in dashboard:
        sealed_points = dashboard["profile_sealed"]["ms_per_request"]
        plain_points = dashboard["profile_unsealed"]["ms_per_request"]
        print("Dashboard profile (cProfile, ms per request; profiling slows everything down)")
        print(f"{'':<44} {'sealed':>10} {'unsealed':>10}")
        for label in sealed_points:
            print(f"{label:<44} {sealed_points[label]:>10.1f} {plain_points[label]:>10.1f}")
        print()
        print("--- sealed dashboard: functions with the most time of their own ---")
        print(dashboard["profile_sealed"]["top_own_time"])
        results["dashboard_profile"] = {
            "sealed_ms_per_request": sealed_points,
            "unsealed_ms_per_request": plain_points,
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(
        f"written to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
