"""Organisation recovery: k of n shares hand a new coordinator every case."""

from __future__ import annotations

import itertools

import pytest

from safepassage.cases.models import Case, CaseCoordinator, Traveller
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Handoff, Leg
from safepassage.organisations.models import Organisation
from safepassage.organisations.services import do_create_organisation, do_recover_access
from safepassage.roles import Role
from safepassage.vault.keyring import Locked, unlocked
from safepassage.vault.models import CompartmentGrant

from ..factories import PASSWORD, OrganisationFactory, keyring_for, make_member
from ..vault.support import fresh_keyring


def _case_compartments(org) -> set:
    return set(Case.objects.filter(organisation=org).values_list("compartment_id", flat=True))


def _newcomer(world):
    member, ring = make_member(
        world.coord, world.coord_keyring, role=Role.COORDINATOR, display_name="Replacement"
    )
    return member, ring


def test_a_new_organisation_has_its_shares_and_a_founder_who_holds_its_keys(db):
    created = do_create_organisation(
        name="Harbour Light",
        founder_handle="founder.harbour",
        founder_password=PASSWORD,
        founder_display_name="Founder of the Harbour",
        recovery_threshold=3,
        recovery_holders=5,
    )
    org = created.organisation
    assert len(created.recovery_shares) == 5 and len(set(created.recovery_shares)) == 5
    assert (org.recovery_threshold, org.recovery_holders) == (3, 5)
    ring = keyring_for(created.founder)
    assert ring.load_everything() == {org.coordinators_compartment_id}
    with unlocked(ring):
        fetched = Organisation.objects.get(pk=org.pk)
        assert fetched.name == "Harbour Light"
        assert len(fetched.audit_private_key) == 32
    # The shares are not stored anywhere.
    for share in created.recovery_shares:
        assert share.split("-", 1)[1] not in str(
            Organisation.objects.filter(pk=org.pk).values().get()
        )


@pytest.mark.parametrize(("threshold", "holders"), [(1, 3), (4, 3), (0, 0)])
def test_an_organisation_needs_a_sound_threshold(db, threshold, holders):
    with pytest.raises(ServiceError):
        OrganisationFactory(recovery_threshold=threshold, recovery_holders=holders)
    assert not Organisation.objects.exists()


def test_two_of_three_shares_grant_a_fresh_coordinator_every_case(world):
    newcomer, ring = _newcomer(world)
    cases = _case_compartments(world.org)
    assert len(cases) == 2
    assert not cases & fresh_keyring(ring).load_everything()

    granted = do_recover_access(
        organisation=world.org,
        shares=[world.recovery_shares[2], world.recovery_shares[0]],
        member=newcomer,
    )

    assert granted == len(cases) + 1  # every case and the coordinators' compartment
    opened = fresh_keyring(ring).load_everything()
    journey = set(Leg.objects.values_list("compartment_id", flat=True)) | set(
        Handoff.objects.values_list("compartment_id", flat=True)
    )
    assert opened == {world.org.coordinators_compartment_id} | cases | journey
    assert set(
        CaseCoordinator.objects.filter(member=newcomer).values_list("case_id", flat=True)
    ) == {
        world.case.pk,
        world.other_case.pk,
    }
    with unlocked(fresh_keyring(ring)):
        names = set(Traveller.objects.values_list("pk", flat=True))
        assert {Traveller.objects.get(pk=pk).name for pk in names} == {
            "Traveller Secret-Name",
            "Other Hidden-Person",
        }
        assert Leg.objects.get(pk=world.legs[0].pk).route == "Yanji to Changchun"


@pytest.mark.parametrize("pair", list(itertools.combinations(range(3), 2)))
def test_any_two_shares_recover(world, pair):
    newcomer, ring = _newcomer(world)
    do_recover_access(
        organisation=world.org, shares=[world.recovery_shares[i] for i in pair], member=newcomer
    )
    assert _case_compartments(world.org) <= fresh_keyring(ring).load_everything()


def test_wrong_shares_are_refused_and_grant_nothing(world):
    newcomer, ring = _newcomer(world)
    other = OrganisationFactory()
    shares = world.recovery_shares
    index, hexed = shares[1].split("-", 1)
    wrong = [
        [shares[0]],  # one share is not enough
        [shares[0], shares[0]],  # the same share twice
        [shares[0], other.recovery_shares[1]],  # mixed organisations
        other.recovery_shares[:2],  # another organisation's key
        [shares[0], f"{index}-{'0' * len(hexed)}"],  # a forged share
        [shares[0], f"{index}-{hexed[:-4]}"],  # a truncated share
        [shares[0], "not a share"],
        [],
    ]
    grants_before = CompartmentGrant.objects.count()
    for given in wrong:
        with pytest.raises(ServiceError):
            do_recover_access(organisation=world.org, shares=given, member=newcomer)
    assert CompartmentGrant.objects.count() == grants_before
    assert not CaseCoordinator.objects.filter(member=newcomer).exists()
    assert not _case_compartments(world.org) & fresh_keyring(ring).load_everything()


def test_recovered_access_goes_only_to_a_coordinator_of_the_organisation(world):
    member, ring = world.member(0)
    with pytest.raises(ServiceError):
        do_recover_access(organisation=world.org, shares=world.recovery_shares[:2], member=member)
    outsider = OrganisationFactory()
    with pytest.raises(ServiceError):
        do_recover_access(
            organisation=world.org, shares=world.recovery_shares[:2], member=outsider.founder
        )
    assert not _case_compartments(world.org) & fresh_keyring(ring).load_everything()
    with unlocked(fresh_keyring(outsider.keyring)), pytest.raises(Locked):
        _ = Case.objects.get(pk=world.case.pk).codename
