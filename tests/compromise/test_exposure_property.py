"""Exposure as a property: for random organisations built and changed through
the services (the shapes of ``tests/vault/test_need_to_know_property.py``),
what ``exposure_of`` computes from the grant graph is exactly what the
subject's keys decrypt.

- a member: ``compartment_ids`` equals what their keys resolve
  (``Keyring.load_everything``), every sealed record of every sealed model
  opens with their keys exactly when its compartment is in it, and the legs,
  handoffs and cases reported are exactly those whose sealed values open;
- a cell: ``compartment_ids`` is the union of what its members' keys open and
  the legs released to it with the handoffs at their ends; when the cell has an
  active member, those legs and handoffs are among what the keys open.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Q
from hypothesis import example, given, settings

from safepassage.cases.models import Case
from safepassage.cells.models import CellMembership
from safepassage.compromise.exposure import Subject, SubjectKind, exposure_of
from safepassage.journeys.models import Handoff, Leg
from safepassage.members.models import Member, MemberStatus
from safepassage.vault.crypto import SealBroken
from safepassage.vault.keyring import Keyring, Locked, unlocked

from ..vault.need_to_know import check_records
from ..vault.support import fresh_keyring
from ..vault.test_need_to_know_property import (
    COMMON,
    MANY_EXAMPLES,
    STALE_CHILD_KEY,
    TWO_LEGS_ONE_CELL,
    Built,
    Shape,
    build,
    cheap_passwords,  # noqa: F401 - a fixture used below
    shapes,
)


def _opens(keyring: Keyring, records, field: str) -> set:
    """The records whose sealed ``field`` the keyring opens (read afresh: an
    instance keeps what it once opened)."""
    found = set()
    with unlocked(keyring):
        for record in records.all():
            try:
                getattr(record, field)
            except Locked:
                continue
            except SealBroken:  # pragma: no cover - would be a vault defect
                raise
            found.add(record.pk)
    return found


def _check(built: Built) -> None:
    org = built.org
    legs = Leg.objects.filter(journey__case__organisation=org)
    handoffs = Handoff.objects.filter(journey__case__organisation=org)
    cases = Case.objects.filter(organisation=org)
    opened_by: dict = {}
    for member, ring in built.members:
        keyring = fresh_keyring(ring)
        opened = keyring.load_everything()
        opened_by[member.pk] = opened
        e = exposure_of(organisation=org, subject=Subject(SubjectKind.MEMBER, member.pk))
        assert e.compartment_ids == opened, member.handle
        # Every sealed record of every sealed model opens exactly when its
        # compartment is in the exposure.
        check_records(fresh_keyring(ring), e.compartment_ids, org.pk)
        keyring = fresh_keyring(ring)
        assert e.leg_ids == _opens(keyring, legs, "route")
        assert e.handoff_ids == _opens(keyring, handoffs, "phrase_challenge")
        assert e.case_ids == _opens(keyring, cases, "codename")
        assert e.member_ids == {member.pk}

    for cell in built.cells:
        e = exposure_of(organisation=org, subject=Subject(SubjectKind.CELL, cell.pk))
        member_ids = set(
            CellMembership.objects.filter(cell=cell).values_list("member_id", flat=True)
        )
        assert e.member_ids == member_ids
        keys: set = set().union(*(opened_by.get(m, set()) for m in member_ids))
        runs = Leg.objects.filter(cell=cell, released_at__isnull=False)
        structural = set(runs.values_list("compartment_id", flat=True)) | set(
            Handoff.objects.filter(Q(from_leg__in=runs) | Q(to_leg__in=runs)).values_list(
                "compartment_id", flat=True
            )
        )
        assert e.compartment_ids == keys | structural, cell.pk
        active = Member.objects.filter(
            pk__in=member_ids, status=MemberStatus.ACTIVE, is_active=True
        ).exists()
        if active:
            assert structural <= keys, cell.pk
        assert e.leg_ids == {leg.pk for leg in legs if leg.compartment_id in e.compartment_ids}
        assert e.cell_ids == {cell.pk}
        assert cell.pk not in e.adjacent_cell_ids


def _run_isolated(shape: Shape) -> None:
    with transaction.atomic():
        _check(build(shape))
        transaction.set_rollback(True)


@given(shape=shapes())
@example(shape=TWO_LEGS_ONE_CELL)
@example(shape=STALE_CHILD_KEY)
@settings(max_examples=6, **COMMON)
def test_exposure_is_what_the_keys_open(db, cheap_passwords, shape):  # noqa: F811
    _run_isolated(shape)


@pytest.mark.slow
@given(shape=shapes(max_cells=4, max_members=3, max_legs=6))
@settings(max_examples=MANY_EXAMPLES, **COMMON)
def test_exposure_is_what_the_keys_open_many_shapes(db, cheap_passwords, shape):  # noqa: F811
    _run_isolated(shape)
