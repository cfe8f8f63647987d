"""`safepassage verify_audit`: check every organisation's audit chain.

Needs no keys: the chain is computed over ciphertext. Exits non-zero and
names the first broken link when an entry was edited, deleted, inserted or
reordered.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import first_broken_link
from safepassage.organisations.models import Organisation


class Command(BaseCommand):
    help = "Verify the hash chain of every organisation's audit log."

    def handle(self, *args, **options):
        broken = []
        for organisation in Organisation.objects.order_by("created_at"):
            entries = AuditEvent.objects.filter(organisation=organisation).count()
            seq = first_broken_link(organisation=organisation)
            if seq is None:
                self.stdout.write(
                    f"organisation {organisation.pk}: {entries} entries, chain intact"
                )
            else:
                broken.append(organisation.pk)
                self.stdout.write(
                    f"organisation {organisation.pk}: chain broken at entry {seq} of {entries}"
                )
        if broken:
            raise CommandError(f"{len(broken)} audit chain(s) broken.")
