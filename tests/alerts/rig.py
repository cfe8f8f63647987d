"""A database full of deadlines falling due, for worker processes to chew on.

    python -m tests.alerts.rig setup --deadlines 300 --first -1 --last 6
    python -m tests.alerts.rig status

``setup`` migrates the database named by ``tests.alerts.rig_settings``,
builds the test world, starts its journey, adds one started leg per deadline
and gives each an in-transit deadline alerting between ``--first`` and
``--last`` seconds from the end of setup (spread at random). It prints JSON
with that moment. ``status`` prints counts and whether the audit chain holds.
Used by the SIGKILL and two-worker tests and by bench/alert_latency.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import timedelta


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.alerts.rig_settings")
    import django

    django.setup()


def setup(deadlines: int, first: float, last: float, seed: int) -> dict:
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    from safepassage.checkins.models import Deadline, DeadlineKind
    from safepassage.journeys.models import Journey, JourneyStatus, Leg, LegStatus
    from tests.factories import build_world

    world = build_world()
    Journey.objects.filter(pk=world.journey.pk).update(status=JourneyStatus.ACTIVE)
    template = world.legs[0]
    started = timezone.now()
    legs = Leg.objects.bulk_create(
        [
            Leg(
                journey=world.journey,
                position=100 + i,
                cell=template.cell,
                compartment_id=template.compartment_id,
                status=LegStatus.STARTED,
                started_at=started,
            )
            for i in range(deadlines)
        ]
    )
    rng = random.Random(seed)
    base = timezone.now()
    rows = []
    for leg in legs:
        alert_at = base + timedelta(seconds=rng.uniform(first, last))
        rows.append(
            Deadline(
                organisation_id=world.org.pk,
                leg=leg,
                kind=DeadlineKind.IN_TRANSIT,
                due_at=alert_at - timedelta(minutes=15),
                alert_at=alert_at,
            )
        )
    Deadline.objects.bulk_create(rows)
    return {"base": base.isoformat(), "deadlines": deadlines, "organisation": str(world.org.pk)}


def status() -> dict:
    from django.db.models import Count

    from safepassage.alerts.models import Alert
    from safepassage.audit.selectors import first_broken_link
    from safepassage.checkins.models import Deadline
    from safepassage.notifications.models import Notification
    from safepassage.organisations.models import Organisation

    return {
        "deadlines": dict(Deadline.objects.values_list("state").annotate(n=Count("id"))),
        "alerts": Alert.objects.count(),
        "alerts_with_deadline": Alert.objects.filter(deadline__isnull=False).count(),
        "deadlines_alerted_twice": Alert.objects.filter(deadline__isnull=False)
        .values("deadline")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "notifications": Notification.objects.count(),
        "notifications_twice": Notification.objects.values("alert", "member")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "audit_chain_broken_at": [
            first_broken_link(organisation=org) for org in Organisation.objects.all()
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--deadlines", type=int, default=300)
    s.add_argument("--first", type=float, default=-1.0)
    s.add_argument("--last", type=float, default=6.0)
    s.add_argument("--seed", type=int, default=7)
    sub.add_parser("status")
    args = parser.parse_args(argv)
    _django()
    if args.command == "setup":
        result = setup(args.deadlines, args.first, args.last, args.seed)
    else:
        result = status()
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
