"""Organisation-wide analysis: per-cell figures agree with ``exposure_of``, and
each warning fires exactly when it should."""

from __future__ import annotations

import pytest
from django.utils import translation

from safepassage.cases.services import do_add_traveller, do_open_case
from safepassage.cells.services import do_create_cell
from safepassage.compromise.analysis import (
    MAX_CELLS_KNOWING_SAFE_HOUSE,
    MAX_LIVE_JOURNEYS_PER_CELL,
    Severity,
    WarningKind,
    organisation_analysis,
)
from safepassage.compromise.exposure import Subject, SubjectKind, exposure_of
from safepassage.journeys.models import Handoff, Journey, JourneyStatus
from safepassage.journeys.services import do_add_leg, do_create_journey, do_update_handoff
from safepassage.safehouses.models import SafeHouse, SafeHouseStatus
from safepassage.vault.keyring import unlocked
from tests.journeys.support import change_leg

from ..factories import make_member
from .test_exposure import Network, build_network


@pytest.fixture
def net(db) -> Network:
    return build_network()


def of_kind(analysis, kind):
    return [w for w in analysis.warnings if w.kind == kind]


def one_leg_journey(world_or_net, cell, *, coord=None, ring=None, status=None):
    coord = coord or world_or_net.coord
    ring = ring or getattr(world_or_net, "coord_keyring", None) or world_or_net.ring
    with unlocked(ring):
        case = do_open_case(actor=coord, codename="Solo")
        do_add_traveller(actor=coord, case=case, name="Solo traveller")
        journey = do_create_journey(actor=coord, case=case, title="Solo route")
        leg = do_add_leg(actor=coord, journey=journey, cell=cell)
    if status is not None:
        Journey.objects.filter(pk=journey.pk).update(status=status)
    return journey, leg


def assert_figures_match_exposure(organisation, analysis):
    assert set(analysis.cells) == set(organisation.cells.values_list("pk", flat=True))
    for cell_id, figures in analysis.cells.items():
        e = exposure_of(organisation=organisation, subject=Subject(SubjectKind.CELL, cell_id))
        assert figures.live_journeys == len(e.active_journey_ids)
        assert figures.travellers == len(e.traveller_ids)
        assert figures.places == len(e.handoff_ids) + len(e.safe_house_ids)
        assert figures.cells == len(e.adjacent_cell_ids)


# --- figures -----------------------------------------------------------------------------------


def test_world_figures(world):
    heron, otter, lark = world.cells
    a = organisation_analysis(organisation=world.org)
    assert a.cells[heron.pk].legs == 1
    assert a.cells[heron.pk].journeys == 1
    assert a.cells[heron.pk].travellers == 1
    assert a.cells[heron.pk].places == 2  # the pickup and the middle handoff
    assert a.cells[heron.pk].cells == 1
    assert a.cells[lark.pk].journeys == 0
    assert a.cells[lark.pk].band == 0
    assert a.cells[lark.pk].position is None
    assert a.cells[heron.pk].band == 1
    # Heron runs the first of two legs, Otter the second.
    assert a.cells[heron.pk].position == pytest.approx(0.25)
    assert a.cells[otter.pk].position == pytest.approx(0.75)
    assert [(link.handoffs, {link.a, link.b}) for link in a.links] == [(1, {heron.pk, otter.pk})]
    assert a.warnings == []
    assert not a.reuse_checked
    assert_figures_match_exposure(world.org, a)


def test_network_figures_match_exposure(net):
    a = organisation_analysis(organisation=net.org, keyring=net.ring)
    assert_figures_match_exposure(net.org, a)
    b = net.cells["B"].pk
    # B keeps the safe house: two handoffs and the house.
    assert a.cells[b].places == 3


def test_member_in_two_cells_exposes_both(world):
    """A member of Heron joins Lark: Lark's compromise now reveals Heron's leg."""
    from safepassage.cells.services import do_add_member_to_cell

    member, _ = world.member(0)
    lark = world.cells[2]
    with unlocked(world.coord_keyring):
        do_add_member_to_cell(actor=world.coord, member=member, cell=lark)
    a = organisation_analysis(organisation=world.org)
    assert a.cells[lark.pk].travellers == 1
    assert a.cells[lark.pk].cells == 2  # Heron (through the member) and Otter
    assert_figures_match_exposure(world.org, a)


def test_query_count_is_fixed(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        organisation_analysis(organisation=world.org)
    one_leg_journey(world, world.cells[2])
    one_leg_journey(world, world.cells[1])
    with django_assert_max_num_queries(8):
        organisation_analysis(organisation=world.org)


# --- both ends ------------------------------------------------------------------------------------


def test_a_cell_alone_on_a_journey_sees_both_ends(world):
    lark = world.cells[2]
    journey, leg = one_leg_journey(world, lark)
    a = organisation_analysis(organisation=world.org)
    (warning,) = of_kind(a, WarningKind.BOTH_ENDS)
    assert warning.severity == Severity.HIGH
    assert warning.cell_ids == {lark.pk}
    assert warning.journey_ids == {journey.pk}
    assert warning.leg_ids == {leg.pk}
    assert warning.handoff_ids == set(journey.handoffs.values_list("pk", flat=True))
    assert warning.count == 1
    assert a.cells[lark.pk].band == 3  # a high-severity warning puts it in the top band
    assert a.warnings_for(lark.pk) == [warning]


def test_finished_journeys_do_not_warn(world):
    one_leg_journey(world, world.cells[2], status=JourneyStatus.COMPLETED)
    one_leg_journey(world, world.cells[2], status=JourneyStatus.ABORTED)
    assert organisation_analysis(organisation=world.org).warnings == []


def test_first_and_last_leg_by_one_cell(world):
    heron, otter, _lark = world.cells
    with unlocked(world.coord_keyring):
        last = do_add_leg(actor=world.coord, journey=world.journey, cell=heron)
    a = organisation_analysis(organisation=world.org)
    (warning,) = of_kind(a, WarningKind.BOTH_ENDS)
    assert warning.cell_ids == {heron.pk}
    assert warning.leg_ids == {world.legs[0].pk, last.pk}
    assert otter.pk not in {c for w in a.warnings for c in w.cell_ids}


def test_shared_member_joins_the_two_ends(world):
    """Heron runs the first leg, Lark the (new) last: a member in both cells
    gives each cell's compromise both ends."""
    from safepassage.cells.services import do_add_member_to_cell

    heron, _otter, lark = world.cells
    with unlocked(world.coord_keyring):
        do_add_leg(actor=world.coord, journey=world.journey, cell=lark)
    assert of_kind(organisation_analysis(organisation=world.org), WarningKind.BOTH_ENDS) == []
    member, _ = world.member(0)
    with unlocked(world.coord_keyring):
        do_add_member_to_cell(actor=world.coord, member=member, cell=lark)
    warned = {
        c
        for w in of_kind(organisation_analysis(organisation=world.org), WarningKind.BOTH_ENDS)
        for c in w.cell_ids
    }
    assert warned == {heron.pk, lark.pk}


# --- busy cells ---------------------------------------------------------------------------------------


def test_busy_cell_past_the_threshold(world):
    lark = world.cells[2]
    for _ in range(MAX_LIVE_JOURNEYS_PER_CELL):
        one_leg_journey(world, lark)
    one_leg_journey(world, lark, status=JourneyStatus.COMPLETED)
    a = organisation_analysis(organisation=world.org)
    assert of_kind(a, WarningKind.BUSY_CELL) == []
    journey, _leg = one_leg_journey(world, lark)
    a = organisation_analysis(organisation=world.org)
    (warning,) = of_kind(a, WarningKind.BUSY_CELL)
    assert warning.cell_ids == {lark.pk}
    assert warning.count == MAX_LIVE_JOURNEYS_PER_CELL + 1
    assert journey.pk in warning.journey_ids
    assert warning.severity == Severity.MEDIUM
    assert str(MAX_LIVE_JOURNEYS_PER_CELL) in warning.message


# --- safe houses --------------------------------------------------------------------------------------


def test_safe_house_known_to_too_many_cells(net):
    a = organisation_analysis(organisation=net.org)
    # A, B, C around X's stay and D on Y's: exactly the limit.
    assert MAX_CELLS_KNOWING_SAFE_HOUSE == 4
    assert of_kind(a, WarningKind.SAFE_HOUSE_WIDELY_KNOWN) == []
    with unlocked(net.ring):
        e = do_create_cell(actor=net.coord, codename="E")
        do_add_leg(actor=net.coord, journey=net.y_legs[0].journey, cell=e)
    a = organisation_analysis(organisation=net.org)
    (warning,) = of_kind(a, WarningKind.SAFE_HOUSE_WIDELY_KNOWN)
    assert warning.safe_house_ids == {net.house.pk}
    assert warning.cell_ids == {net.cells[n].pk for n in "ABCD"} | {e.pk}
    assert warning.leg_ids == {net.x_legs[1].pk, net.y_legs[0].pk}
    assert warning.count == 5
    # The same figure as the safe house's own exposure.
    exposure = exposure_of(
        organisation=net.org, subject=Subject(SubjectKind.SAFE_HOUSE, net.house.pk)
    )
    assert exposure.adjacent_cell_ids == warning.cell_ids
    SafeHouse.objects.filter(pk=net.house.pk).update(status=SafeHouseStatus.CLOSED)
    a = organisation_analysis(organisation=net.org)
    assert of_kind(a, WarningKind.SAFE_HOUSE_WIDELY_KNOWN) == []


# --- reuse --------------------------------------------------------------------------------------------


def reuse_the_car_and_the_place(net):
    y_leg = net.y_legs[0]
    pickup = Handoff.objects.get(pk=net.y_handoffs[0].pk)
    with unlocked(net.ring):
        change_leg(
            actor=net.coord,
            leg=y_leg,
            window_start=None,
            window_end=None,
            route="",
            vehicle="grey hyundai   SONATA, 吉a 7q219",
            notes="",
        )
        do_update_handoff(
            actor=net.coord,
            handoff=pickup,
            place="TUMEN  bus station",
            window_start=None,
            window_end=None,
        )


def test_no_reuse_in_the_network_as_built(net):
    a = organisation_analysis(organisation=net.org, keyring=net.ring)
    assert a.reuse_checked
    assert a.not_searchable == 0
    # The plate at the first handoff is A's car, the leg A runs: one leg, no reuse;
    # "Rear gate, Tumen bus station" is another place than "Tumen bus station".
    assert of_kind(a, WarningKind.VEHICLE_REUSED) == []
    assert of_kind(a, WarningKind.PLACE_REUSED) == []


def test_vehicle_and_place_reused(net):
    reuse_the_car_and_the_place(net)
    a = organisation_analysis(organisation=net.org, keyring=net.ring)
    (vehicle,) = of_kind(a, WarningKind.VEHICLE_REUSED)
    assert vehicle.leg_ids == {net.x_legs[0].pk, net.y_legs[0].pk}
    assert vehicle.cell_ids == {net.cells["A"].pk, net.cells["D"].pk}
    assert vehicle.severity == Severity.HIGH
    assert vehicle.count == 2
    (place,) = of_kind(a, WarningKind.PLACE_REUSED)
    assert place.handoff_ids == {net.x_handoffs[2].pk, net.y_handoffs[0].pk}
    assert place.cell_ids == {net.cells[n].pk for n in "BCD"}
    assert place.severity == Severity.MEDIUM
    with translation.override("en"):
        assert "2 handoffs" in place.message
        assert "2 legs" in vehicle.message


def test_reuse_needs_keys_that_open_both_records(net):
    reuse_the_car_and_the_place(net)
    a = organisation_analysis(organisation=net.org)
    assert not a.reuse_checked
    assert of_kind(a, WarningKind.VEHICLE_REUSED) == []
    # Cell A opens its own leg and handoffs, not case Y's.
    a = organisation_analysis(organisation=net.org, keyring=net.rings["A"])
    assert a.reuse_checked
    assert of_kind(a, WarningKind.VEHICLE_REUSED) == []
    assert of_kind(a, WarningKind.PLACE_REUSED) == []
    # Three legs A cannot open (B's, C's, Y's: an empty vehicle is sealed too,
    # so nobody without the key can tell it is empty) and two places.
    assert a.not_searchable == 5


def test_reuse_on_finished_journeys_only_does_not_warn(net):
    reuse_the_car_and_the_place(net)
    Journey.objects.filter(case__organisation=net.org).update(status=JourneyStatus.COMPLETED)
    a = organisation_analysis(organisation=net.org, keyring=net.ring)
    assert of_kind(a, WarningKind.VEHICLE_REUSED) == []
    assert of_kind(a, WarningKind.PLACE_REUSED) == []


def test_second_coordinator_member_of_nothing(net):
    """The analysis covers cells whatever the keyring; a member approved later
    changes the member count, not the figures."""
    before = organisation_analysis(organisation=net.org).cells[net.cells["D"].pk]
    make_member(net.coord2, net.ring2, cell=net.cells["D"])
    after = organisation_analysis(organisation=net.org).cells[net.cells["D"].pk]
    assert (before.travellers, before.places, before.cells) == (
        after.travellers,
        after.places,
        after.cells,
    )
