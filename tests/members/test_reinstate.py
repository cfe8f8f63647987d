"""Reinstating a member disabled pending review (their cell was declared
compromised): they log in again, leave the compromised cell, and get back
the keys of any other cell they belong to."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.urls import reverse

from safepassage.audit.selectors import read_entries
from safepassage.cells.models import CellMembership
from safepassage.cells.services import do_add_member_to_cell
from safepassage.compromise.exposure import Subject, SubjectKind
from safepassage.compromise.services import do_declare_and_respond, do_release_leg
from safepassage.journeys.models import Leg
from safepassage.members.models import Member, MemberStatus
from safepassage.vault.keyring import unlocked
from safepassage.vault.models import CompartmentGrant
from tests.dashboard.permissions import assert_matrix
from tests.factories import PASSWORD
from tests.vault.support import fresh_keyring

pytestmark = pytest.mark.django_db


def _can_log_in(member: Member) -> bool:
    request = RequestFactory().post(reverse("members:login"))
    return authenticate(request, username=member.handle, password=PASSWORD) is not None


@pytest.fixture
def heron_raided(world):
    """Heron (leg 0) declared compromised after its driver also joined Otter
    (leg 1): both Heron members are disabled pending review."""
    driver, _ = world.member(0)
    with unlocked(fresh_keyring(world.coord_keyring)):
        do_add_member_to_cell(actor=world.coord, member=driver, cell=world.cells[1])
        do_declare_and_respond(
            actor=world.coord,
            subject=Subject(SubjectKind.CELL, world.cells[0].pk),
            reason="raid",
            notes="",
        )
    driver.refresh_from_db()
    assert driver.is_disabled and not _can_log_in(driver)
    assert not CompartmentGrant.objects.filter(member=driver).exists()
    return world


def test_permission_matrix(client, world):
    # The matrix's cell member is Heron's, so nothing is declared here.
    target, _ = world.member(1)
    assert_matrix(client, world, record_urls=[reverse("members:reinstate", args=[target.pk])])
    assert Member.objects.get(pk=target.pk).is_approved


def test_a_coordinator_reinstates_a_disabled_member(client, login, heron_raided):
    world = heron_raided
    driver, driver_ring = world.member(0)
    mate, _ = world.member(0, 1)
    heron, otter = world.cells[0], world.cells[1]
    otter_leg = world.legs[1]
    login(world.coord)

    listing = client.get(reverse("members:list")).content.decode()
    assert listing.count("Disabled pending review") == 2
    url = reverse("members:reinstate", args=[driver.pk])
    assert url in listing
    page = client.get(url).content.decode()
    assert driver.handle in page and "Reinstate this member" in page

    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("members:list")

    driver.refresh_from_db()
    assert driver.is_approved and _can_log_in(driver)
    # Out of the compromised cell, still in Otter: they open the handoffs at
    # the ends of Otter's leg again, and nothing of Heron's. The leg itself is
    # frozen (it met Heron's at h1); its key comes back when it is released.
    assert list(CellMembership.objects.filter(member=driver).values_list("cell", flat=True)) == [
        otter.pk
    ]
    otter_handoffs = set(
        world.journey.handoffs.filter(position__in=[1, 2]).values_list("compartment_id", flat=True)
    )
    assert fresh_keyring(driver_ring).load_everything() == otter_handoffs
    with unlocked(fresh_keyring(world.coord_keyring)):
        do_release_leg(actor=world.coord, leg=Leg.objects.get(pk=otter_leg.pk))
    assert fresh_keyring(driver_ring).load_everything() == {
        otter_leg.compartment_id,
        *otter_handoffs,
    }
    # The other Heron member is still waiting for review.
    mate.refresh_from_db()
    assert mate.is_disabled and CellMembership.objects.filter(member=mate, cell=heron).exists()

    listing = client.get(reverse("members:list")).content.decode()
    assert listing.count("Disabled pending review") == 1
    with unlocked(fresh_keyring(world.coord_keyring)):
        entries = read_entries(organisation=world.org, limit=20)
    reinstated = [e for e in entries if e["verb"] == "member.reinstate"]
    assert [(e["target_id"], e["detail"]) for e in reinstated] == [
        (str(driver.pk), {"compromised_cells_left": 1})
    ]


@pytest.mark.parametrize("who", ["active", "removed"])
def test_only_a_disabled_member_can_be_reinstated(client, login, world, who):
    target, _ = world.member(0)
    login(world.coord)
    if who == "removed":
        assert client.post(reverse("members:remove", args=[target.pk])).status_code == 302
    response = client.post(reverse("members:reinstate", args=[target.pk]))
    if who == "active":
        assert response.status_code == 200
        assert "This member is not disabled." in response.content.decode()
    else:  # a removed member is gone from the directory
        assert response.status_code == 404
    target.refresh_from_db()
    assert target.status == (MemberStatus.ACTIVE if who == "active" else MemberStatus.REMOVED)
    assert target.is_active == (who == "active")
