"""`safepassage verify_audit`: check every organisation's audit chain.

The hash chain is computed over ciphertext, so it is checked without any
member's keys. With the dispatch key from the environment (as the server
runs) each entry's MAC and the head anchor are checked too. Exits non-zero
and names the first broken link when an entry was edited, deleted, inserted
or reordered, when the newest entries were deleted, or when the chain was
rewritten with its hashes recomputed.

``--expect ORG:SEQ:HASH`` also checks a head noted outside the server (the
audit log page shows it): a database rolled back to an earlier state, head
anchor included, lacks it. ``--chain-only`` checks the hash chain alone (for
an auditor holding a database copy but not the dispatch key).
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from safepassage.audit.selectors import check_chain
from safepassage.organisations.models import Organisation


def _expectation(text: str) -> tuple[uuid.UUID, int, str]:
    try:
        org, seq, digest = text.split(":")
        int(digest, 16)
        if len(digest) < 8:
            raise ValueError(digest)
        return uuid.UUID(org), int(seq), digest
    except ValueError:
        raise CommandError(
            f"--expect {text!r}: give ORGANISATION-ID:SEQ:HASH (HASH: at least 8 leading hex digits)"
        ) from None


class Command(BaseCommand):
    help = "Verify the hash chain, MACs and head anchor of every organisation's audit log."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect",
            action="append",
            default=[],
            metavar="ORG:SEQ:HASH",
            help="a head noted earlier outside the server, which the chain must contain",
        )
        parser.add_argument(
            "--chain-only",
            action="store_true",
            help="check the hash chain only (no dispatch key: no MACs, no head anchor)",
        )

    def handle(self, *args, **options):
        expected = {}
        for text in options["expect"]:
            org, seq, digest = _expectation(text)
            expected[org] = (seq, digest)
        known = set(Organisation.objects.values_list("pk", flat=True))
        for org in expected.keys() - known:
            raise CommandError(f"--expect names no organisation here: {org}")
        broken = []
        for organisation in Organisation.objects.order_by("created_at"):
            result = check_chain(
                organisation=organisation,
                use_mac=not options["chain_only"],
                expect=expected.get(organisation.pk),
            )
            if result.intact:
                self.stdout.write(
                    f"organisation {organisation.pk}: {result.entries} entries, chain intact"
                )
            else:
                broken.append(organisation.pk)
                self.stdout.write(
                    f"organisation {organisation.pk}: chain broken at entry {result.broken_at} "
                    f"of {result.entries}: {result.explain()}"
                )
        if broken:
            raise CommandError(f"{len(broken)} audit chain(s) broken.")
