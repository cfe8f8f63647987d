"""`safepassage unlock_login`: end the wait on a handle and forget its failures."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from safepassage.members import lockout


class Command(BaseCommand):
    help = (
        "Forget the failed logins counted against a handle, so its member can log in "
        "again at once without waiting (after checking with them that the failures "
        "were theirs). Says the same whether or not a member has that handle."
    )

    def add_arguments(self, parser):
        parser.add_argument("handle", help="The handle, exactly as the member types it.")

    def handle(self, *args, **options):
        forgotten = lockout.reset(options["handle"])
        self.stdout.write(f"Wait lifted ({forgotten} failures forgotten).")
