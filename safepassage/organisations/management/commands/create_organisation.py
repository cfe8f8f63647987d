"""`safepassage create_organisation`: set up a real organisation and its first coordinator."""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from safepassage.core.errors import ServiceError
from safepassage.members.models import Member
from safepassage.organisations.services import do_create_organisation


class Command(BaseCommand):
    help = (
        "Create an organisation and its first coordinator. Prints the organisation's "
        "recovery shares once: print them and hand one to each trusted coordinator."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--name", required=True, help="The organisation's name (stored sealed)."
        )
        parser.add_argument("--handle", required=True, help="The first coordinator's login handle.")
        parser.add_argument(
            "--display-name", required=True, help="The first coordinator's name (stored sealed)."
        )
        parser.add_argument("--threshold", type=int, default=2, help="Shares needed to recover.")
        parser.add_argument("--holders", type=int, default=3, help="Shares to make.")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input instead of prompting.",
        )

    def handle(self, *args, **options):
        if Member.objects.filter(handle__iexact=options["handle"]).exists():
            raise CommandError("That handle is taken.")
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password for the first coordinator: ")
            if getpass.getpass("Again: ") != password:
                raise CommandError("The passwords differ.")
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        try:
            created = do_create_organisation(
                name=options["name"],
                founder_handle=options["handle"],
                founder_password=password,
                founder_display_name=options["display_name"],
                recovery_threshold=options["threshold"],
                recovery_holders=options["holders"],
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Organisation created. Log in as {options['handle']}.")
        )
        self.stdout.write(
            f"\nRecovery shares: any {options['threshold']} of these {options['holders']} rebuild "
            "access to every case if passwords are lost. They are shown this once and stored "
            "nowhere. Print them, give one to each trusted coordinator, keep them offline.\n"
        )
        for share in created.recovery_shares:
            self.stdout.write(f"  {share}")
