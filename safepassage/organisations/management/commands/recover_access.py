"""`safepassage recover_access`: k share holders give a coordinator every case back."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from safepassage.core.errors import ServiceError
from safepassage.members.models import Member
from safepassage.organisations.services import do_recover_access


class Command(BaseCommand):
    help = (
        "Rebuild the organisation's recovery key from k recovery shares and grant a "
        "coordinator (for example a new account for someone who lost their password) "
        "every case and the coordinators' compartment."
    )

    def add_arguments(self, parser):
        parser.add_argument("--handle", required=True, help="The coordinator to receive access.")

    def handle(self, *args, **options):
        member = (
            Member.objects.filter(handle=options["handle"], decoy_of__isnull=True)
            .select_related("organisation")
            .first()
        )
        if member is None:
            raise CommandError("No member has that handle.")
        organisation = member.organisation
        needed = organisation.recovery_threshold or 0
        if needed < 2:
            raise CommandError("This organisation has no recovery key.")
        shares = [getpass.getpass(f"Share {n} of {needed}: ").strip() for n in range(1, needed + 1)]
        try:
            granted = do_recover_access(organisation=organisation, shares=shares, member=member)
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{member.handle} now holds {granted} compartments."))
