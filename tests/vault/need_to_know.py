"""The need-to-know rule of DESIGN.md, computed from relational data alone
(memberships, case coordinators, legs and handoffs), never from grants, and
the checks that compare it with what keys actually open.

- a coordinator: their organisation's coordinators' compartment, the cases
  they coordinate, and the legs and handoffs of those cases' journeys;
- a cell member: the legs their cells run that have been released to the
  cell (the journey started, or the cell was briefed), and the handoffs at
  either end of those legs; an unreleased leg is out of reach even of the
  cell that will run it;
- a removed member (or one not yet approved): nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q

from safepassage.cases.models import Case
from safepassage.journeys.models import Handoff, Leg
from safepassage.members.models import Member, MemberStatus
from safepassage.roles import Role
from safepassage.vault import services as vault
from safepassage.vault.crypto import SealBroken
from safepassage.vault.fields import SealedField
from safepassage.vault.keyring import Keyring, Locked, unlocked


def expected_compartments(member: Member) -> set[uuid.UUID]:
    member = Member.objects.select_related("organisation").get(pk=member.pk)
    if member.status != MemberStatus.ACTIVE or not member.is_active:
        return set()
    if member.role == Role.COORDINATOR:
        cases = Case.objects.filter(
            organisation_id=member.organisation_id, coordinator_links__member=member
        )
        legs = Leg.objects.filter(journey__case__in=cases)
        handoffs = Handoff.objects.filter(journey__case__in=cases)
        return (
            {member.organisation.coordinators_compartment_id}
            | set(cases.values_list("compartment_id", flat=True))
            | set(legs.values_list("compartment_id", flat=True))
            | set(handoffs.values_list("compartment_id", flat=True))
        )
    legs = Leg.objects.filter(
        cell__organisation_id=member.organisation_id,
        cell__memberships__member=member,
        released_at__isnull=False,
    )
    handoffs = Handoff.objects.filter(Q(from_leg__in=legs) | Q(to_leg__in=legs))
    return set(legs.values_list("compartment_id", flat=True)) | set(
        handoffs.values_list("compartment_id", flat=True)
    )


@dataclass
class RecordCheck:
    opened: int = 0
    locked: int = 0


def check_records(keyring: Keyring, allowed: set[uuid.UUID], organisation_id) -> RecordCheck:
    """Read every non-empty sealed value of every record of the organisation
    with ``keyring`` in force (fresh instances, so nothing is served from a
    cache): it must open exactly when its compartment is in ``allowed``."""
    result = RecordCheck()
    wrong: list[str] = []
    with unlocked(keyring):
        for model in vault.sealed_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, SealedField)]
            in_organisation = Q()
            for lookup in {f.compartment_lookup() for f in fields}:
                in_organisation |= Q(**{f"{lookup}__organisation_id": organisation_id})
            records = model._base_manager.filter(in_organisation)
            for record in records:
                for f in fields:
                    slot = record.__dict__[f.attname]
                    if slot.raw is None:
                        continue
                    compartment_id = f.compartment_id_for(record)
                    try:
                        getattr(record, f.attname)
                    except Locked:
                        result.locked += 1
                        if compartment_id in allowed:
                            wrong.append(f"locked out of {model.__name__}.{f.name} {record.pk}")
                    except SealBroken:
                        wrong.append(f"broken {model.__name__}.{f.name} {record.pk}")
                    else:
                        result.opened += 1
                        if compartment_id not in allowed:
                            wrong.append(f"opened {model.__name__}.{f.name} {record.pk}")
    assert wrong == [], wrong[:10]
    return result
