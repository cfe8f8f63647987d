"""Exposure of each kind of subject, on concrete organisations built through
the services: exactly the expected ids, no more, no fewer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from safepassage.cases.models import Case, Traveller
from safepassage.cases.services import do_add_traveller, do_open_case
from safepassage.cells.models import Cell
from safepassage.cells.services import do_create_cell
from safepassage.compromise.exposure import (
    Exposure,
    Subject,
    SubjectKind,
    UnknownSubject,
    exposure_of,
    normalise,
    text_matches,
)
from safepassage.contacts.models import Contact
from safepassage.contacts.services import do_create_contact
from safepassage.journeys.models import Handoff, Journey, Leg, LegStatus, TransportKind
from safepassage.journeys.services import (
    do_add_leg,
    do_brief_leg,
    do_create_journey,
    do_update_handoff,
)
from safepassage.members.models import Member
from safepassage.roles import Role
from safepassage.safehouses.models import SafeHouse
from safepassage.safehouses.services import do_create_safe_house
from safepassage.vault.keyring import Keyring, unlocked
from safepassage.vault.models import PendingGrant

from ..factories import OrganisationFactory, World, make_member

# --- the world of tests/factories.py -------------------------------------------------------------


def handoffs(world: World) -> list[Handoff]:
    return list(world.journey.handoffs.order_by("position"))


def traveller(case: Case) -> Traveller:
    return case.travellers.get()


def test_cell_member_exposes_their_leg_and_its_two_handoffs(world):
    member, _ = world.member(0)
    heron, otter, _lark = world.cells
    leg0, leg1 = world.legs
    h0, h1, _h2 = handoffs(world)

    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.MEMBER, member.pk))

    assert e.compartment_ids == {leg0.compartment_id, h0.compartment_id, h1.compartment_id}
    assert e.member_ids == {member.pk}
    assert e.cell_ids == {heron.pk}
    assert e.leg_ids == {leg0.pk}
    assert e.handoff_ids == {h0.pk, h1.pk}
    assert e.case_ids == set()
    assert e.described_case_ids == {world.case.pk}
    assert e.traveller_ids == {traveller(world.case).pk}
    assert e.adjacent_cell_ids == {otter.pk}
    assert e.active_journey_ids == {world.journey.pk}
    # The next leg meets this one at h1: it is touched and would be frozen.
    assert e.open_leg_ids == {leg0.pk, leg1.pk}
    assert e.legs_needing_new_cell == {leg0.pk}
    assert e.safe_house_ids == set()
    assert e.contact_ids == set()
    assert not e.directory_exposed


def test_a_cell_is_the_union_of_its_members(world):
    heron = world.cells[0]
    leg0 = world.legs[0]
    h0, h1, _h2 = handoffs(world)
    members = {m.pk for m, _ in world.cell_members[0]}

    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.CELL, heron.pk))

    assert e.member_ids == members
    assert e.cell_ids == {heron.pk}
    assert e.compartment_ids == {leg0.compartment_id, h0.compartment_id, h1.compartment_id}
    assert e.leg_ids == {leg0.pk}
    assert e.handoff_ids == {h0.pk, h1.pk}
    assert e.adjacent_cell_ids == {world.cells[1].pk}
    assert e.legs_needing_new_cell == {leg0.pk}


def test_last_cell_meets_only_the_one_before(world):
    otter = world.cells[1]
    _h0, h1, h2 = handoffs(world)
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.CELL, otter.pk))
    assert e.leg_ids == {world.legs[1].pk}
    assert e.handoff_ids == {h1.pk, h2.pk}
    assert e.adjacent_cell_ids == {world.cells[0].pk}


def test_idle_cell_exposes_nothing(world):
    lark = world.cells[2]
    member, _ = world.member(2)
    for subject in (Subject(SubjectKind.CELL, lark.pk), Subject(SubjectKind.MEMBER, member.pk)):
        e = exposure_of(organisation=world.org, subject=subject)
        assert e.is_empty
        assert e.compartment_ids == set()
        assert e.open_leg_ids == set()
        assert e.legs_needing_new_cell == set()


def test_coordinator_exposes_their_cases_and_the_directory(world):
    heron, otter, _lark = world.cells
    every_handoff = {h.pk for h in handoffs(world)}
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.MEMBER, world.coord.pk))

    assert world.org.coordinators_compartment_id in e.compartment_ids
    assert e.directory_exposed
    assert e.case_ids == {world.case.pk, world.other_case.pk}
    assert e.described_case_ids == set()
    assert e.traveller_ids == {traveller(world.case).pk, traveller(world.other_case).pk}
    assert e.leg_ids == {leg.pk for leg in world.legs}
    assert e.handoff_ids == every_handoff
    assert e.compartment_ids == (
        {world.org.coordinators_compartment_id, world.case.compartment_id}
        | {world.other_case.compartment_id}
        | {leg.compartment_id for leg in world.legs}
        | {h.compartment_id for h in handoffs(world)}
    )
    assert e.adjacent_cell_ids == {heron.pk, otter.pk}
    assert e.open_leg_ids == {leg.pk for leg in world.legs}
    assert e.legs_needing_new_cell == set()  # a coordinator runs no leg


def test_second_coordinator_does_not_expose_a_case_they_do_not_coordinate(world):
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.MEMBER, world.coord2.pk))
    assert e.case_ids == {world.case.pk}
    assert world.other_case.compartment_id not in e.compartment_ids
    assert e.traveller_ids == {traveller(world.case).pk}
    assert e.directory_exposed


def test_handoff_exposes_its_compartment_and_both_cells(world):
    _h0, h1, _h2 = handoffs(world)
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.HANDOFF, h1.pk))
    assert e.compartment_ids == {h1.compartment_id}
    assert e.handoff_ids == {h1.pk}
    assert e.leg_ids == set()
    assert e.adjacent_cell_ids == {world.cells[0].pk, world.cells[1].pk}
    assert e.described_case_ids == {world.case.pk}
    assert e.case_ids == set()
    assert e.traveller_ids == {traveller(world.case).pk}
    assert e.open_leg_ids == {leg.pk for leg in world.legs}
    assert e.member_ids == set()
    assert e.legs_needing_new_cell == set()


def test_pickup_handoff_touches_only_the_first_leg(world):
    h0 = handoffs(world)[0]
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.HANDOFF, h0.pk))
    assert e.adjacent_cell_ids == {world.cells[0].pk}
    assert e.open_leg_ids == {world.legs[0].pk}


def test_finished_legs_are_not_open_and_finished_journeys_not_active(world):
    leg0, leg1 = world.legs
    Leg.objects.filter(pk=leg0.pk).update(status=LegStatus.HANDED_OFF)
    member, _ = world.member(0)
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.MEMBER, member.pk))
    assert e.open_leg_ids == {leg1.pk}
    assert e.legs_needing_new_cell == set()
    Journey.objects.filter(pk=world.journey.pk).update(status="completed")
    e = exposure_of(organisation=world.org, subject=Subject(SubjectKind.MEMBER, member.pk))
    assert e.active_journey_ids == set()


def test_vehicle_plate_and_colour_on_a_handoff(world):
    h1 = handoffs(world)[1]
    for text in ("吉A 7Q219", "  吉a   7q219 ", "GREY"):
        e = exposure_of(
            organisation=world.org,
            subject=Subject(SubjectKind.VEHICLE, text=text),
            keyring=world.coord_keyring,
        )
        assert e.handoff_ids == {h1.pk}, text
        assert e.compartment_ids == {h1.compartment_id}
        assert e.not_searchable == 0
        assert e.adjacent_cell_ids == {world.cells[0].pk, world.cells[1].pk}


def test_unknown_subjects_are_refused(world):
    other = OrganisationFactory()
    with unlocked(other.keyring):
        stranger = do_create_cell(actor=other.founder, codename="Stranger")
    with pytest.raises(UnknownSubject):
        exposure_of(organisation=world.org, subject=Subject(SubjectKind.CELL, stranger.pk))
    with pytest.raises(UnknownSubject):
        exposure_of(organisation=world.org, subject=Subject(SubjectKind.MEMBER, other.founder.pk))
    with pytest.raises(UnknownSubject):
        exposure_of(organisation=world.org, subject=Subject(SubjectKind.CELL))
    with pytest.raises(UnknownSubject):
        exposure_of(organisation=world.org, subject=Subject(SubjectKind.PLACE, text="   "))
    with pytest.raises(UnknownSubject):
        exposure_of(organisation=world.org, subject=Subject("nonsense", world.cells[0].pk))
    h1 = handoffs(world)[1]
    with pytest.raises(UnknownSubject):
        exposure_of(organisation=other.organisation, subject=Subject(SubjectKind.HANDOFF, h1.pk))


# --- a network with a contact, a safe house and vehicles ---------------------------------------------


@dataclass
class Network:
    org: object
    coord: Member
    ring: Keyring
    coord2: Member
    ring2: Keyring
    cells: dict[str, Cell]
    rings: dict[str, Keyring]
    contact: Contact
    house: SafeHouse
    x: Case
    y: Case
    x_legs: list[Leg]
    x_handoffs: list[Handoff]
    y_legs: list[Leg]
    y_handoffs: list[Handoff]


@pytest.fixture
def net(db) -> Network:
    return build_network()


def build_network() -> Network:
    """Case X: A drives (a grey Hyundai), B keeps the safe house, C is driven
    by the contact; case Y (founder only): D stays at the same safe house."""
    new = OrganisationFactory()
    coord, ring = new.founder, new.keyring
    coord2, ring2 = make_member(coord, ring, role=Role.COORDINATOR)
    with unlocked(ring):
        cells = {name: do_create_cell(actor=coord, codename=name) for name in "ABCD"}
        contact = do_create_contact(actor=coord, name="Broker Kim")
        house = do_create_safe_house(actor=coord, codename="Pine", place="Yard 4", capacity=3)
    rings = {}
    for name, cell in cells.items():
        _member, rings[name] = make_member(coord, ring, cell=cell)
    with unlocked(ring):
        x = do_open_case(actor=coord, codename="X", coordinators=[coord2])
        do_add_traveller(actor=coord, case=x, name="Traveller X")
        y = do_open_case(actor=coord, codename="Y")
        do_add_traveller(actor=coord, case=y, name="Traveller Y1")
        do_add_traveller(actor=coord, case=y, name="Traveller Y2")
        jx = do_create_journey(actor=coord, case=x, title="X route")
        x_legs = [
            do_add_leg(
                actor=coord, journey=jx, cell=cells["A"], vehicle="Grey Hyundai Sonata, 吉A 7Q219"
            ),
            do_add_leg(
                actor=coord,
                journey=jx,
                cell=cells["B"],
                safe_house=house,
                transport=TransportKind.STAY,
            ),
            do_add_leg(
                actor=coord, journey=jx, cell=cells["C"], contact=contact, vehicle="white van"
            ),
        ]
        x_handoffs = list(jx.handoffs.order_by("position"))
        do_update_handoff(
            actor=coord,
            handoff=x_handoffs[1],
            place="Rear gate, Tumen bus station",
            window_start=None,
            window_end=None,
            vehicle_colour="grey",
            vehicle_plate="吉A 7Q219",
        )
        do_update_handoff(
            actor=coord,
            handoff=x_handoffs[2],
            place="Tumen bus station",
            window_start=None,
            window_end=None,
        )
        jy = do_create_journey(actor=coord, case=y, title="Y route")
        y_legs = [do_add_leg(actor=coord, journey=jy, cell=cells["D"], safe_house=house)]
        y_handoffs = list(jy.handoffs.order_by("position"))
        # Every cell is briefed on its leg: the journeys are still being planned.
        for leg in [*x_legs, *y_legs]:
            do_brief_leg(actor=coord, leg=leg)
    return Network(
        org=new.organisation,
        coord=coord,
        ring=ring,
        coord2=coord2,
        ring2=ring2,
        cells=cells,
        rings=rings,
        contact=contact,
        house=house,
        x=x,
        y=y,
        x_legs=x_legs,
        x_handoffs=[Handoff.objects.get(pk=h.pk) for h in x_handoffs],
        y_legs=y_legs,
        y_handoffs=y_handoffs,
    )


def ids(records) -> set:
    return {r.pk for r in records}


def comps(records) -> set:
    return {r.compartment_id for r in records}


def travellers_of(*cases: Case) -> set:
    return set(Traveller.objects.filter(case__in=cases).values_list("pk", flat=True))


def test_contact_exposes_what_they_were_told(net):
    leg = net.x_legs[2]
    ends = net.x_handoffs[2:4]
    e = exposure_of(organisation=net.org, subject=Subject(SubjectKind.CONTACT, net.contact.pk))
    assert e.compartment_ids == comps([leg, *ends])
    assert e.leg_ids == {leg.pk}
    assert e.handoff_ids == ids(ends)
    assert e.member_ids == set()
    assert e.contact_ids == {net.contact.pk}
    # The contact's leg is run with cell C; B hands over to it.
    assert e.adjacent_cell_ids == {net.cells["C"].pk, net.cells["B"].pk}
    assert e.legs_needing_new_cell == {leg.pk}
    assert e.described_case_ids == {net.x.pk}
    assert e.traveller_ids == travellers_of(net.x)
    assert e.open_leg_ids == {net.x_legs[1].pk, leg.pk}


def test_safe_house_exposes_its_stays_their_ends_and_the_cells_around(net):
    stays = [net.x_legs[1], net.y_legs[0]]
    ends = [net.x_handoffs[1], net.x_handoffs[2], *net.y_handoffs]
    e = exposure_of(organisation=net.org, subject=Subject(SubjectKind.SAFE_HOUSE, net.house.pk))
    assert e.leg_ids == ids(stays)
    assert e.handoff_ids == ids(ends)
    assert e.compartment_ids == comps(stays + ends)
    assert e.safe_house_ids == {net.house.pk}
    assert e.adjacent_cell_ids == {net.cells[name].pk for name in "ABCD"}
    assert e.described_case_ids == {net.x.pk, net.y.pk}
    assert e.case_ids == set()
    assert e.traveller_ids == travellers_of(net.x, net.y)
    assert e.legs_needing_new_safe_house == ids(stays)
    assert e.legs_needing_new_cell == set()
    assert e.open_leg_ids == ids(net.x_legs + net.y_legs)


def test_cell_running_a_stay_lists_the_safe_house(net):
    e = exposure_of(organisation=net.org, subject=Subject(SubjectKind.CELL, net.cells["B"].pk))
    assert e.safe_house_ids == {net.house.pk}
    assert e.contact_ids == set()
    e = exposure_of(organisation=net.org, subject=Subject(SubjectKind.CELL, net.cells["C"].pk))
    assert e.contact_ids == {net.contact.pk}


def test_vehicle_found_on_a_leg_and_a_handoff(net):
    e = exposure_of(
        organisation=net.org,
        subject=Subject(SubjectKind.VEHICLE, text="吉a 7q219"),
        keyring=net.ring,
    )
    assert e.leg_ids == {net.x_legs[0].pk}
    assert e.handoff_ids == {net.x_handoffs[1].pk}
    assert e.compartment_ids == comps([net.x_legs[0], net.x_handoffs[1]])
    assert e.adjacent_cell_ids == {net.cells["A"].pk, net.cells["B"].pk}
    assert e.not_searchable == 0


def test_short_vehicle_text_must_match_whole_field(net):
    e = exposure_of(
        organisation=net.org, subject=Subject(SubjectKind.VEHICLE, text="van"), keyring=net.ring
    )
    assert e.leg_ids == set()
    e = exposure_of(
        organisation=net.org,
        subject=Subject(SubjectKind.VEHICLE, text="WHITE  VAN"),
        keyring=net.ring,
    )
    assert e.leg_ids == {net.x_legs[2].pk}


def test_place_found_as_words_inside_another_place(net):
    e = exposure_of(
        organisation=net.org,
        subject=Subject(SubjectKind.PLACE, text="tumen bus station"),
        keyring=net.ring,
    )
    assert e.handoff_ids == ids(net.x_handoffs[1:3])
    assert e.leg_ids == set()
    assert e.open_leg_ids == ids(net.x_legs)


def test_place_search_only_covers_what_the_keys_open(net):
    # Cell A holds the first two handoffs of X; the second place is beyond it.
    e = exposure_of(
        organisation=net.org,
        subject=Subject(SubjectKind.PLACE, text="Tumen bus station"),
        keyring=net.rings["A"],
    )
    assert e.handoff_ids == {net.x_handoffs[1].pk}
    assert e.not_searchable == 1
    # With no keys at all nothing can be searched; the keyring in force is used.
    e = exposure_of(organisation=net.org, subject=Subject(SubjectKind.PLACE, text="Tumen"))
    assert e.handoff_ids == set()
    assert e.not_searchable == 2
    with unlocked(net.rings["B"]):
        e = exposure_of(
            organisation=net.org, subject=Subject(SubjectKind.PLACE, text="tumen bus station")
        )
    assert e.handoff_ids == ids(net.x_handoffs[1:3])
    assert e.not_searchable == 0


def test_cell_includes_legs_whose_grant_is_pending(net):
    """A member approved by a coordinator who cannot open case Y waits for its
    keys: the member's own keys open nothing yet, but the cell is on Y's leg."""
    d = net.cells["D"]
    newcomer, _ring = make_member(net.coord2, net.ring2, cell=d)
    assert PendingGrant.objects.filter(member=newcomer).exists()
    mine = exposure_of(organisation=net.org, subject=Subject(SubjectKind.MEMBER, newcomer.pk))
    assert mine.compartment_ids == set()
    assert mine.legs_needing_new_cell == {net.y_legs[0].pk}  # their cell's leg
    cell = exposure_of(organisation=net.org, subject=Subject(SubjectKind.CELL, d.pk))
    assert newcomer.pk in cell.member_ids
    assert cell.leg_ids == {net.y_legs[0].pk}
    assert cell.handoff_ids == ids(net.y_handoffs)


def test_query_count_does_not_grow_with_the_network(net, django_assert_max_num_queries):
    small = Subject(SubjectKind.CELL, net.cells["D"].pk)
    with django_assert_max_num_queries(14):
        exposure_of(organisation=net.org, subject=small)
    with unlocked(net.ring):
        jy = net.y_legs[0].journey
        for _ in range(4):
            do_brief_leg(
                actor=net.coord, leg=do_add_leg(actor=net.coord, journey=jy, cell=net.cells["D"])
            )
    with django_assert_max_num_queries(14):
        e = exposure_of(organisation=net.org, subject=small)
    assert len(e.leg_ids) == 5
    with django_assert_max_num_queries(14):
        exposure_of(organisation=net.org, subject=Subject(SubjectKind.MEMBER, net.coord.pk))


def test_normalisation():
    full_width_tumen = "\uff34\uff55\uff4d\uff45\uff4e"
    assert normalise(f"  {full_width_tumen}\tBUS  station ") == "tumen bus station"
    assert text_matches("tumen", "Rear gate, Tumen bus station")
    assert not text_matches("tume", "Rear gate, Tumen bus station")  # not a whole word
    assert not text_matches("bus", "Tumen bus station")  # too short to be found inside
    assert text_matches("bus", " BUS ")
    assert not text_matches("tumen", None)


def test_exposure_defaults_are_empty():
    e = Exposure(subject=Subject(SubjectKind.VEHICLE, text="x"))
    assert e.is_empty
    assert e.not_searchable == 0
