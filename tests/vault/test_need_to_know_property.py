"""Need-to-know as a property: for small random organisations, built and then
changed through the services, every member's keys open exactly what the
DESIGN.md rule says, computed from relational data.

The shapes cover cells with no members, legs without a cell, one cell on two
legs of the same journey (adjacent or not), cases with one or several
coordinators, a member approved by a coordinator who does not hold the case
(a pending grant, fulfilled at the next catch-up of one who does), legs moved,
removed or handed to another cell while planning, a cell briefed on its leg
before the start, a journey started, and the removal of a member or of a
membership.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safepassage.cases.services import do_add_traveller, do_open_case
from safepassage.cells.models import CellMembership
from safepassage.cells.services import do_create_cell, do_remove_member_from_cell
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Leg
from safepassage.journeys.services import (
    do_add_leg,
    do_brief_leg,
    do_create_journey,
    do_move_leg,
    do_remove_leg,
    do_start_journey,
    do_update_leg,
)
from safepassage.members.models import Member
from safepassage.members.services import catch_up_keys, do_remove_member
from safepassage.organisations.models import Organisation
from safepassage.roles import Role
from safepassage.vault import crypto
from safepassage.vault.keyring import Keyring, unlocked

from ..factories import OrganisationFactory, make_member
from .need_to_know import expected_compartments
from .support import fresh_keyring


@dataclass(frozen=True)
class CaseShape:
    actor: int  # which coordinator opens the case
    others: frozenset[int]  # further coordinators of the case
    legs: tuple[int | None, ...]  # the cell running each leg (None: not chosen yet)


@dataclass(frozen=True)
class Shape:
    coordinators: int  # including the founder
    cells: tuple[int, ...]  # members in each cell
    cases: tuple[CaseShape, ...]
    late_joiner: tuple[int, int] | None  # (cell, approving coordinator), after the legs exist
    removal: tuple[str, int] | None  # ("member" | "membership", index)
    # Planning changes after the legs exist: (what, case, leg, new cell).
    edits: tuple[tuple[str, int, int, int | None], ...] = ()


@st.composite
def shapes(draw, max_cells: int = 3, max_members: int = 2, max_legs: int = 4) -> Shape:
    coordinators = draw(st.integers(1, 3))
    cells = tuple(draw(st.lists(st.integers(0, max_members), min_size=1, max_size=max_cells)))
    coordinator = st.integers(0, coordinators - 1)
    cell_or_none = st.one_of(st.none(), st.integers(0, len(cells) - 1))
    cases = tuple(
        draw(
            st.lists(
                st.builds(
                    CaseShape,
                    actor=coordinator,
                    others=st.frozensets(coordinator, max_size=2),
                    legs=st.lists(cell_or_none, max_size=max_legs).map(tuple),
                ),
                min_size=1,
                max_size=2,
            )
        )
    )
    late_joiner = draw(st.none() | st.tuples(st.integers(0, len(cells) - 1), coordinator))
    removal = draw(
        st.none() | st.tuples(st.sampled_from(["member", "membership"]), st.integers(0, 20))
    )
    edit = st.tuples(
        st.sampled_from(["earlier", "later", "remove", "recell", "brief", "start"]),
        st.integers(0, 1),
        st.integers(0, max_legs),
        cell_or_none,
    )
    edits = tuple(draw(st.lists(edit, max_size=3)))
    return Shape(coordinators, cells, cases, late_joiner, removal, edits)


# A cell on two legs of one journey, adjacent and not; an idle cell; a leg with
# no cell; a leg handed to another cell and a leg moved; a member joining after
# the legs exist, approved by a coordinator who does not hold the case; and the
# removal of a cell member.
TWO_LEGS_ONE_CELL = Shape(
    coordinators=2,
    cells=(1, 2, 1),
    cases=(
        CaseShape(actor=0, others=frozenset(), legs=(0, 0, 1, 0, None)),
        CaseShape(actor=1, others=frozenset({0}), legs=(1, 2)),
    ),
    late_joiner=(0, 1),
    removal=("member", 2),
    edits=(("recell", 1, 0, 0), ("earlier", 0, 3, None)),
)

# A cell briefed early, then its leg moved and given to another cell; a
# journey started with one leg still without a cell (refused), then with all.
BRIEFED_THEN_MOVED = Shape(
    coordinators=1,
    cells=(1, 1, 1),
    cases=(
        CaseShape(actor=0, others=frozenset(), legs=(0, 1, 2)),
        CaseShape(actor=0, others=frozenset(), legs=(2, 0)),
    ),
    late_joiner=(1, 0),
    removal=None,
    edits=(
        ("brief", 0, 1, None),
        ("later", 0, 1, None),
        ("recell", 0, 2, 0),
        ("start", 1, 0, None),
    ),
)

# Found by the property: the catch-up rotates the old arrival handoff, then the
# founder (whose keys were resolved before that) removes the other coordinator
# and rotates the case above it.
STALE_CHILD_KEY = Shape(
    coordinators=2,
    cells=(1,),
    cases=(CaseShape(actor=0, others=frozenset({0, 1}), legs=(0, None)),),
    late_joiner=None,
    removal=("member", 0),
)


@dataclass
class Built:
    """An organisation built from a Shape: its members (coordinators first)
    with their keyrings, and its cells."""

    org: Organisation
    members: list[tuple[Member, Keyring]]
    cells: list


def build(shape: Shape) -> Built:
    """The organisation ``shape`` describes, built and changed through the
    services (also used by the exposure property, tests/compromise)."""
    new = OrganisationFactory()
    founder, founder_ring = new.founder, new.keyring
    coordinators: list[tuple[Member, Keyring]] = [(founder, founder_ring)]
    for _ in range(shape.coordinators - 1):
        coordinators.append(make_member(founder, founder_ring, role=Role.COORDINATOR))
    with unlocked(founder_ring):
        cells = [
            do_create_cell(actor=founder, codename=f"Cell {i}") for i in range(len(shape.cells))
        ]
    members: list[tuple[Member, Keyring]] = list(coordinators)
    for cell, size in zip(cells, shape.cells, strict=True):
        members += [make_member(founder, founder_ring, cell=cell) for _ in range(size)]

    journeys = {}
    for index, case_shape in enumerate(shape.cases):
        actor, ring = coordinators[case_shape.actor]
        others = [coordinators[i][0] for i in sorted(case_shape.others)]
        with unlocked(ring):
            case = do_open_case(actor=actor, codename=f"Case {index}", coordinators=others)
            do_add_traveller(actor=actor, case=case, name=f"Traveller {index}")
            if case_shape.legs:
                journey = do_create_journey(actor=actor, case=case, title=f"Route {index}")
                journeys[index] = (journey, coordinators[case_shape.actor])
                for position, cell_index in enumerate(case_shape.legs):
                    do_add_leg(
                        actor=actor,
                        journey=journey,
                        cell=None if cell_index is None else cells[cell_index],
                        route=f"Leg {index}.{position}",
                    )

    for what, case_index, position, cell_index in shape.edits:
        if case_index not in journeys:
            continue
        journey, (actor, ring) = journeys[case_index]
        legs = list(journey.legs.order_by("position"))
        if legs:
            leg = legs[position % len(legs)]
            cell = None if cell_index is None else cells[cell_index]
            _edit(what, actor, ring, leg, cell)

    if shape.late_joiner is not None:
        cell_index, approver = shape.late_joiner
        approver_member, approver_ring = coordinators[approver]
        members.append(make_member(approver_member, approver_ring, cell=cells[cell_index]))
    _catch_up(coordinators)

    if shape.removal is not None:
        kind, index = shape.removal
        with unlocked(founder_ring):
            if kind == "member" and len(members) > 1:
                target = members[1 + index % (len(members) - 1)][0]  # never the founder
                do_remove_member(actor=founder, member=target)
            elif kind == "membership":
                memberships = list(
                    CellMembership.objects.filter(cell__in=cells).order_by("joined_at", "pk")
                )
                if memberships:
                    chosen = memberships[index % len(memberships)]
                    do_remove_member_from_cell(
                        actor=founder, member=chosen.member, cell=chosen.cell
                    )
        _catch_up(coordinators)

    return Built(org=new.organisation, members=members, cells=cells)


def _build_and_check(shape: Shape) -> None:
    members = build(shape).members
    for member, ring in members:
        member = Member.objects.get(pk=member.pk)
        assert fresh_keyring(ring).load_everything() == expected_compartments(member), (
            member.handle,
            member.role,
            member.status,
        )


def _edit(what: str, actor: Member, ring: Keyring, leg: Leg, cell) -> None:
    """One planning change, through the services; a refusal changes nothing."""
    with unlocked(ring):
        try:
            if what in ("earlier", "later"):
                do_move_leg(actor=actor, leg=leg, offset=-1 if what == "earlier" else 1)
            elif what == "remove":
                do_remove_leg(actor=actor, leg=leg)
            elif what == "brief":
                do_brief_leg(actor=actor, leg=leg)
            elif what == "start":
                do_start_journey(actor=actor, journey=leg.journey)
            else:
                do_update_leg(
                    actor=actor,
                    leg=leg,
                    cell=cell,
                    window_start=leg.window_start,
                    window_end=leg.window_end,
                    transport=leg.transport,
                    route=leg.route,
                    vehicle=leg.vehicle,
                    notes=leg.notes,
                )
        except ServiceError:
            pass


def _catch_up(coordinators: list[tuple[Member, Keyring]]) -> None:
    """What each coordinator's next login does: fulfil pending grants, rotate."""
    for member, ring in coordinators:
        member = Member.objects.get(pk=member.pk)
        if member.is_approved:
            keyring = fresh_keyring(ring)
            with unlocked(keyring):
                catch_up_keys(member=member, keyring=keyring)


def _run_isolated(shape: Shape) -> None:
    """One example in a transaction that is rolled back: examples do not pile up."""
    with transaction.atomic():
        _build_and_check(shape)
        transaction.set_rollback(True)


COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}


# The dedicated run (``make test-property``) asks for thousands of examples,
# split into shards that pytest-xdist runs side by side, one per core. Each
# shard is its own process with its own random seed, so the shards explore
# different organisations.
MANY_EXAMPLES = int(os.environ.get("SAFEPASSAGE_PROPERTY_EXAMPLES", "150"))
SHARDS = max(1, int(os.environ.get("SAFEPASSAGE_PROPERTY_SHARDS", "1")))


@pytest.fixture
def cheap_passwords(monkeypatch, settings):
    """Password work made cheap, so thousands of organisations can be built.

    The property is about the key graph (grants, wraps, rotations), not about
    Argon2id, which has tests of its own (``tests/vault/test_crypto.py``). One
    key derivation per distinct password is done for real and memoised (every
    member here shares one password; each still has its own key pair and
    salt), and Django's password check uses a fast hasher.
    """
    real = crypto._password_key

    @functools.cache
    def derive(password: str, params: crypto.KdfParams) -> bytes:
        return real(password, b"\x00" * crypto.SALT_BYTES, params)

    monkeypatch.setattr(
        crypto, "_password_key", lambda password, _salt, params: derive(password, params)
    )
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@given(shape=shapes())
@example(shape=TWO_LEGS_ONE_CELL)
@example(shape=STALE_CHILD_KEY)
@example(shape=BRIEFED_THEN_MOVED)
@settings(max_examples=15, **COMMON)
def test_keys_follow_the_need_to_know_rule(db, shape):
    _run_isolated(shape)


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
@given(shape=shapes(max_cells=4, max_members=3, max_legs=6))
@settings(max_examples=-(-MANY_EXAMPLES // SHARDS), **COMMON)
def test_keys_follow_the_need_to_know_rule_many_shapes(db, cheap_passwords, shard, shape):
    _run_isolated(shape)
