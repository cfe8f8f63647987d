"""A cell's lead: zero or one per cell, chosen by a coordinator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.audit.selectors import read_entries
from safepassage.cells.models import CellMembership
from safepassage.cells.services import do_add_member_to_cell, do_set_cell_lead
from safepassage.core.errors import ServiceError
from safepassage.vault.keyring import unlocked
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def leads(cell) -> list:
    return list(
        CellMembership.objects.filter(cell=cell, is_lead=True).values_list("member_id", flat=True)
    )


def audit_entries(world, verb):
    with unlocked(world.coord_keyring):
        return [e for e in read_entries(organisation=world.org) if e["verb"] == verb]


def set_lead(world, member, is_lead=True, cell_index=0, actor=None):
    actor = actor or world.coord
    with unlocked(world.coord_keyring):
        return do_set_cell_lead(
            actor=actor, cell=world.cells[cell_index], member=member, is_lead=is_lead
        )


# --- the service ---------------------------------------------------------------------------


def test_a_coordinator_makes_a_member_lead_with_an_audit_event(world):
    member = world.member(0)[0]
    assert leads(world.cells[0]) == []
    membership = set_lead(world, member)
    assert membership.is_lead
    assert leads(world.cells[0]) == [member.pk]
    [entry] = audit_entries(world, "cell.set_lead")
    assert entry["actor"] == str(world.coord.pk)
    assert entry["target_id"] == str(world.cells[0].pk)
    assert entry["detail"] == {"member": str(member.pk)}


def test_a_new_lead_replaces_the_previous_one(world):
    first, second = world.member(0, 0)[0], world.member(0, 1)[0]
    set_lead(world, first)
    set_lead(world, second)
    assert leads(world.cells[0]) == [second.pk]
    # Leads of other cells are untouched.
    otter_member = world.member(1)[0]
    set_lead(world, otter_member, cell_index=1)
    set_lead(world, first)
    assert leads(world.cells[0]) == [first.pk]
    assert leads(world.cells[1]) == [otter_member.pk]


def test_ending_the_lead_role_leaves_the_cell_without_a_lead(world):
    member = world.member(0)[0]
    set_lead(world, member)
    membership = set_lead(world, member, is_lead=False)
    assert not membership.is_lead
    assert leads(world.cells[0]) == []
    assert len(audit_entries(world, "cell.unset_lead")) == 1
    # The member stays in the cell.
    assert CellMembership.objects.filter(cell=world.cells[0], member=member).exists()


def test_only_a_coordinator_of_the_organisation_can_choose_a_lead(world):
    member, ring = world.member(0)
    with unlocked(ring), pytest.raises(ServiceError, match="Only a coordinator"):
        do_set_cell_lead(actor=member, cell=world.cells[0], member=member, is_lead=True)
    other = OrganisationFactory()
    with unlocked(other.keyring), pytest.raises(ServiceError, match="does not exist"):
        do_set_cell_lead(actor=other.founder, cell=world.cells[0], member=member, is_lead=True)
    assert leads(world.cells[0]) == []
    assert audit_entries(world, "cell.set_lead") == []


def test_the_member_must_be_in_the_cell(world):
    outsider = world.member(1)[0]  # in Otter, not in Heron
    with pytest.raises(ServiceError, match="not in this cell"):
        set_lead(world, outsider)
    assert leads(world.cells[0]) == []
    assert not CellMembership.objects.filter(cell=world.cells[0], member=outsider).exists()
    # A coordinator is never in a cell.
    with pytest.raises(ServiceError, match="not in this cell"):
        set_lead(world, world.coord2)


def test_adding_a_new_member_as_lead_replaces_the_lead(world):
    current = world.member(0)[0]
    set_lead(world, current)
    newcomer = world.member(1)[0]
    with unlocked(world.coord_keyring):
        do_add_member_to_cell(actor=world.coord, member=newcomer, cell=world.cells[0], is_lead=True)
    assert leads(world.cells[0]) == [newcomer.pk]


def test_adding_an_existing_member_as_lead_makes_them_lead(world):
    first, second = world.member(0, 0)[0], world.member(0, 1)[0]
    set_lead(world, first)
    with unlocked(world.coord_keyring):
        do_add_member_to_cell(actor=world.coord, member=second, cell=world.cells[0], is_lead=True)
    assert leads(world.cells[0]) == [second.pk]
    assert CellMembership.objects.filter(cell=world.cells[0]).count() == 2
    # Adding again without is_lead does not end the lead role.
    with unlocked(world.coord_keyring):
        do_add_member_to_cell(actor=world.coord, member=second, cell=world.cells[0])
    assert leads(world.cells[0]) == [second.pk]


# --- the page ---------------------------------------------------------------------------------


def row(member) -> str:
    return f'<th scope="row">{member.handle}</th>'


def lead_url(world, cell_index=0) -> str:
    return reverse("cells:member_lead", args=[world.cells[cell_index].pk])


def test_make_lead_and_no_longer_lead_buttons(client, world, login):
    first, second = world.member(0, 0)[0], world.member(0, 1)[0]
    login(world.coord)
    detail = reverse("cells:detail", args=[world.cells[0].pk])
    body = client.get(detail).content.decode()
    assert body.count("Make lead") == 2 and "No longer lead" not in body
    assert f'action="{lead_url(world)}"' in body

    response = client.post(lead_url(world), {"member": str(first.pk), "is_lead": "1"})
    assert response.status_code == 302 and response["Location"] == detail
    assert leads(world.cells[0]) == [first.pk]
    body = client.get(detail).content.decode()
    assert f"{first.handle} now leads the cell" in body
    assert body.count("Make lead") == 1 and body.count("No longer lead") == 1
    # The lead's row comes first and carries the button that ends the role.
    assert body.index(row(first)) < body.index("No longer lead") < body.index(row(second))

    client.post(lead_url(world), {"member": str(second.pk), "is_lead": "1"})
    assert leads(world.cells[0]) == [second.pk]

    response = client.post(lead_url(world), {"member": str(second.pk), "is_lead": "0"})
    assert response.status_code == 302
    assert leads(world.cells[0]) == []
    body = client.get(detail).content.decode()
    assert f"{second.handle} no longer leads the cell" in body
    assert body.count("Make lead") == 2


def test_get_goes_back_to_the_cell(client, world, login):
    login(world.coord)
    response = client.get(lead_url(world))
    assert response.status_code == 302
    assert response["Location"] == reverse("cells:detail", args=[world.cells[0].pk])


def test_a_member_of_another_cell_cannot_be_chosen(client, world, login):
    outsider = world.member(1)[0]
    login(world.coord)
    response = client.post(lead_url(world), {"member": str(outsider.pk), "is_lead": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body and "Select a valid choice." in body
    assert leads(world.cells[0]) == [] and leads(world.cells[1]) == []
    assert not CellMembership.objects.filter(cell=world.cells[0], member=outsider).exists()


def test_a_coordinator_of_another_organisation_gets_404(client, world, login):
    member = world.member(0)[0]
    other = OrganisationFactory()
    login(other.founder, other.keyring)
    for method in ("get", "post"):
        response = getattr(client, method)(
            lead_url(world), {"member": str(member.pk), "is_lead": "1"}
        )
        assert response.status_code == 404, method
    assert leads(world.cells[0]) == []


def test_a_cell_member_gets_404_even_for_their_own_cell(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    response = client.post(lead_url(world), {"member": str(member.pk), "is_lead": "1"})
    assert response.status_code == 404
    assert leads(world.cells[0]) == []
