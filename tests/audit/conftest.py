"""A small organisation whose audit log has a dozen entries, built quickly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import transaction

from safepassage.audit import services as audit
from safepassage.audit.models import AuditEvent

from ..factories import OrganisationFactory

ENTRIES = 12


@dataclass
class Chain:
    new: object  # NewOrganisation

    @property
    def org(self):
        return self.new.organisation

    def event(self, seq: int) -> AuditEvent:
        return AuditEvent.objects.get(organisation=self.org, seq=seq)

    def last_seq(self) -> int:
        return AuditEvent.objects.filter(organisation=self.org).order_by("-seq")[0].seq

    def append(self, n: int = 1) -> None:
        for i in range(n):
            with transaction.atomic():
                audit.record(
                    organisation=self.org,
                    actor=self.new.founder,
                    verb="test.entry",
                    detail={"n": i},
                )


@pytest.fixture
def chain(db) -> Chain:
    """An organisation (entry 1: its creation) and ENTRIES - 1 further entries."""
    built = Chain(OrganisationFactory())
    built.append(ENTRIES - 1)
    assert built.last_seq() == ENTRIES
    return built
