"""`safepassage purge`: purge the cases whose retention period has ended.

The worker does the same at each tick; this command shows what it
destroyed (``--dry-run``: what it would destroy). Purging is
crypto-shredding: every wrapped copy of the case's keys and of its legs' and
handoffs' keys is destroyed, then the rows (``safepassage.cases.retention``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from safepassage.cases.retention import BATCH, PurgeReport, expired_cases, purge_expired


def describe(report: PurgeReport) -> str:
    ended = report.ended_at.date().isoformat() if report.ended_at else "-"
    return (
        f"case {report.case_id} (organisation {report.organisation_id}, {report.status} "
        f"{ended}): {report.compartments} compartments, {report.grants} key copies "
        f"({report.member_grants} member, {report.parent_grants} parent, "
        f"{report.recovery_grants} recovery), {report.pending_grants} pending grants, "
        f"{report.rows} records"
    )


class Command(BaseCommand):
    help = (
        "Purge (crypto-shred) every case that arrived or was closed more than "
        "SAFEPASSAGE_RETENTION_DAYS ago, and show what was destroyed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be purged; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        days = settings.SAFEPASSAGE_RETENTION_DAYS
        if days <= 0:
            self.stdout.write(
                "Automatic purging is off (SAFEPASSAGE_RETENTION_DAYS=0); nothing was purged."
            )
            return
        if dry_run:
            reports = purge_expired(dry_run=True, limit=expired_cases().count())
        else:
            reports = []
            while True:  # each case is its own transaction
                batch = purge_expired()
                reports += batch
                if len(batch) < BATCH:
                    break
        verb = "would purge" if dry_run else "purged"
        for report in reports:
            self.stdout.write(f"{verb} {describe(report)}")
        if not reports:
            self.stdout.write(
                f"Nothing to purge: no case arrived or was closed more than {days} days ago."
            )
            return
        summary = (
            f"{len(reports)} case(s), {sum(r.compartments for r in reports)} compartments, "
            f"{sum(r.grants for r in reports)} key copies, "
            f"{sum(r.pending_grants for r in reports)} pending grants, "
            f"{sum(r.rows for r in reports)} records"
        )
        if dry_run:
            self.stdout.write(f"Dry run: would destroy {summary}. Nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Destroyed {summary}."))
