"""The demo organisation: its shape, its logins, its command."""

from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command
from django.urls import reverse

from safepassage.cases.models import Case, CaseEvent, CaseStatus, Traveller
from safepassage.cells.models import Cell, CellMembership
from safepassage.contacts.models import Contact
from safepassage.demo.scenario import (
    LOGINS,
    MARKER_HANDLE,
    SENSITIVE_STRINGS,
    build_demo,
    sensitive_strings_of,
)
from safepassage.journeys.models import (
    Handoff,
    Journey,
    JourneyStatus,
    Leg,
    LegStatus,
    TransportKind,
)
from safepassage.members.models import Member
from safepassage.members.services import unlock_private_key
from safepassage.organisations.models import Organisation
from safepassage.organisations.services import recovery_keyring
from safepassage.roles import Role
from safepassage.safehouses.models import SafeHouse
from safepassage.vault.fields import SealedField
from safepassage.vault.keyring import Keyring, Locked, unlocked

from ..conftest import vault_login


@pytest.fixture
def shares_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


# --- the command ------------------------------------------------------------------


@pytest.mark.django_db
def test_command_builds_the_described_shape_on_an_empty_database(shares_dir):
    assert not Organisation.objects.exists()

    output = _run("--allow-without-debug")

    assert Organisation.objects.count() == 1
    org = Organisation.objects.get()
    members = Member.objects.filter(organisation=org)
    assert members.filter(role=Role.COORDINATOR).count() == 2
    assert members.filter(role=Role.CELL_MEMBER).count() >= 5
    assert all(m.is_approved for m in members)
    cells = Cell.objects.filter(organisation=org)
    assert cells.count() >= 5
    for cell in cells:
        assert 1 <= CellMembership.objects.filter(cell=cell).count() <= 2
    assert Contact.objects.filter(organisation=org).count() >= 3
    assert SafeHouse.objects.filter(organisation=org).count() == 2

    cases = Case.objects.filter(organisation=org)
    assert cases.count() == 3
    on_track = cases.get(status=CaseStatus.IN_TRANSIT)
    journey = on_track.journeys.get()
    assert journey.status == JourneyStatus.ACTIVE
    legs = list(journey.legs.order_by("position"))
    assert legs[0].status == LegStatus.STARTED
    assert all(leg.status == LegStatus.PLANNED for leg in legs[1:])
    assert len({leg.cell_id for leg in legs}) == len(legs)  # a different cell per leg

    planned = cases.get(status=CaseStatus.PLANNING)
    planned_journey = planned.journeys.get()
    assert planned_journey.status == JourneyStatus.PLANNING
    stays = planned_journey.legs.filter(safe_house__isnull=False)
    assert stays.count() == 1
    seoul = Member.objects.get(handle=MARKER_HANDLE)
    with unlocked(Keyring(seoul.pk, unlock_private_key(seoul, LOGINS[0][1]))):
        assert stays.get().transport == TransportKind.STAY
        broker_notes = [c.notes for c in Contact.objects.filter(organisation=org)]
    assert any("Track record" in notes for notes in broker_notes)

    intake = cases.get(status=CaseStatus.INTAKE)
    assert not intake.journeys.exists()
    assert Traveller.objects.filter(case=intake).exists()

    for handle, password, _what in LOGINS:
        assert handle in output
        assert password in output
    shares_file = shares_dir / "demo-recovery-shares.txt"
    assert str(shares_file) in output


@pytest.mark.django_db
def test_recovery_shares_file_is_private_and_its_shares_work(shares_dir):
    _run("--allow-without-debug")
    shares_file = shares_dir / "demo-recovery-shares.txt"

    assert stat.S_IMODE(shares_file.stat().st_mode) == 0o600
    shares = [line for line in shares_file.read_text().splitlines() if line[:1].isdigit()]
    assert len(shares) == 3
    org = Organisation.objects.get()
    ring = recovery_keyring(organisation=org, shares=shares[1:])
    with unlocked(ring):
        assert org.name  # the organisation's own name opens with the recovered key
    for sensitive in SENSITIVE_STRINGS:
        assert sensitive not in shares_file.read_text()


@pytest.mark.django_db
def test_if_absent_is_idempotent_and_prints_the_logins_again(shares_dir):
    _run("--allow-without-debug", "--if-absent")
    counts = (Member.objects.count(), Case.objects.count(), Leg.objects.count())
    shares = (shares_dir / "demo-recovery-shares.txt").read_text()

    again = _run("--if-absent")

    assert (Member.objects.count(), Case.objects.count(), Leg.objects.count()) == counts
    assert Organisation.objects.count() == 1
    assert (shares_dir / "demo-recovery-shares.txt").read_text() == shares
    assert "exists already" in again
    for handle, password, _what in LOGINS:
        assert handle in again and password in again


@pytest.mark.django_db
def test_a_second_run_without_if_absent_refuses(shares_dir):
    _run("--allow-without-debug")
    with pytest.raises(CommandError):
        _run("--allow-without-debug")
    assert Organisation.objects.count() == 1


@pytest.mark.django_db
def test_an_existing_shares_file_is_never_overwritten(shares_dir):
    # Another database's demo left its shares here: they must survive.
    theirs = shares_dir / "demo-recovery-shares.txt"
    theirs.write_text("1-theirs\n")
    chosen = shares_dir / "chosen.txt"
    chosen.write_text("1-chosen\n")

    with pytest.raises(CommandError, match="never overwritten"):
        _run("--allow-without-debug", "--shares-file", str(chosen))
    assert chosen.read_text() == "1-chosen\n"
    assert not Organisation.objects.exists()  # refused before building anything

    output = _run("--allow-without-debug")

    assert theirs.read_text() == "1-theirs\n"
    ours = shares_dir / "demo-recovery-shares-2.txt"
    assert str(ours) in output
    assert stat.S_IMODE(ours.stat().st_mode) == 0o600
    assert len([line for line in ours.read_text().splitlines() if line[:1].isdigit()]) == 3


@pytest.mark.django_db
def test_refuses_to_build_on_a_server_without_debug(shares_dir, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        _run()
    assert not Organisation.objects.exists()


# --- the scenario -----------------------------------------------------------------


@pytest.fixture
def demo(db):
    return build_demo()


@pytest.mark.django_db
def test_every_demo_login_passes_the_validators_and_unlocks_its_keys(demo):
    assert len(demo.logins) >= 8
    for handle, password, what in demo.logins:
        validate_password(password)
        member = Member.objects.get(handle=handle)
        assert member.check_password(password), handle
        ring = Keyring(member_id=member.pk, member_private_key=unlock_private_key(member, password))
        # The broker's only leg is on the journey still being planned.
        assert bool(ring.load_everything()) == (handle != "broker.shenyang"), (handle, what)


@pytest.mark.django_db
def test_cell_members_hold_only_their_own_legs_and_handoffs(demo):
    """The demo's key graph follows the need-to-know rule (a smoke check; the
    full analysis lives with the need-to-know tests)."""
    for handle, member in demo.members.items():
        if member.role != Role.CELL_MEMBER:
            continue
        cells = set(CellMembership.objects.filter(member=member).values_list("cell_id", flat=True))
        own_legs = Leg.objects.filter(cell_id__in=cells, journey__status=JourneyStatus.ACTIVE)
        allowed = set(own_legs.values_list("compartment_id", flat=True))
        allowed |= set(
            Handoff.objects.filter(from_leg__in=own_legs).values_list("compartment_id", flat=True)
        )
        allowed |= set(
            Handoff.objects.filter(to_leg__in=own_legs).values_list("compartment_id", flat=True)
        )
        opened = demo.keyrings[handle].load_everything()
        assert bool(opened) == bool(allowed), handle
        assert opened <= allowed, handle


@pytest.mark.django_db
def test_the_planned_journey_reaches_none_of_its_cells_and_the_started_one_does(demo, client):
    planned = demo.journeys["magnolia"]
    started = demo.journeys["azalea"]
    assert not planned.legs.filter(released_at__isnull=False).exists()
    assert not started.legs.filter(released_at__isnull=True).exists()
    for leg in planned.legs.select_related("cell"):
        for membership in CellMembership.objects.filter(cell=leg.cell).select_related("member"):
            member = membership.member
            client.logout()
            vault_login(client, member, demo.keyrings[member.handle])
            assert client.get(reverse("field:leg", args=[leg.pk])).status_code == 404
            assert leg.compartment_id not in demo.keyrings[member.handle].load_everything()
    for leg in started.legs.select_related("cell"):
        member = CellMembership.objects.filter(cell=leg.cell).first().member
        client.logout()
        vault_login(client, member, demo.keyrings[member.handle])
        assert client.get(reverse("field:leg", args=[leg.pk])).status_code == 200


# The models the demo writes to.
WRITTEN_MODELS = (
    Organisation,
    Member,
    Cell,
    Contact,
    SafeHouse,
    Case,
    Traveller,
    CaseEvent,
    Journey,
    Leg,
    Handoff,
)


def _sealed_values(keyrings) -> list[str]:
    values: list[str] = []
    for ring in keyrings:
        with unlocked(ring):
            for model in WRITTEN_MODELS:
                fields = [f for f in model._meta.concrete_fields if isinstance(f, SealedField)]
                for record in model._base_manager.all():
                    for f in fields:
                        try:
                            value = getattr(record, f.name)
                        except Locked:
                            continue
                        if isinstance(value, str):
                            values.append(value)
                        elif isinstance(value, dict):
                            values.extend(str(v) for v in value.values())
    return values


@pytest.mark.django_db
def test_sensitive_strings_are_many_distinct_and_really_written(demo):
    assert len(SENSITIVE_STRINGS) >= 60
    assert len(set(SENSITIVE_STRINGS)) == len(SENSITIVE_STRINGS)
    written = "\n".join(
        _sealed_values([demo.keyrings["coord.seoul"], demo.keyrings["coord.bangkok"]])
    )
    missing = [s for s in SENSITIVE_STRINGS if s not in written]
    assert not missing, missing
    # None of them is a plaintext column: not a handle, not a printed login.
    printed = "\n".join(" ".join(login) for login in LOGINS).lower()
    handles = " ".join(Member.objects.values_list("handle", flat=True)).lower()
    for sensitive in SENSITIVE_STRINGS:
        assert sensitive.lower() not in printed
        assert sensitive.lower() not in handles


@pytest.mark.django_db
def test_sensitive_strings_of_adds_the_phrases_drawn(demo):
    strings = sensitive_strings_of(demo)
    phrases = set()
    with unlocked(demo.coordinator_keyring):
        for handoff in Handoff.objects.filter(journey__case__organisation=demo.organisation):
            phrases |= {handoff.phrase_challenge, handoff.phrase_response}
    assert len(phrases) >= 10
    assert phrases <= set(strings)
    assert set(SENSITIVE_STRINGS) <= set(strings)


@pytest.mark.django_db
def test_the_started_driver_sees_their_leg_on_the_field_page(demo, client):
    driver = demo.members["driver.yanbian"]
    vault_login(client, driver, demo.keyrings["driver.yanbian"])

    page = client.get(reverse("field:my_legs")).content.decode()

    assert "Yanji church lane to the Shenyang north ring road" in page
    assert "吉H 5T902" in page
    assert "Asia/Shanghai" in page
    assert "Started" in page
    for secret in ("Ri Kyong-hui", "Auntie Plum", "Azalea Path", "Kunming South on the overnight"):
        assert secret not in page


@pytest.mark.django_db
def test_a_demo_driver_logs_in_lands_on_the_field_page_and_hands_off(demo, client):
    handle, password, _what = next(login for login in LOGINS if login[0] == "driver.yanbian")

    response = client.post(
        reverse("members:login"), {"handle": handle, "password": password}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("field:my_legs")
    page = response.content.decode()
    assert "Yanji church lane to the Shenyang north ring road" in page
    leg = Leg.objects.get(journey=demo.journeys["azalea"], position=0)
    response = client.post(reverse("field:leg", kwargs={"leg": leg.pk}), {"action": "handed_off"})
    assert response.status_code == 302
    leg.refresh_from_db()
    assert leg.status == LegStatus.HANDED_OFF
    client.post(reverse("field:exit"))
    assert client.get(reverse("field:my_legs")).status_code == 302
