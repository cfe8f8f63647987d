"""`safepassage restore FILE --identity KEYFILE`: restore a backup into an empty database.

The file is decrypted once to verify it (damaged, truncated, or made for
another key: refused, nothing touched), then restored in one transaction;
every organisation's audit chain must verify before it commits. Members
must log in again afterwards (sessions are never backed up).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safepassage.backups.progress import progress_bar
from safepassage.backups.services import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore an encrypted backup into a new, migrated, empty database, with the "
        "offline backup key's identity file."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="The backup file (.backup.age).")
        parser.add_argument(
            "--identity",
            required=True,
            help="The age identity file of the backup key (AGE-SECRET-KEY-1...), kept offline.",
        )
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args, backup, identity, quiet=False, **options):
        with progress_bar("restore", quiet=quiet, stream=self.stderr) as bar:
            try:
                summary = restore_backup(
                    path=Path(backup),
                    identity_file=Path(identity),
                    progress=bar.advance,
                    on_start=bar.start,
                )
            except BackupError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {summary.rows} rows in {summary.tables} tables from the backup of "
                f"{summary.created_at}; the audit chains of {summary.organisations} "
                "organisation(s) verify."
            )
        )
        self.stdout.write(
            "Everyone must log in again. Cases purged after this backup was taken are back: "
            "the worker purges those past their retention period at its next tick, and "
            "coordinators must purge again any they purged early."
        )
