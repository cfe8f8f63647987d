"""A one-coordinator organisation with a case, a traveller and a one-leg
journey: enough for tests of single sealed values, at a fraction of the cost
of the full ``world``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from safepassage.cases.models import Case, Traveller
from safepassage.cases.services import do_add_traveller, do_open_case
from safepassage.journeys.models import Handoff, Journey, Leg
from safepassage.journeys.services import do_add_leg, do_create_journey
from safepassage.members.models import Member
from safepassage.organisations.models import Organisation
from safepassage.vault.keyring import Keyring, unlocked

from ..factories import OrganisationFactory


@dataclass
class Small:
    org: Organisation
    coord: Member
    ring: Keyring
    case: Case
    other_case: Case
    traveller: Traveller
    journey: Journey
    leg: Leg
    handoff: Handoff


TRAVELLER_NAME = "Traveller Secret-Name"
TRAVELLER_PHONE = "+86 139 0000 1111"
LEG_ROUTE = "Yanji to Changchun"


@pytest.fixture
def small(db) -> Small:
    new = OrganisationFactory()
    coord, ring = new.founder, new.keyring
    with unlocked(ring):
        case = do_open_case(actor=coord, codename="Camellia", needs="insulin")
        traveller = do_add_traveller(
            actor=coord, case=case, name=TRAVELLER_NAME, phone=TRAVELLER_PHONE
        )
        journey = do_create_journey(actor=coord, case=case, title="North route")
        leg = do_add_leg(actor=coord, journey=journey, route=LEG_ROUTE, notes="water")
        other_case = do_open_case(actor=coord, codename="Wisteria")
    return Small(
        org=new.organisation,
        coord=coord,
        ring=ring,
        case=case,
        other_case=other_case,
        traveller=traveller,
        journey=journey,
        leg=leg,
        handoff=journey.handoffs.order_by("position").first(),
    )
