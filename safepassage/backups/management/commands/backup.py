"""`safepassage backup`: an age-encrypted backup of the whole database.

The file holds every table as the database holds it (sealed columns stay
ciphertext), compressed, then encrypted to the offline backup key
(``SAFEPASSAGE_BACKUP_RECIPIENT`` or ``--recipient``). See docs/BACKUPS.md.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from safepassage.backups.progress import progress_bar
from safepassage.backups.services import BackupError, default_backup_path, take_backup


class Command(BaseCommand):
    help = "Write an encrypted backup of the database (age, to the offline backup key)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            default=None,
            help="File (or existing directory) to write; default var/backups/safepassage-<time>.backup.age.",
        )
        parser.add_argument(
            "--recipient",
            default=None,
            help="The age public key (age1...) to encrypt to; default SAFEPASSAGE_BACKUP_RECIPIENT.",
        )
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args, output=None, recipient=None, quiet=False, **options):
        recipient = recipient or settings.SAFEPASSAGE_BACKUP_RECIPIENT
        if not recipient:
            raise CommandError(
                "No backup key: set SAFEPASSAGE_BACKUP_RECIPIENT (or pass --recipient) to the "
                "public key (age1...) of the offline backup key. `safepassage backup_keygen` "
                "makes one; see docs/BACKUPS.md."
            )
        target = Path(output) if output else Path(settings.VAR_DIR) / "backups"
        if output is None or target.is_dir():
            target = default_backup_path(target)
        with progress_bar("backup", quiet=quiet, stream=self.stderr) as bar:
            try:
                summary = take_backup(
                    output=target, recipient=recipient, progress=bar.advance, on_start=bar.start
                )
            except BackupError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {summary.path}: {summary.rows} rows in {summary.tables} "
                f"tables, {summary.size} bytes, encrypted to {summary.recipient}."
            )
        )
