"""`safepassage backup_keygen --output FILE`: make the offline backup key.

Writes an age identity file (as ``age-keygen`` does; mode 0600) and prints
its public key, for ``SAFEPASSAGE_BACKUP_RECIPIENT``. Run it on the offline
machine that will keep the identity, not on the server.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from safepassage.vault.backup_crypto import new_identity_file_text


class Command(BaseCommand):
    help = "Make an age key pair for backups: identity file (keep offline) and public key."

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="Identity file to create.")

    def handle(self, *args, output, **options):
        path = Path(output)
        text, public = new_identity_file_text(now=timezone.now())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{path} exists already; a key file is never overwritten.") from None
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stdout.write(f"Identity written to {path} (mode 0600). Keep it offline.")
        self.stdout.write(f"Public key: {public}")
        self.stdout.write(f"On the server: SAFEPASSAGE_BACKUP_RECIPIENT={public}")
