"""Keyrings: what each holder resolves, through which grants, and nothing more."""

from __future__ import annotations

import pytest
from django.db.models import Q

from safepassage.cases.models import Case
from safepassage.journeys.models import Handoff, Leg
from safepassage.journeys.services import do_add_leg, do_brief_leg, do_create_journey
from safepassage.members.services import catch_up_keys
from safepassage.organisations.services import recovery_keyring
from safepassage.vault.keyring import Keyring, Locked, unlocked
from safepassage.vault.models import Compartment, CompartmentGrant, HolderKind, PendingGrant

from ..factories import OrganisationFactory, make_member
from .support import fresh_keyring


def _journey_compartments(journey) -> set:
    return set(Leg.objects.filter(journey=journey).values_list("compartment_id", flat=True)) | set(
        Handoff.objects.filter(journey=journey).values_list("compartment_id", flat=True)
    )


def _cell_leg_compartments(leg) -> set:
    return {leg.compartment_id} | set(
        Handoff.objects.filter(Q(from_leg=leg) | Q(to_leg=leg)).values_list(
            "compartment_id", flat=True
        )
    )


# --- grants through parent compartments ------------------------------------------------------


def test_a_coordinator_opens_legs_through_the_case_not_a_grant_of_their_own(world):
    leg = world.legs[0]
    grants = CompartmentGrant.objects.filter(compartment_id=leg.compartment_id)
    assert not grants.filter(member=world.coord).exists()
    parent = grants.get(holder_kind=HolderKind.PARENT)
    assert parent.parent_id == world.case.compartment_id

    ring = fresh_keyring(world.coord_keyring)
    assert ring.can_open(leg.compartment_id)
    with unlocked(ring):
        assert Leg.objects.get(pk=leg.pk).route == "Yanji to Changchun"

    # Without the parent grant the coordinator has no path to the leg.
    parent.delete()
    assert not fresh_keyring(world.coord_keyring).can_open(leg.compartment_id)
    # The cell's own grant is untouched by that.
    assert fresh_keyring(world.member(0)[1]).can_open(leg.compartment_id)


def test_a_parent_grant_for_an_old_parent_version_opens_nothing(world):
    leg = world.legs[0]
    CompartmentGrant.objects.filter(
        compartment_id=leg.compartment_id, holder_kind=HolderKind.PARENT
    ).update(parent_version=99)
    assert not fresh_keyring(world.coord_keyring).can_open(leg.compartment_id)


def test_load_everything_resolves_exactly_the_holders_compartments(world):
    coordinators = world.org.coordinators_compartment_id
    journey = _journey_compartments(world.journey)
    assert fresh_keyring(world.coord_keyring).load_everything() == (
        {coordinators, world.case.compartment_id, world.other_case.compartment_id} | journey
    )
    # coord2 coordinates the first case only.
    assert fresh_keyring(world.coord2_keyring).load_everything() == (
        {coordinators, world.case.compartment_id} | journey
    )
    for index in (0, 1):
        for _member, ring in world.cell_members[index]:
            assert fresh_keyring(ring).load_everything() == _cell_leg_compartments(
                world.legs[index]
            )
    _member, idle = world.member(2)
    assert fresh_keyring(idle).load_everything() == set()


def test_load_everything_is_what_can_open_answers(world):
    ring = fresh_keyring(world.member(1)[1])
    opened = ring.load_everything()
    for compartment_id in Compartment.objects.values_list("id", flat=True):
        assert fresh_keyring(ring).can_open(compartment_id) == (compartment_id in opened)


def test_a_recovery_keyring_reaches_every_case_and_its_journeys(world):
    ring = recovery_keyring(organisation=world.org, shares=world.recovery_shares[:2])
    opened = ring.load_everything()
    cases = set(
        Case.objects.filter(organisation=world.org).values_list("compartment_id", flat=True)
    )
    assert opened == (
        {world.org.coordinators_compartment_id} | cases | _journey_compartments(world.journey)
    )


def test_another_organisations_keys_open_nothing_here(world):
    other = OrganisationFactory()
    ring = fresh_keyring(other.keyring)
    opened = ring.load_everything()
    assert opened == {other.organisation.coordinators_compartment_id}
    here = set(Compartment.objects.filter(organisation=world.org).values_list("id", flat=True))
    assert not opened & here
    with pytest.raises(Locked):
        ring.key_for_sealing(world.case.compartment_id)


def test_no_keys_means_locked(db):
    ring = Keyring()
    assert ring.load_everything() == set()
    with pytest.raises(Locked):
        ring.key_for_sealing(Compartment().id)


def test_a_keyring_never_shows_its_keys(world):
    ring = fresh_keyring(world.coord_keyring)
    ring.load_everything()
    shown = repr(ring) + str(ring)
    assert ring.member_private_key.hex() not in shown
    for _version, key in ring._keys.values():
        assert key.hex() not in shown and repr(key) not in shown


# --- pending grants --------------------------------------------------------------------------------


def test_a_grant_the_approver_cannot_make_waits_for_a_holder(world):
    """coord2 does not coordinate ``other_case``; a member they approve into a
    cell running a leg of it is queued, and granted at the next catch-up of a
    coordinator who holds the case."""
    coord, coord_ring = world.coord, world.coord_keyring
    cell = world.cells[2]
    with unlocked(coord_ring):
        journey = do_create_journey(actor=coord, case=world.other_case, title="South route")
        leg = do_add_leg(actor=coord, journey=journey, cell=cell, route="Dandong by night")
        do_brief_leg(actor=coord, leg=leg)  # released: its cell is to hold it
    wanted = _cell_leg_compartments(leg)
    assert len(wanted) == 3  # the leg, its pickup and its arrival

    newcomer, newcomer_ring = make_member(world.coord2, world.coord2_keyring, cell=cell)
    pending = set(
        PendingGrant.objects.filter(member=newcomer).values_list("compartment_id", flat=True)
    )
    assert pending == wanted
    assert fresh_keyring(newcomer_ring).load_everything() == set()

    # A coordinator who does not hold the case cannot fulfil it.
    catch_up_keys(member=world.coord2, keyring=fresh_keyring(world.coord2_keyring))
    assert PendingGrant.objects.filter(member=newcomer).count() == 3

    catch_up_keys(member=coord, keyring=fresh_keyring(coord_ring))
    assert not PendingGrant.objects.filter(member=newcomer).exists()
    assert (
        set(
            CompartmentGrant.objects.filter(member=newcomer).values_list(
                "compartment_id", flat=True
            )
        )
        == wanted
    )
    ring = fresh_keyring(newcomer_ring)
    assert ring.load_everything() == wanted
    with unlocked(ring):
        assert Leg.objects.get(pk=leg.pk).route == "Dandong by night"


def test_a_grant_the_approver_can_make_is_made_at_once(world):
    newcomer, ring = make_member(world.coord2, world.coord2_keyring, cell=world.cells[0])
    assert not PendingGrant.objects.filter(member=newcomer).exists()
    assert fresh_keyring(ring).load_everything() == _cell_leg_compartments(world.legs[0])
