"""Factories for tests. Everything is built through the services, so the key
graph in tests is the one production builds.

``World`` builds a small organisation: two coordinators, three cells with one
or two members each, a case with a two-leg journey still being planned whose
two legs are briefed to their cells (so the cells see them, as after a start,
while the plan can still change), and a second case coordinated by only one
coordinator.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import factory
from django.utils import timezone

from safepassage.cases.services import do_add_traveller, do_open_case
from safepassage.cells.services import do_create_cell
from safepassage.journeys.services import (
    do_add_leg,
    do_brief_leg,
    do_create_journey,
    do_update_handoff,
)
from safepassage.members.models import Member
from safepassage.members.services import (
    do_accept_invitation,
    do_approve_member,
    do_invite_member,
    unlock_private_key,
)
from safepassage.organisations.services import NewOrganisation, do_create_organisation
from safepassage.roles import Role
from safepassage.vault.keyring import Keyring, unlocked

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def handle(prefix: str) -> str:
    return f"{prefix}{next(_seq)}"


class OrganisationFactory(factory.Factory):
    """Builds an organisation through ``do_create_organisation``; returns NewOrganisation."""

    class Meta:
        model = NewOrganisation

    name = factory.Sequence(lambda n: f"Test Network {n}")
    founder_handle = factory.LazyFunction(lambda: handle("coord"))
    founder_password = PASSWORD
    founder_display_name = factory.Sequence(lambda n: f"Coordinator Person {n}")

    @classmethod
    def _create(cls, model_class, **kwargs):
        return do_create_organisation(**kwargs)

    _build = _create


def keyring_for(member: Member, password: str = PASSWORD) -> Keyring:
    return Keyring(member_id=member.pk, member_private_key=unlock_private_key(member, password))


def make_member(
    inviter: Member,
    inviter_keyring: Keyring,
    *,
    role: str = Role.CELL_MEMBER,
    cell=None,
    display_name: str | None = None,
    password: str = PASSWORD,
) -> tuple[Member, Keyring]:
    """Invite, accept and approve a member; returns them with their keyring."""
    with unlocked(inviter_keyring):
        _inv, token = do_invite_member(
            actor=inviter, role=role, cell=cell, display_name=display_name or handle("Person ")
        )
        member, private_key = do_accept_invitation(
            token=token, handle=handle("m"), password=password
        )
        do_approve_member(actor=inviter, member=member)
    member.refresh_from_db()
    return member, Keyring(member_id=member.pk, member_private_key=private_key)


@dataclass
class World:
    org: object
    recovery_shares: list[str]
    coord: Member
    coord_keyring: Keyring
    coord2: Member
    coord2_keyring: Keyring
    cells: list = field(default_factory=list)
    cell_members: dict = field(default_factory=dict)  # cell index -> [(member, keyring)]
    case: object = None
    other_case: object = None
    journey: object = None
    legs: list = field(default_factory=list)

    def member(self, cell_index: int, n: int = 0) -> tuple[Member, Keyring]:
        return self.cell_members[cell_index][n]


def build_world() -> World:
    new = OrganisationFactory()
    coord, ring = new.founder, new.keyring
    coord2, ring2 = make_member(
        coord, ring, role=Role.COORDINATOR, display_name="Second Coordinator"
    )
    world = World(
        org=new.organisation,
        recovery_shares=new.recovery_shares,
        coord=coord,
        coord_keyring=ring,
        coord2=coord2,
        coord2_keyring=ring2,
    )
    with unlocked(ring):
        world.cells = [
            do_create_cell(actor=coord, codename=name, specialty=spec)
            for name, spec in (("Heron", "driver"), ("Otter", "guide"), ("Lark", "safe house"))
        ]
    for index, cell in enumerate(world.cells):
        world.cell_members[index] = [
            make_member(coord, ring, cell=cell) for _ in range(2 if index == 0 else 1)
        ]
    now = timezone.now()
    with unlocked(ring):
        world.case = do_open_case(
            actor=coord,
            codename="Camellia",
            needs="insulin",
            coordinators=[coord2],
            consent={"given": True, "scope": "journey"},
        )
        do_add_traveller(
            actor=coord, case=world.case, name="Traveller Secret-Name", phone="+86 139 0000 1111"
        )
        world.journey = do_create_journey(actor=coord, case=world.case, title="North route")
        world.legs = [
            do_add_leg(
                actor=coord,
                journey=world.journey,
                cell=world.cells[0],
                route="Yanji to Changchun",
                window_start=now + timedelta(hours=1),
                window_end=now + timedelta(hours=5),
            ),
            do_add_leg(
                actor=coord,
                journey=world.journey,
                cell=world.cells[1],
                route="Changchun to Dandong",
                window_start=now + timedelta(hours=6),
                window_end=now + timedelta(hours=12),
            ),
        ]
        middle = world.journey.handoffs.get(position=1)
        do_update_handoff(
            actor=coord,
            handoff=middle,
            place="Car park behind the Changchun grain market",
            window_start=now + timedelta(hours=5),
            window_end=now + timedelta(hours=6),
            vehicle_colour="grey",
            vehicle_plate="吉A 7Q219",
            signal="umbrella in the right hand",
        )
        for leg in world.legs:
            do_brief_leg(actor=coord, leg=leg)
            leg.refresh_from_db()
        world.other_case = do_open_case(actor=coord, codename="Wisteria", needs="none")
        do_add_traveller(actor=coord, case=world.other_case, name="Other Hidden-Person")
    return world
