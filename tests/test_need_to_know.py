"""What each member of the demo network can open is exactly what DESIGN.md
says they need to know, computed from relational data, and every sealed
record agrees with it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from safepassage.cases.models import Case
from safepassage.demo.scenario import CASES, build_demo
from safepassage.journeys.models import Handoff, JourneyStatus, Leg
from safepassage.members.models import Member
from safepassage.members.services import unlock_private_key
from safepassage.organisations.models import Organisation
from safepassage.roles import Role
from safepassage.vault.keyring import Keyring
from safepassage.vault.models import Compartment

from .factories import PASSWORD, build_world
from .vault.need_to_know import check_records, expected_compartments


@dataclass
class Network:
    organisation: Organisation
    logins: list[tuple[str, str]]  # (handle, password)
    # The members who must open nothing: the world's idle cell; in the demo,
    # the cells whose only legs belong to the journey still being planned.
    idle: set[str]


def _demo() -> Network:
    result = build_demo()
    planned_only = {
        member.handle
        for member in Member.objects.filter(organisation=result.organisation, role=Role.CELL_MEMBER)
        if not Leg.objects.filter(
            cell__memberships__member=member, journey__status=JourneyStatus.ACTIVE
        ).exists()
    }
    assert "broker.shenyang" in planned_only  # the demo has such a cell
    return Network(result.organisation, [(h, p) for h, p, _what in result.logins], planned_only)


def _world() -> Network:
    world = build_world()
    members = Member.objects.filter(organisation=world.org)
    return Network(world.org, [(m.handle, PASSWORD) for m in members], {world.member(2)[0].handle})


@pytest.fixture(params=["demo", "world"])
def network(request, db) -> Network:
    return {"demo": _demo, "world": _world}[request.param]()


def _keyring(handle: str, password: str) -> tuple[Member, Keyring]:
    """The keys a login with this password would hold."""
    member = Member.objects.get(handle=handle)
    return member, Keyring(
        member_id=member.pk, member_private_key=unlock_private_key(member, password)
    )


def test_every_member_opens_exactly_what_they_need_to_know(network):
    everything = set(
        Compartment.objects.filter(organisation=network.organisation).values_list("id", flat=True)
    )
    seen_roles = set()
    partial = 0
    for handle, password in network.logins:
        member, keyring = _keyring(handle, password)
        expected = expected_compartments(member)
        assert keyring.load_everything() == expected, handle
        assert bool(expected) == (handle not in network.idle), handle
        if member.role == Role.CELL_MEMBER:
            assert expected < everything, f"{handle} should not open everything"
            assert network.organisation.coordinators_compartment_id not in expected
        seen_roles.add(member.role)
        partial += expected != everything
    assert seen_roles == {Role.COORDINATOR, Role.CELL_MEMBER}
    assert partial >= len(network.logins) - 1  # only the founder coordinates every case
    assert len(network.logins) == Member.objects.filter(organisation=network.organisation).count()


def test_every_sealed_record_opens_exactly_for_those_who_need_it(network):
    locked = 0
    for handle, password in network.logins:
        member, keyring = _keyring(handle, password)
        allowed = expected_compartments(member)
        result = check_records(keyring, allowed, network.organisation.pk)
        assert (result.opened > 0) == (handle not in network.idle), handle
        locked += result.locked
    assert locked > 0


# --- the demo's people, spelled out ---------------------------------------------------------------


@pytest.fixture
def demo(db):
    return build_demo()


def _opened(demo, handle: str) -> set:
    member = demo.members[handle]
    password = next(p for h, p, _w in demo.logins if h == handle)
    return _keyring(member.handle, password)[1].load_everything()


def _case_compartments(demo, key: str) -> set:
    case = demo.cases[key]
    return (
        {case.compartment_id}
        | set(Leg.objects.filter(journey__case=case).values_list("compartment_id", flat=True))
        | set(Handoff.objects.filter(journey__case=case).values_list("compartment_id", flat=True))
    )


def test_the_demo_coordinators_see_their_cases_only(demo):
    coordinators = demo.organisation.coordinators_compartment_id
    seoul, bangkok = _opened(demo, "coord.seoul"), _opened(demo, "coord.bangkok")
    every_case = set().union(*(_case_compartments(demo, key) for key in CASES))
    assert seoul == {coordinators} | every_case
    assert bangkok == {coordinators} | _case_compartments(demo, "azalea") | _case_compartments(
        demo, "magnolia"
    )
    assert demo.cases["orchid"].compartment_id not in bangkok


def test_a_demo_driver_sees_one_leg_and_its_two_handoffs_per_journey(demo):
    driver = _opened(demo, "driver.yanbian")
    leg = Leg.objects.get(journey__case=demo.cases["azalea"], position=0)
    ends = set(
        Handoff.objects.filter(journey__case=demo.cases["azalea"], position__in=[0, 1]).values_list(
            "compartment_id", flat=True
        )
    )
    assert driver == {leg.compartment_id} | ends
    assert not driver & {c.compartment_id for c in Case.objects.all()}
    assert not driver & _case_compartments(demo, "magnolia")
    # The second driver of the same cell holds the same keys, no more.
    assert _opened(demo, "driver.yanbian.2") == driver


def test_a_cell_on_two_journeys_sees_its_leg_of_the_started_one_only(demo):
    guide = _opened(demo, "guide.laos")
    assert Leg.objects.filter(cell=demo.cells["laos"]).count() == 2
    # The leg of the journey still being planned is not released to the cell.
    legs = Leg.objects.filter(cell=demo.cells["laos"], journey__status=JourneyStatus.ACTIVE)
    assert legs.count() == 1
    unreleased = Leg.objects.get(cell=demo.cells["laos"], journey__status=JourneyStatus.PLANNING)
    assert unreleased.compartment_id not in guide
    expected = set(legs.values_list("compartment_id", flat=True))
    for leg in legs:
        expected |= set(
            Handoff.objects.filter(
                journey=leg.journey, position__in=[leg.position, leg.position + 1]
            ).values_list("compartment_id", flat=True)
        )
    assert guide == expected
    # Two legs away on the route is out of reach: the Shenyang-Kunming train leg.
    train = Leg.objects.get(journey__case=demo.cases["azalea"], position=1)
    assert train.compartment_id not in guide


def test_one_grant_too_many_is_caught(world):
    """The comparison above is able to fail: wrap one extra key to a member of
    the idle cell and both checks see it."""
    from django.db import transaction

    from safepassage.vault import services as vault
    from safepassage.vault.keyring import unlocked

    idle, idle_ring = world.member(2)
    handoff = Handoff.objects.get(journey=world.journey, position=1)
    with transaction.atomic(), unlocked(world.coord_keyring):
        vault.grant_to_member(
            compartment=handoff.compartment, member=idle, keyring=world.coord_keyring
        )
    ring = Keyring(member_id=idle.pk, member_private_key=idle_ring.member_private_key)
    assert ring.load_everything() == {handoff.compartment_id} != expected_compartments(idle)
    with pytest.raises(AssertionError):
        check_records(ring, expected_compartments(idle), world.org.pk)
