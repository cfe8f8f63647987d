"""Cell pages: list, create, edit, members."""

from __future__ import annotations

from django.urls import reverse

from safepassage.cells.models import Cell, CellMembership, CellStatus
from safepassage.members.services import do_accept_invitation, do_invite_member
from safepassage.roles import Role
from safepassage.vault.keyring import unlocked
from tests.dashboard.permissions import assert_matrix
from tests.factories import PASSWORD


def test_permission_matrix(client, world):
    cell = world.cells[0]
    assert_matrix(
        client,
        world,
        record_urls=[
            reverse("cells:detail", args=[cell.pk]),
            reverse("cells:edit", args=[cell.pk]),
            reverse("cells:member_add", args=[cell.pk]),
            reverse("cells:member_remove", args=[cell.pk]),
            reverse("cells:member_lead", args=[cell.pk]),
        ],
        open_urls=[reverse("cells:list"), reverse("cells:new")],
        secrets=["Heron", "Otter", "Lark"],
    )
    assert CellMembership.objects.filter(cell=cell).count() == 2
    assert not CellMembership.objects.filter(cell=cell, is_lead=True).exists()


def test_list_shows_code_names_and_member_counts(client, world, login):
    login(world.coord)
    body = client.get(reverse("cells:list")).content.decode()
    for name in ("Heron", "Otter", "Lark"):
        assert name in body
    assert '<td class="num">2</td>' in body  # Heron has two members


def test_create_a_cell_and_refuse_an_empty_code_name(client, world, login):
    login(world.coord)
    before = Cell.objects.count()
    response = client.post(reverse("cells:new"), {"codename": "", "specialty": "boat"})
    assert "This field is required." in response.content.decode()
    assert Cell.objects.count() == before
    response = client.post(reverse("cells:new"), {"codename": "Crane", "specialty": "boat"})
    assert response.status_code == 302
    assert "Crane" in client.get(reverse("cells:list")).content.decode()


def test_edit_a_cell_and_mark_it_compromised(client, world, login):
    login(world.coord)
    url = reverse("cells:edit", args=[world.cells[1].pk])
    assert 'value="Otter"' in client.get(url).content.decode()
    response = client.post(
        url,
        {"codename": "Otter", "specialty": "guide", "notes": "", "status": CellStatus.COMPROMISED},
    )
    assert response.status_code == 302
    assert Cell.objects.get(pk=world.cells[1].pk).status == CellStatus.COMPROMISED
    # A compromised cell is no longer offered for new legs.
    form = client.get(reverse("journeys:leg_new", args=[world.journey.pk])).content.decode()
    assert f'value="{world.cells[1].pk}"' not in form


def test_detail_lists_members_and_open_legs(client, world, login):
    login(world.coord)
    body = client.get(reverse("cells:detail", args=[world.cells[0].pk])).content.decode()
    for member, _ring in world.cell_members[0]:
        assert member.handle in body
    assert "Camellia, leg 1" in body


def test_add_an_approved_cell_member_to_a_cell(client, world, login):
    newcomer = world.member(1)[0]  # in Otter, not yet in Heron
    login(world.coord)
    url = reverse("cells:detail", args=[world.cells[0].pk])
    assert newcomer.handle in client.get(url).content.decode()  # offered
    response = client.post(
        reverse("cells:member_add", args=[world.cells[0].pk]),
        {"member": str(newcomer.pk), "is_lead": "on"},
    )
    assert response.status_code == 302
    link = CellMembership.objects.get(cell=world.cells[0], member=newcomer)
    assert link.is_lead
    body = client.get(url).content.decode()
    assert body.count("No longer lead") == 1
    assert body.index(f'<th scope="row">{newcomer.handle}</th>') < body.index("No longer lead")


def test_members_awaiting_approval_are_not_offered(client, world, login):
    with unlocked(world.coord_keyring):
        _inv, token = do_invite_member(
            actor=world.coord, role=Role.CELL_MEMBER, cell=world.cells[2], display_name="Later"
        )
    waiting, _key = do_accept_invitation(token=token, handle="not-yet", password=PASSWORD)
    login(world.coord)
    response = client.post(
        reverse("cells:member_add", args=[world.cells[0].pk]), {"member": str(waiting.pk)}
    )
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not CellMembership.objects.filter(member=waiting).exists()


def test_remove_a_member_from_a_cell(client, world, login):
    member = world.member(0, 1)[0]
    login(world.coord)
    url = reverse("cells:member_remove", args=[world.cells[0].pk])
    page = client.get(f"{url}?member={member.pk}").content.decode()
    assert f'<option value="{member.pk}" selected>' in page
    response = client.post(url, {"member": str(member.pk)})
    assert response.status_code == 302
    assert not CellMembership.objects.filter(cell=world.cells[0], member=member).exists()
    # Someone outside the cell cannot be chosen.
    outsider = world.member(1)[0]
    response = client.post(url, {"member": str(outsider.pk)})
    assert "Select a valid choice." in response.content.decode()
    assert CellMembership.objects.filter(member=outsider).exists()
