"""A fictional rescue network to try safepassage with (`safepassage demo`).

Shaped like documented operations, with invented people and code-named
places: two coordinators (Seoul and Bangkok), six independent cells along the
route from Yanbian through Shenyang and Kunming into Laos and on to Bangkok,
three contacts (one broker with a track record), two safe houses, and three
cases: one on its way (journey active, first leg started), one planned with a
safe-house stay, one just taken in.

Everything is built through the services, with the keyrings a real session
would hold, so the key graph is the one production builds. The logins are
fixed and printed: this organisation is for a demo machine, never for a
server that holds real records.

``SENSITIVE_STRINGS`` lists what the demo writes that a seizure must not
reveal; ``sensitive_strings_of`` adds the verification phrases actually drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from safepassage.cases.models import Case
from safepassage.cases.services import do_add_case_note, do_add_traveller, do_open_case
from safepassage.cells.models import Cell
from safepassage.cells.services import do_create_cell
from safepassage.contacts.models import Contact
from safepassage.contacts.services import do_create_contact
from safepassage.journeys import selectors as journey_selectors
from safepassage.journeys.models import Handoff, Journey, TransportKind
from safepassage.journeys.phrases import renderings
from safepassage.journeys.services import (
    do_add_leg,
    do_create_journey,
    do_mark_leg_started,
    do_start_journey,
    do_update_handoff,
)
from safepassage.members.models import Member
from safepassage.members.services import (
    do_accept_invitation,
    do_approve_member,
    do_invite_member,
)
from safepassage.organisations.models import Organisation
from safepassage.organisations.services import do_create_organisation
from safepassage.roles import Role
from safepassage.safehouses.models import SafeHouse
from safepassage.safehouses.services import do_create_safe_house
from safepassage.vault.keyring import Keyring, unlocked

# --- the people ------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    handle: str
    password: str
    display_name: str
    what: str  # printed beside the login
    time_zone: str = "UTC"


ORGANISATION_NAME = "Lantern Road Fellowship"

COORDINATORS = (
    Person(
        "coord.seoul",
        "lantern-road-seoul-demo",
        "Han Seo-yeon of the Lantern Road",
        "coordinator in Seoul (founder; coordinates every case)",
        "Asia/Seoul",
    ),
    Person(
        "coord.bangkok",
        "lantern-road-bangkok-demo",
        "Grace Natthida Arunrat",
        "coordinator in Bangkok (not on the intake case)",
        "Asia/Bangkok",
    ),
)
# The demo exists when its founder's handle does: checked without decrypting anything.
MARKER_HANDLE = COORDINATORS[0].handle


@dataclass(frozen=True)
class CellSpec:
    key: str
    codename: str
    specialty: str
    notes: str
    members: tuple[Person, ...]


CELLS = (
    CellSpec(
        "yanbian",
        "Pine Needle cell",
        "Drivers out of Yanbian prefecture",
        "Two drivers who take turns; the van is registered to a cousin in Longjing.",
        (
            Person(
                "driver.yanbian",
                "lantern-driver-yanbian-demo",
                "Mr. Ryu who drives the van",
                "cell member: driver out of Yanbian (has started a leg)",
                "Asia/Shanghai",
            ),
            Person(
                "driver.yanbian.2",
                "lantern-driver-yanbian-2-demo",
                "Ryu's nephew Dong-hun",
                "cell member: second driver of the same cell",
                "Asia/Shanghai",
            ),
        ),
    ),
    CellSpec(
        "shenyang",
        "Magpie Bridge cell",
        "Broker in Shenyang: coach tickets and rooms",
        "Works through the broker Jin; paid per job, released on the platform check-in.",
        (
            Person(
                "broker.shenyang",
                "lantern-broker-shenyang-demo",
                "Auntie Shen of the noodle stall",
                "cell member: broker in Shenyang (its only leg is on a journey still "
                "being planned: sees nothing yet)",
                "Asia/Shanghai",
            ),
        ),
    ),
    CellSpec(
        "kunming",
        "Crane Feather cell",
        "Rail escort from Shenyang to Kunming",
        "The escort travels as a relative and speaks Mandarin with a Yunnan accent.",
        (
            Person(
                "escort.kunming",
                "lantern-escort-kunming-demo",
                "Teacher Zhao the escort",
                "cell member: rail escort to Kunming",
                "Asia/Shanghai",
            ),
        ),
    ),
    CellSpec(
        "laos",
        "Bamboo Rain cell",
        "Border guides from Xishuangbanna into Laos",
        "Two guides; they walk at night only and know the tea-terrace paths.",
        (
            Person(
                "guide.laos",
                "lantern-guide-laos-demo",
                "Old Sengphet the hill guide",
                "cell member: border guide into Laos",
                "Asia/Vientiane",
            ),
            Person(
                "guide.laos.2",
                "lantern-guide-laos-2-demo",
                "Young Bua the hill guide",
                "cell member: second guide of the same cell",
                "Asia/Vientiane",
            ),
        ),
    ),
    CellSpec(
        "vientiane",
        "Lotus Pond cell",
        "Safe-house keeper in Vientiane",
        "Keeps the Frangipani and Teak houses; a nurse by training.",
        (
            Person(
                "keeper.vientiane",
                "lantern-keeper-vientiane-demo",
                "Sister Malee the house keeper",
                "cell member: keeps the safe houses (Vientiane)",
                "Asia/Vientiane",
            ),
        ),
    ),
    CellSpec(
        "bangkok",
        "Mekong Wind cell",
        "Driver from Vientiane to Bangkok",
        "Crosses at the long bridge; a clean record with the border police so far.",
        (
            Person(
                "driver.bangkok",
                "lantern-driver-bangkok-demo",
                "Khun Somsak the night driver",
                "cell member: driver to Bangkok",
                "Asia/Bangkok",
            ),
        ),
    ),
)

LOGINS: list[tuple[str, str, str]] = [
    (p.handle, p.password, p.what) for p in (*COORDINATORS, *(m for c in CELLS for m in c.members))
]

# --- contacts and safe houses ----------------------------------------------------------

CONTACTS: tuple[dict[str, str], ...] = (
    {
        "name": "Broker Jin of Shenyang",
        "role_description": "Broker: coach tickets and identity papers",
        "phone": "+86 186 2045 9931",
        "notes": (
            "Track record: in March asked for 4,000 yuan more after the pickup, and made an "
            "unscheduled stop at a fuel station outside Tonghua. Use only with our escort "
            "present; pay per milestone, never in advance."
        ),
    },
    {
        "name": "Mrs. Bounmy the landlady",
        "role_description": "Landlady of the rooms used as house Frangipani",
        "phone": "+856 20 55 128 844",
        "notes": "Reliable for two years. Knows the guests only as cousins from the north.",
    },
    {
        "name": "Taxi Somchai at the river",
        "role_description": "Taxi driver on the Thai side of the river",
        "phone": "+66 81 447 2290",
        "notes": "Used twice without trouble. Cash only; never told where passengers go next.",
    },
)

SAFE_HOUSES: dict[str, dict[str, Any]] = {
    "frangipani": {
        "codename": "House Frangipani",
        "place": "Rooms above the tailor's shop, lane code V-3, Vientiane",
        "capacity": 3,
        "keeper_notes": "Back door on the alley: knock twice, pause, once. Water filter in the kitchen.",
    },
    "teak": {
        "codename": "House Teak",
        "place": "Farmhouse past the third irrigation bridge, code L-7",
        "capacity": 2,
        "keeper_notes": "No mobile signal; a landline at the neighbour's farm.",
    },
}

# --- the cases ------------------------------------------------------------------------------

# A leg: (cell key, transport, route, vehicle, notes, safe house key, hours from now
# to the window's start, window length in hours). Handoffs: one per boundary,
# pickup first, arrival last.
AZALEA: dict[str, Any] = {
    "codename": "Azalea Path",
    "needs": "Blood-pressure medicine twice a day; the boy needs winter shoes",
    "summary": (
        "Mother and son from Town 4 across the river; crossed in October and hid with a "
        "church family in Yanji."
    ),
    "consent": {"given": True, "scope": "journey, and records until arrival", "by": "phone"},
    "note": "Mother confirmed by phone that both have warm clothes for the walk.",
    "travellers": (
        {
            "name": "Ri Kyong-hui",
            "alias": "Auntie Plum",
            "birth_year": "1979",
            "phone": "+86 138 4402 7719",
            "description": "Short grey hair, round glasses, limps on the left leg",
            "needs": "Blood-pressure tablets, morning and evening",
        },
        {
            "name": "Ri Song-jin",
            "alias": "Little Plum",
            "birth_year": "2012",
            "phone": "",
            "description": "Thin and quiet, carries a red school backpack",
            "needs": "Winter shoes, size 36",
        },
    ),
    "journey": "Northern corridor to Bangkok, October",
    "legs": (
        (
            "yanbian",
            TransportKind.CAR,
            "Yanji church lane to the Shenyang north ring road, avoiding the Dunhua toll gate",
            "silver Buick GL8 van",
            "Water and a blanket in the back. No phone calls in the car.",
            None,
            -2,
            8,
        ),
        (
            "kunming",
            TransportKind.TRAIN,
            "Shenyang North to Kunming South on the overnight sleeper, carriage 9",
            "Sleeper berths 14 and 15, tickets in the escort's name",
            "The escort travels as their aunt. Meals from the trolley only.",
            None,
            7,
            40,
        ),
        (
            "laos",
            TransportKind.ON_FOOT,
            "Kunming coach to Mengla, then the tea-terrace path to the far side at crossing Heron",
            "",
            "Two nights of walking. Good shoes for the boy; rest at the shrine.",
            None,
            50,
            40,
        ),
        (
            "vientiane",
            TransportKind.STAY,
            "Rest at house Frangipani until the Bangkok driver is ready",
            "",
            "Three nights expected. The keeper checks the mother's blood pressure daily.",
            "frangipani",
            96,
            72,
        ),
        (
            "bangkok",
            TransportKind.CAR,
            "Vientiane over the long bridge to Bangkok, drop at the embassy's side gate",
            "white Toyota Vios sedan",
            "Travellers ride in the back seat; papers stay in the glovebox.",
            None,
            170,
            14,
        ),
    ),
    "handoffs": (
        {
            "place": "Side door of the church hall in Yanji, code Chapel 2",
            "clothing": "Mother in a navy padded coat, the boy with a red backpack",
            "vehicle_colour": "silver Buick GL8 van",
            "vehicle_plate": "吉H 5T902",
            "signal": "The driver reads a folded newspaper at the wheel",
        },
        {
            "place": "Waiting room of platform 3 at Shenyang North, code Hall B",
            "clothing": "Escort wears a green scarf and carries a steel thermos",
            "vehicle_colour": "silver Buick GL8 van",
            "vehicle_plate": "吉H 5T902",
            "signal": "The escort asks the driver for the time, twice",
        },
        {
            "place": "Noodle shop opposite the Kunming South coach station, code Bowl 9",
            "clothing": "Guide in a grey hoodie under a wide bamboo hat",
            "signal": "The guide orders two bowls and leaves one untouched",
        },
        {
            "place": "Behind the rice mill past the border village, code Mill 5",
            "clothing": "Keeper's driver in a white shirt with rolled sleeves",
            "vehicle_colour": "blue Hyundai Porter pickup",
            "vehicle_plate": "VT 4127 LA",
            "signal": "The pickup flashes its headlights three times",
        },
        {
            "place": "Car park of the morning market, row F, code Market 6",
            "clothing": "Driver in an orange football shirt",
            "vehicle_colour": "white Toyota Vios sedan",
            "vehicle_plate": "BKK 1กข 8842",
            "signal": "A bunch of small bananas on the dashboard",
        },
        {
            "place": "Side gate of the embassy compound, code Gate Zero",
            "signal": "Ask the guard for the visa officer on the night shift",
        },
    ),
}

MAGNOLIA: dict[str, Any] = {
    "codename": "Magnolia Gate",
    "needs": "Five months pregnant; a doctor's check before any long walk",
    "summary": (
        "Sold into a marriage in a farming village, code Village 12; reached the broker's "
        "runner in Shenyang in September."
    ),
    "consent": {"given": True, "scope": "journey and medical needs", "by": "in person"},
    "travellers": (
        {
            "name": "Choe Myong-ok",
            "alias": "Sister Rain",
            "birth_year": "1996",
            "phone": "+86 150 3317 0462",
            "description": "Tall, long hair in a plait, a scar across the right hand",
            "needs": "Prenatal vitamins; no long walks without rest",
        },
    ),
    "journey": "Southern crossing with a rest at Teak",
    "legs": (
        (
            "shenyang",
            TransportKind.BUS,
            "Shenyang long-distance bus station to Kunming by coach, changing at Changsha",
            "Coach tickets bought through the broker Jin",
            "Pay Jin only after the platform check-in. He has asked for more before.",
            None,
            72,
            48,
        ),
        (
            "laos",
            TransportKind.ON_FOOT,
            "Mengla hill path by the rubber plantation, slow pace, rest every hour",
            "",
            "Carry extra water and a folding stool.",
            None,
            124,
            48,
        ),
        (
            "vientiane",
            TransportKind.STAY,
            "Rest at house Teak until the doctor has seen her",
            "",
            "A week of rest at least; the keeper arranges the doctor's visit.",
            "teak",
            176,
            168,
        ),
        (
            "bangkok",
            TransportKind.CAR,
            "Teak farmhouse to Bangkok by the river road, a night drive",
            "grey Isuzu D-Max pickup with a canopy",
            "Cushions in the back; stop every two hours.",
            None,
            348,
            14,
        ),
    ),
    "handoffs": (
        {
            "place": "Back room of the broker's noodle stall, code Stall 7",
            "clothing": "She wears a brown cardigan and carries a plastic shopping bag",
            "signal": "She asks whether the dumplings are pork or cabbage",
        },
        {
            "place": "Bus shelter at the Mengla market turn, code Shelter 11",
            "clothing": "The broker's runner in a yellow raincoat",
            "signal": "The runner drops a coin and leaves it lying",
        },
    ),
}

ORCHID: dict[str, Any] = {
    "codename": "Orchid Window",
    "needs": "Urgent: hiding in a rented room and the landlord is suspicious",
    "summary": (
        "Escaped a karaoke bar in Dandong, code Bar 8; called the Seoul hotline on a "
        "borrowed phone three days ago."
    ),
    "consent": {"given": False, "scope": "to be asked on the next call", "by": "phone"},
    "travellers": (
        {
            "name": "Kang Hye-jin",
            "alias": "Swallow",
            "birth_year": "2001",
            "phone": "+86 177 6021 5538",
            "description": "Short dyed brown hair, a mole under the left eye",
            "needs": "Anxious at night; speaks only Korean",
        },
    ),
}

CASES: dict[str, dict[str, Any]] = {"azalea": AZALEA, "magnolia": MAGNOLIA, "orchid": ORCHID}


def _case_strings(spec: dict) -> list[str]:
    found = [
        spec["codename"],
        spec["needs"],
        spec["summary"],
        spec.get("note", ""),
        spec.get("journey", ""),
    ]
    for traveller in spec["travellers"]:
        found += [traveller[k] for k in ("name", "alias", "phone", "description", "needs")]
    for leg in spec.get("legs", ()):
        found += [leg[2], leg[3], leg[4]]
    for handoff in spec.get("handoffs", ()):
        found += list(handoff.values())
    return found


def _all_sensitive_strings() -> list[str]:
    found = [ORGANISATION_NAME]
    found += [p.display_name for p in COORDINATORS]
    for cell in CELLS:
        found += [cell.codename, cell.specialty, cell.notes]
        found += [p.display_name for p in cell.members]
    for contact in CONTACTS:
        found += list(contact.values())
    for house in SAFE_HOUSES.values():
        found += [house["codename"], house["place"], house["keeper_notes"]]
    for spec in CASES.values():
        found += _case_strings(spec)
    # Short strings (a birth year) could turn up by chance in any large file.
    return list(dict.fromkeys(s for s in found if isinstance(s, str) and len(s) >= 7))


SENSITIVE_STRINGS: list[str] = _all_sensitive_strings()


# --- building it ---------------------------------------------------------------------------


@dataclass
class DemoResult:
    organisation: Organisation
    logins: list[tuple[str, str, str]]
    recovery_shares: list[str]
    members: dict[str, Member] = field(default_factory=dict)
    keyrings: dict[str, Keyring] = field(default_factory=dict)
    cells: dict[str, Cell] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    safe_houses: dict[str, SafeHouse] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    journeys: dict[str, Journey] = field(default_factory=dict)

    @property
    def coordinator_keyring(self) -> Keyring:
        """The founder's keys: they coordinate every case of the demo."""
        return self.keyrings[MARKER_HANDLE]


def demo_exists() -> bool:
    return Member.objects.filter(handle=MARKER_HANDLE).exists()


def enrol(
    inviter: Member,
    inviter_keyring: Keyring,
    person: Person,
    *,
    role: str,
    cell: Cell | None = None,
) -> tuple[Member, Keyring]:
    """Invite, accept and approve a member, as the invitation pages would."""
    with unlocked(inviter_keyring):
        _invitation, token = do_invite_member(
            actor=inviter, role=role, display_name=person.display_name, cell=cell
        )
        member, private_key = do_accept_invitation(
            token=token, handle=person.handle, password=person.password
        )
        do_approve_member(actor=inviter, member=member)
    _set_time_zone(member, person.time_zone)
    member.refresh_from_db()
    return member, Keyring(member_id=member.pk, member_private_key=private_key)


def _set_time_zone(member: Member, zone: str) -> None:
    # A plaintext preference; there is no preferences service yet to call.
    Member.objects.filter(pk=member.pk).update(time_zone=zone)


def _add_journey(
    result: DemoResult, actor: Member, keyring: Keyring, case: Case, spec: dict, now: datetime
) -> Journey:
    with unlocked(keyring):
        journey = do_create_journey(actor=actor, case=case, title=spec["journey"])
        for cell_key, transport, route, vehicle, notes, house, start, hours in spec["legs"]:
            window_start = now + timedelta(hours=start)
            do_add_leg(
                actor=actor,
                journey=journey,
                cell=result.cells[cell_key],
                safe_house=result.safe_houses[house] if house else None,
                transport=transport,
                route=route,
                vehicle=vehicle,
                notes=notes,
                window_start=window_start,
                window_end=window_start + timedelta(hours=hours),
            )
        # A handoff's window is the hour before the next leg starts (for the
        # arrival, the last hour of the last leg).
        anchors = [now + timedelta(hours=leg[6]) for leg in spec["legs"]]
        last = spec["legs"][-1]
        anchors.append(now + timedelta(hours=last[6] + last[7]))
        handoffs = {h.position: h for h in journey.handoffs.all()}
        for position, details in enumerate(spec["handoffs"]):
            anchor = anchors[position]
            do_update_handoff(
                actor=actor,
                handoff=handoffs[position],
                place=details["place"],
                window_start=anchor - timedelta(hours=1),
                window_end=anchor,
                clothing=details.get("clothing", ""),
                vehicle_colour=details.get("vehicle_colour", ""),
                vehicle_plate=details.get("vehicle_plate", ""),
                signal=details.get("signal", ""),
            )
    return journey


def _open_case(actor: Member, keyring: Keyring, spec: dict, coordinators: list[Member]) -> Case:
    with unlocked(keyring):
        case = do_open_case(
            actor=actor,
            codename=spec["codename"],
            needs=spec["needs"],
            summary=spec["summary"],
            consent=spec["consent"],
            coordinators=coordinators,
        )
        for traveller in spec["travellers"]:
            do_add_traveller(actor=actor, case=case, **traveller)
        if spec.get("note"):
            do_add_case_note(actor=actor, case=case, text=spec["note"])
    return case


def build_demo(*, now: datetime | None = None) -> DemoResult:
    """Build the demo organisation in one transaction and return its logins and keys."""
    now = now or timezone.now()
    seoul_spec, bangkok_spec = COORDINATORS
    with transaction.atomic():
        created = do_create_organisation(
            name=ORGANISATION_NAME,
            founder_handle=seoul_spec.handle,
            founder_password=seoul_spec.password,
            founder_display_name=seoul_spec.display_name,
            recovery_threshold=2,
            recovery_holders=3,
        )
        seoul, seoul_ring = cast(Member, created.founder), created.keyring
        _set_time_zone(seoul, seoul_spec.time_zone)
        seoul.refresh_from_db()
        result = DemoResult(
            organisation=created.organisation,
            logins=list(LOGINS),
            recovery_shares=list(created.recovery_shares),
        )
        result.members[seoul.handle], result.keyrings[seoul.handle] = seoul, seoul_ring
        bangkok, bangkok_ring = enrol(seoul, seoul_ring, bangkok_spec, role=Role.COORDINATOR)
        result.members[bangkok.handle], result.keyrings[bangkok.handle] = bangkok, bangkok_ring

        with unlocked(seoul_ring):
            for spec in CELLS:
                result.cells[spec.key] = do_create_cell(
                    actor=seoul, codename=spec.codename, specialty=spec.specialty, notes=spec.notes
                )
            result.contacts = [do_create_contact(actor=seoul, **c) for c in CONTACTS]
            for key, house in SAFE_HOUSES.items():
                result.safe_houses[key] = do_create_safe_house(actor=seoul, **house)
        for spec in CELLS:
            for person in spec.members:
                member, ring = enrol(
                    seoul, seoul_ring, person, role=Role.CELL_MEMBER, cell=result.cells[spec.key]
                )
                result.members[member.handle], result.keyrings[member.handle] = member, ring

        # On its way: both coordinators, the journey started, the driver has them.
        azalea = _open_case(seoul, seoul_ring, AZALEA, [bangkok])
        result.cases["azalea"] = azalea
        journey = _add_journey(result, seoul, seoul_ring, azalea, AZALEA, now)
        with unlocked(seoul_ring):
            do_start_journey(actor=seoul, journey=journey)
        driver = result.members[CELLS[0].members[0].handle]
        with unlocked(result.keyrings[driver.handle]):
            first = journey_selectors.get_leg(driver, journey.legs.get(position=0).pk)
            do_mark_leg_started(actor=driver, leg=first)
        result.journeys["azalea"] = journey

        # Planned, with a safe-house stay; opened from Bangkok.
        magnolia = _open_case(bangkok, bangkok_ring, MAGNOLIA, [seoul])
        result.cases["magnolia"] = magnolia
        result.journeys["magnolia"] = _add_journey(
            result, bangkok, bangkok_ring, magnolia, MAGNOLIA, now
        )

        # Just taken in: Seoul alone, no journey yet.
        result.cases["orchid"] = _open_case(seoul, seoul_ring, ORCHID, [])
    for case in result.cases.values():
        case.refresh_from_db()
    return result


def sensitive_strings_of(result: DemoResult) -> list[str]:
    """``SENSITIVE_STRINGS`` and the verification phrases this build drew."""
    phrases: list[str] = []
    with unlocked(result.coordinator_keyring):
        for handoff in Handoff.objects.filter(journey__case__organisation=result.organisation):
            # Every language a phrase can be shown in, and its stored form.
            for stored in (handoff.phrase_challenge, handoff.phrase_response):
                phrases += [str(stored or ""), *renderings(stored)]
    return list(dict.fromkeys([*SENSITIVE_STRINGS, *(p for p in phrases if p)]))
