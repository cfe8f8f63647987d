"""`safepassage unlock_login`: lift the login lockout on a handle before its cool-off ends."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from safepassage.members import lockout


class Command(BaseCommand):
    help = (
        "Forget the failed logins counted against a handle, so its member can log in "
        "again at once (after checking with them that the failures were theirs). "
        "Says the same whether or not a member has that handle."
    )

    def add_arguments(self, parser):
        parser.add_argument("handle", help="The handle, exactly as the member types it.")

    def handle(self, *args, **options):
        removed = lockout.reset(options["handle"])
        self.stdout.write(f"Lockout lifted ({removed} failure records removed).")
