"""Every URL x every role: records outside a member's compartments are 404.

The URL patterns are generated from the URL configuration, so a new view is
swept the day it is added. For each pattern that takes record ids, each
role asks for records it must not see (GET and POST); the answer must be
404 (never a 403 that confirms the record exists, never a 200, never a
500). Anonymous requests must be turned away the same way whether the
record exists or not.

Positive control: each pattern that takes record ids must answer something
other than 404 to at least one role asking for a record it may see, so the
sweep cannot pass by calling views with the wrong parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import UUIDConverter

from safepassage.cases.models import Case, CaseEvent, Traveller
from safepassage.cases.services import do_add_case_note
from safepassage.cells.models import Cell
from safepassage.checkins.services import do_report_problem
from safepassage.contacts.models import Contact
from safepassage.contacts.services import do_create_contact
from safepassage.journeys.models import Handoff, Journey, Leg
from safepassage.journeys.services import (
    do_add_leg,
    do_create_journey,
    do_start_journey,
    do_update_handoff,
)
from safepassage.members.models import Invitation, Member
from safepassage.members.services import do_invite_member
from safepassage.roles import Role
from safepassage.safehouses.models import SafeHouse
from safepassage.safehouses.services import do_create_safe_house
from safepassage.vault.keyring import unlocked

from .conftest import vault_login
from .factories import OrganisationFactory, build_world, make_member
from .photos import PNG

# A small PNG, so the photo URLs have something to serve.
PNG_1x1 = PNG

# Which model a URL parameter names. A parameter not listed here is tried
# with the ids of every model.
PARAM_MODELS: dict[str, list[type]] = {
    "case": [Case],
    "journey": [Journey],
    "leg": [Leg],
    "handoff": [Handoff],
    "cell": [Cell],
    "contact": [Contact],
    "house": [SafeHouse],
    "safe_house": [SafeHouse],
    "member": [Member],
    "invitation": [Invitation],
    "traveller": [Traveller],
    # A case timeline's note (a CaseEvent of kind "note").
    "note": [CaseEvent],
}


def _optional_model(label: str) -> type | None:
    """Models of apps still growing: swept as soon as they exist."""
    from django.apps import apps

    try:
        return apps.get_model(label)
    except LookupError:
        return None


ALERT = _optional_model("alerts.Alert")
if ALERT is not None:
    PARAM_MODELS["alert"] = [ALERT]
CELL_TOKEN = _optional_model("api.CellToken")
if CELL_TOKEN is not None:
    PARAM_MODELS["token"] = [CELL_TOKEN]
# The traveller's own link pages take the link's token (a string, not a record
# id) and are not swept here; tests/travellers covers them. The coordinators'
# pages take the link's id.
TRAVELLER_LINK = _optional_model("travellers.TravellerLink")
if TRAVELLER_LINK is not None:
    PARAM_MODELS["traveller_link"] = [TRAVELLER_LINK]
COMPROMISE = _optional_model("compromise.Compromise")
if COMPROMISE is not None:
    PARAM_MODELS["compromise"] = [COMPROMISE]

ALL_MODELS = sorted(
    {m for models in PARAM_MODELS.values() for m in models}, key=lambda m: m.__name__
)

# Patterns with record ids that no signed-in role can reach by design, with the reason.
NO_POSITIVE_CONTROL: dict[str, str] = {}


@dataclass
class Pattern:
    route: str
    name: str
    uuid_params: list[str]
    other_params: list[str]

    def url(self, values: dict[str, str]) -> str:
        from django.urls import reverse

        return reverse(self.name, kwargs=values)


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            converters = getattr(entry.pattern, "converters", {})
            uuid_params = [k for k, c in converters.items() if isinstance(c, UUIDConverter)]
            other = [k for k in converters if k not in uuid_params]
            yield Pattern(prefix + str(entry.pattern), name, uuid_params, other)


def patterns() -> list[Pattern]:
    return sorted(_walk(get_resolver()), key=lambda p: p.name)


def _model_for(param: str) -> list[type]:
    key = param.removesuffix("_id").removesuffix("_pk")
    return PARAM_MODELS.get(key, ALL_MODELS)


def _ids(model: type, queryset_filter: dict) -> list[uuid.UUID]:
    return list(model._base_manager.filter(**queryset_filter).values_list("pk", flat=True)[:3])


@pytest.fixture
def sweep_world(db):
    """The standard world plus contacts, safe houses, invitations and a second organisation."""
    world = build_world()
    with unlocked(world.coord_keyring):
        pickup = Handoff.objects.get(journey=world.journey, position=0)
        do_update_handoff(
            actor=world.coord,
            handoff=pickup,
            place="Sweep pickup",
            window_start=None,
            window_end=None,
            photo=PNG_1x1,
            photo_type="image/png",
        )
        do_start_journey(actor=world.coord, journey=world.journey)
        # A journey still being planned, with legs for the swept cell member's
        # own cell and for the idle cell: not released, so theirs to see not yet.
        unstarted = do_create_journey(actor=world.coord, case=world.other_case, title="Unstarted")
        for cell in (world.cells[0], world.cells[2]):
            do_add_leg(actor=world.coord, journey=unstarted, cell=cell, route="Unreleased road")
        do_create_contact(actor=world.coord, name="Broker Sweep-Contact", phone="+86 139 0000 4444")
        do_create_safe_house(actor=world.coord, codename="Sweep House", place="Nowhere", capacity=2)
        do_invite_member(actor=world.coord, role=Role.COORDINATOR, display_name="Invitee")
        if COMPROMISE is not None:
            from safepassage.compromise.exposure import Subject, SubjectKind
            from safepassage.compromise.services import do_declare_compromise

            do_declare_compromise(
                actor=world.coord,
                subject=Subject(
                    SubjectKind.SAFE_HOUSE, SafeHouse.objects.get(organisation=world.org).pk
                ),
                reason="raid",
            )
        if TRAVELLER_LINK is not None:
            from safepassage.travellers.services import do_issue_traveller_link

            for case in (world.case, world.other_case):
                do_issue_traveller_link(
                    actor=world.coord,
                    case=case,
                    traveller=Traveller.objects.filter(case=case).first(),
                    step="Sweep step",
                )
    with unlocked(world.coord_keyring):
        for case in (world.case, world.other_case):
            do_add_case_note(actor=world.coord, case=case, text="Sweep note")
    reporter, reporter_ring = world.member(0)
    with unlocked(reporter_ring):
        do_report_problem(
            actor=reporter, leg=world.legs[0], kind="unscheduled_stop", details="Sweep stop"
        )
        if CELL_TOKEN is not None:
            from safepassage.api.services import do_issue_cell_token

            do_issue_cell_token(actor=reporter, cell=world.cells[0].pk, label="Sweep bridge")
    other = OrganisationFactory()
    other_member, other_ring = make_member(
        other.founder, other.keyring, role=Role.COORDINATOR, display_name="Other Org Coordinator"
    )
    with unlocked(other.keyring):
        do_create_contact(actor=other.founder, name="Other Org Contact")
        do_create_safe_house(
            actor=other.founder, codename="Other House", place="Elsewhere", capacity=1
        )
    return world, other, (other_member, other_ring)


def _roles(world, other, other_member):
    """(label, member, keyring, ids it may see by model, ids it must not see by model)."""
    org = world.org
    in_org = {
        Case: {"organisation": org},
        Traveller: {"case__organisation": org},
        Journey: {"case__organisation": org},
        Leg: {"journey__case__organisation": org},
        Handoff: {"journey__case__organisation": org},
        Cell: {"organisation": org},
        Contact: {"organisation": org},
        SafeHouse: {"organisation": org},
        Member: {"organisation": org},
        Invitation: {"organisation": org},
        CaseEvent: {"case__organisation": org, "kind": "note"},
    }
    if ALERT is not None:
        in_org[ALERT] = {"organisation": org}
    if CELL_TOKEN is not None:
        in_org[CELL_TOKEN] = {"organisation": org}
    if TRAVELLER_LINK is not None:
        in_org[TRAVELLER_LINK] = {"case__organisation": org}
    if COMPROMISE is not None:
        in_org[COMPROMISE] = {"organisation": org}
    cell_member, cell_ring = world.member(0)
    own_leg = world.legs[0]
    own_handoffs = set(Handoff.objects.filter(from_leg=own_leg).values_list("pk", flat=True)) | set(
        Handoff.objects.filter(to_leg=own_leg).values_list("pk", flat=True)
    )

    def foreign_for_cell_member(model):
        ids = set(model._base_manager.filter(**in_org[model]).values_list("pk", flat=True))
        if model is Leg:
            ids.discard(own_leg.pk)
        if model is Handoff:
            ids -= own_handoffs
        if model is CELL_TOKEN:
            ids -= set(
                CELL_TOKEN._base_manager.filter(member=cell_member).values_list("pk", flat=True)
            )
        return ids

    def foreign_for_coord2(model):
        other_case = world.other_case
        by_model = {
            Case: Case.objects.filter(pk=other_case.pk),
            Traveller: Traveller.objects.filter(case=other_case),
            Journey: Journey.objects.filter(case=other_case),
            Leg: Leg.objects.filter(journey__case=other_case),
            Handoff: Handoff.objects.filter(journey__case=other_case),
            CaseEvent: CaseEvent.objects.filter(case=other_case, kind="note"),
        }
        if TRAVELLER_LINK is not None:
            by_model[TRAVELLER_LINK] = TRAVELLER_LINK._base_manager.filter(case=other_case)
        qs = by_model.get(model)
        return set(qs.values_list("pk", flat=True)) if qs is not None else set()

    def everything_in_org(model):
        return set(model._base_manager.filter(**in_org[model]).values_list("pk", flat=True))

    idle_member, idle_ring = world.member(2)  # a cell whose only leg is not released
    return [
        ("cell member", cell_member, cell_ring, foreign_for_cell_member),
        (
            "coordinator of another organisation",
            other_member[0],
            other_member[1],
            everything_in_org,
        ),
        ("coordinator not on the case", world.coord2, world.coord2_keyring, foreign_for_coord2),
        ("member of a cell with no released leg", idle_member, idle_ring, everything_in_org),
    ]


def _values(pattern: Pattern, choice: dict[str, uuid.UUID]) -> dict[str, str]:
    values = {k: str(v) for k, v in choice.items()}
    for param in pattern.other_params:
        values[param] = "not-a-real-token-0000"
    return values


def _is_turned_away(response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    if response.status_code in (301, 302):
        return "login" in response.headers.get("Location", "")
    return False


@pytest.mark.django_db
def test_every_url_hides_foreign_records_from_every_role(client, sweep_world):
    world, other, other_member = sweep_world
    roles = _roles(world, other, other_member)
    failures = []
    swept = 0
    for pattern in patterns():
        if not pattern.uuid_params:
            continue
        for label, member, ring, foreign in roles:
            client.logout()
            vault_login(client, member, ring)
            choice = {}
            for param in pattern.uuid_params:
                candidates = []
                for model in _model_for(param):
                    candidates.extend(sorted(foreign(model))[:2])
                if not candidates:
                    break
                choice[param] = candidates[0]
            else:
                url = pattern.url(_values(pattern, choice))
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    swept += 1
                    if response.status_code != 404 and response.status_code != 405:
                        failures.append(
                            f"{label} {method.upper()} {url} ({pattern.name}) -> {response.status_code}"
                        )
    assert swept > 0, "the sweep found no URL with record ids"
    assert not failures, "records leaked or confirmed:\n" + "\n".join(failures)


@pytest.mark.django_db
def test_anonymous_is_turned_away_alike_for_real_and_missing_records(client, sweep_world):
    world, _other, _ = sweep_world
    real = {
        Case: world.case.pk,
        Journey: world.journey.pk,
        Leg: world.legs[0].pk,
        Handoff: Handoff.objects.filter(journey=world.journey).first().pk,
        Traveller: Traveller.objects.filter(case=world.case).first().pk,
        Cell: world.cells[0].pk,
        Member: world.coord.pk,
        Contact: Contact.objects.filter(organisation=world.org).first().pk,
        SafeHouse: SafeHouse.objects.filter(organisation=world.org).first().pk,
        Invitation: Invitation.objects.filter(organisation=world.org).first().pk,
        CaseEvent: CaseEvent.objects.filter(case=world.case, kind="note").first().pk,
    }
    if TRAVELLER_LINK is not None:
        real[TRAVELLER_LINK] = TRAVELLER_LINK._base_manager.get(case=world.case).pk
    if COMPROMISE is not None:
        real[COMPROMISE] = COMPROMISE._base_manager.get(organisation=world.org).pk
    failures = []
    assert any(p.uuid_params for p in patterns()), "no URL with record ids to sweep"
    for pattern in patterns():
        if not pattern.uuid_params:
            continue
        real_choice, missing_choice = {}, {}
        for param in pattern.uuid_params:
            model = _model_for(param)[0]
            real_choice[param] = real.get(model, uuid.uuid4())
            missing_choice[param] = uuid.uuid4()
        for method in ("get", "post"):
            a = getattr(client, method)(pattern.url(_values(pattern, real_choice)))
            b = getattr(client, method)(pattern.url(_values(pattern, missing_choice)))
            if not _is_turned_away(a) or a.status_code != b.status_code:
                failures.append(
                    f"{method.upper()} {pattern.name}: real {a.status_code}, missing {b.status_code}"
                )
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_each_record_url_opens_for_someone_entitled(client, sweep_world):
    """Positive control: the sweep calls views with parameters they accept."""
    world, _other, _ = sweep_world
    cell_member, cell_ring = world.member(0)
    own_leg = world.legs[0]
    entitled = [
        (
            world.coord,
            world.coord_keyring,
            {
                Case: world.case.pk,
                Journey: world.journey.pk,
                Leg: world.legs[1].pk,
                Handoff: Handoff.objects.get(journey=world.journey, position=0).pk,
                Traveller: Traveller.objects.filter(case=world.case).first().pk,
                Cell: world.cells[0].pk,
                Member: world.member(1)[0].pk,
                Contact: Contact.objects.filter(organisation=world.org).first().pk,
                SafeHouse: SafeHouse.objects.filter(organisation=world.org).first().pk,
                Invitation: Invitation.objects.filter(organisation=world.org).first().pk,
                CaseEvent: CaseEvent.objects.filter(case=world.case, kind="note").first().pk,
            },
        ),
        (
            cell_member,
            cell_ring,
            {
                Leg: own_leg.pk,
                Handoff: Handoff.objects.filter(to_leg=own_leg).first().pk,
                **(
                    {CELL_TOKEN: CELL_TOKEN._base_manager.filter(member=cell_member).first().pk}
                    if CELL_TOKEN is not None
                    else {}
                ),
            },
        ),
    ]
    if ALERT is not None:
        first = ALERT._base_manager.filter(organisation=world.org).first()
        if first is not None:
            entitled[0][2][ALERT] = first.pk
    if TRAVELLER_LINK is not None:
        entitled[0][2][TRAVELLER_LINK] = TRAVELLER_LINK._base_manager.get(case=world.case).pk
    if COMPROMISE is not None:
        entitled[0][2][COMPROMISE] = COMPROMISE._base_manager.get(organisation=world.org).pk
    unreachable = []
    assert any(p.uuid_params for p in patterns()), "no URL with record ids to sweep"
    for pattern in patterns():
        if not pattern.uuid_params or pattern.name in NO_POSITIVE_CONTROL:
            continue
        opened = False
        for member, ring, ids in entitled:
            choice = {}
            for param in pattern.uuid_params:
                found = [ids[m] for m in _model_for(param) if m in ids]
                if not found:
                    break
                choice[param] = found[0]
            else:
                client.logout()
                vault_login(client, member, ring)
                url = pattern.url(_values(pattern, choice))
                # 404 hides the record; 405 only says the URL exists: neither is a pass.
                if client.get(url).status_code not in (404, 405) or client.post(
                    url
                ).status_code not in (404, 405):
                    opened = True
                    break
        if not opened:
            unreachable.append(pattern.name)
    assert not unreachable, f"no entitled role reaches these patterns: {unreachable}"


@pytest.mark.django_db
def test_pages_without_ids_name_no_foreign_record(client, sweep_world):
    """List pages, dashboards and API collections: no foreign record's id appears."""
    world, other, other_member = sweep_world
    roles = _roles(world, other, other_member)
    models = [
        m for m in ALL_MODELS if m is not Member
    ]  # member ids appear in no listing of another org
    failures = []
    checked = 0
    for pattern in patterns():
        if pattern.uuid_params or pattern.other_params:
            continue
        for label, member, ring, foreign in roles:
            # A cell member may see the ids of their own cell and their leg's
            # journey (their own records carry them); nothing else.
            own = set(
                Leg.objects.filter(cell__memberships__member=member).values_list(
                    "cell_id", "journey_id"
                )
            )
            own_ids = {pk for pair in own for pk in pair}
            client.logout()
            vault_login(client, member, ring)
            response = client.get(pattern.url({}))
            if response.status_code != 200:
                continue
            checked += 1
            body = response.content.decode("utf-8", "replace")
            for model in models:
                for pk in foreign(model) - own_ids:
                    if str(pk) in body or pk.hex in body:
                        failures.append(
                            f"{label} GET {pattern.name} names a foreign {model.__name__}"
                        )
    assert checked > 10, "too few pages answered to make the sweep meaningful"
    assert not failures, "\n".join(sorted(set(failures)))
