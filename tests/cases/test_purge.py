"""Retention by crypto-shredding: purging one case at once, purging expired
cases (worker and command), the confirmation page, and what remains able to
open a purged case's ciphertext afterwards (nothing)."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts.models import Alert, AlertNote
from safepassage.alerts.services import do_add_alert_note
from safepassage.alerts.worker import tick
from safepassage.audit.selectors import first_broken_link, read_entries
from safepassage.cases.models import Case, CaseEvent, CaseStatus, Traveller
from safepassage.cases.retention import expired_cases, purge_expired, purge_plan
from safepassage.cases.services import do_purge_case
from safepassage.checkins.models import Checkin, Deadline
from safepassage.checkins.services import do_report_problem
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Handoff, Journey, Leg
from safepassage.journeys.services import do_start_journey
from safepassage.notifications.models import Notification
from safepassage.vault import services as vault
from safepassage.vault.keyring import Keyring, unlocked
from safepassage.vault.models import Compartment, CompartmentGrant, HolderKind, PendingGrant
from tests.dashboard.permissions import assert_matrix
from tests.factories import OrganisationFactory, make_member


def _fresh(keyring: Keyring) -> Keyring:
    return Keyring(member_id=keyring.member_id, member_private_key=keyring.member_private_key)


def _case_compartments(case) -> set:
    return (
        {case.compartment_id}
        | set(Leg.objects.filter(journey__case=case).values_list("compartment_id", flat=True))
        | set(Handoff.objects.filter(journey__case=case).values_list("compartment_id", flat=True))
    )


@pytest.fixture
def busy_world(world):
    """The world with its journey under way, a problem reported from the first
    leg (an alert with a note and notifications), and a grant still pending."""
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)
    reporter, ring = world.member(0)
    with unlocked(ring):
        alert = do_report_problem(
            actor=reporter, leg=world.legs[0], kind="unscheduled_stop", details="Stopped at Jilin"
        )
    with unlocked(world.coord_keyring):
        do_add_alert_note(actor=world.coord, alert=alert, text="Called the driver back")
    # A coordinator who will hold the second leg's key once a holder logs in.
    waiting, waiting_ring = make_member(world.coord, world.coord_keyring, cell=world.cells[2])
    PendingGrant.objects.create(compartment=world.legs[1].compartment, member=waiting)
    world.waiting = (waiting, waiting_ring)
    return world


def test_purge_destroys_every_wrapped_copy_then_the_rows(busy_world):
    world = busy_world
    case = world.case
    ids = _case_compartments(case)
    assert len(ids) == 1 + 2 + 3  # the case, two legs, three handoffs
    kinds = set(
        CompartmentGrant.objects.filter(compartment_id__in=ids).values_list(
            "holder_kind", flat=True
        )
    )
    assert kinds == {HolderKind.MEMBER, HolderKind.PARENT, HolderKind.RECOVERY}
    grants_before = CompartmentGrant.objects.filter(compartment_id__in=ids).count()
    assert PendingGrant.objects.filter(compartment_id__in=ids).count() == 1
    sealed_before = sum(
        len(records)
        for by_lookup in vault.records_in(ids).values()
        for records in by_lookup.values()
    )
    assert Alert.objects.filter(leg__journey__case=case).count() == 1
    assert Notification.objects.filter(alert__leg__journey__case=case).exists()
    plan = purge_plan(case)

    with unlocked(world.coord_keyring):
        report = do_purge_case(actor=world.coord, case=case)

    # Every wrapped copy of every key of the case is gone, and the keys with them.
    assert CompartmentGrant.objects.filter(compartment_id__in=ids).count() == 0
    assert CompartmentGrant.objects.filter(parent_id__in=ids).count() == 0
    assert PendingGrant.objects.filter(compartment_id__in=ids).count() == 0
    assert Compartment.objects.filter(pk__in=ids).count() == 0
    assert report.compartments == len(ids)
    assert report.grants == grants_before
    assert report.recovery_grants == 1
    assert report.pending_grants == 1
    # Then the rows: nothing of the case, nothing sealed in its compartments.
    assert vault.records_in(ids) == {}
    assert not Case.objects.filter(pk=case.pk).exists()
    for model in (Traveller, CaseEvent, Journey):
        assert not model.objects.filter(case_id=case.pk).exists()
    for model in (Leg, Handoff):
        assert not model.objects.filter(journey_id=world.journey.pk).exists()
    assert not Checkin.objects.filter(leg_id__in=[leg.pk for leg in world.legs]).exists()
    assert not Deadline.objects.filter(leg_id__in=[leg.pk for leg in world.legs]).exists()
    assert not Alert.objects.filter(leg_id__in=[leg.pk for leg in world.legs]).exists()
    assert not AlertNote.objects.exists()
    assert report.record_count("cases.Case") == 1
    assert report.record_count("cases.Traveller") == 1
    assert report.record_count("journeys.Leg") == 2
    assert report.record_count("journeys.Handoff") == 3
    assert report.record_count("alerts.Alert") == 1
    assert report.record_count("alerts.AlertNote") == 1
    sealed_deleted = sum(
        report.record_count(m._meta.label) for m in vault.sealed_models() if m is not Compartment
    )
    assert sealed_deleted == sealed_before
    # The confirmation page's plan said exactly this.
    assert plan.records == report.records
    assert (plan.member_grants, plan.parent_grants, plan.recovery_grants) == (
        report.member_grants,
        report.parent_grants,
        report.recovery_grants,
    )
    assert plan.compartments == report.compartments

    # The other case is untouched and opens as before.
    other = Case.objects.get(pk=world.other_case.pk)
    with unlocked(_fresh(world.coord_keyring)):
        assert other.codename == "Wisteria"
        assert other.travellers.get().name == "Other Hidden-Person"


def test_the_purge_is_audited_with_counts_only(world):
    with unlocked(world.coord_keyring):
        report = do_purge_case(actor=world.coord, case=world.case)
    assert first_broken_link(organisation=world.org) is None
    with unlocked(_fresh(world.coord_keyring)):
        entries = read_entries(organisation=world.org)
    purge = [e for e in entries if e["verb"] == "case.purge"]
    assert len(purge) == 1
    entry = purge[0]
    assert entry["target_id"] == str(world.case.pk)
    assert entry["actor"] == str(world.coord.pk)
    assert entry["detail"]["compartments"] == report.compartments
    assert entry["detail"]["key_copies"]["recovery"] == 1
    assert entry["detail"]["records"]["journeys.Leg"] == 2
    assert "Camellia" not in str(entry)


def test_no_key_that_remains_opens_the_purged_case(world):
    """Every member and the recovery key, after the purge: none reaches any of
    the case's compartments, and the keys they do reach are those of the rest."""
    from safepassage.organisations.services import recovery_keyring

    ids = _case_compartments(world.case)
    with unlocked(world.coord_keyring):
        do_purge_case(actor=world.coord, case=world.case)
    rings = [_fresh(world.coord_keyring), _fresh(world.coord2_keyring)]
    rings += [_fresh(ring) for members in world.cell_members.values() for _m, ring in members]
    rings.append(recovery_keyring(organisation=world.org, shares=world.recovery_shares[:2]))
    reached = set()
    for ring in rings:
        opened = ring.load_everything()
        assert not opened & ids
        reached |= opened
    assert world.other_case.compartment_id in reached  # not vacuous


def test_a_backup_taken_before_the_purge_opens_none_of_it_with_any_key_that_remains(
    busy_world, tmp_path
):
    """Take a backup; purge; then take every ciphertext of the purged case out
    of that old backup and try every key the database still lets anyone
    derive (each member's private key and the recovery key, walked through
    the whole key graph): none opens any of it. The keys as they were before
    the purge open all of it, so the check can fail."""
    from django.apps import apps

    from safepassage.backups.services import take_backup
    from safepassage.members.models import Member
    from safepassage.organisations.services import recovery_keyring
    from safepassage.vault import crypto
    from safepassage.vault.fields import SealedField
    from tests.backups.support import make_age_key, read_backup

    world = busy_world
    ids = _case_compartments(world.case)
    before = _fresh(world.coord_keyring)
    old_keys = {cid: before.key_for_sealing(cid)[1] for cid in ids}
    age_key = make_age_key(tmp_path)
    backup = tmp_path / "before-the-purge.backup.age"
    take_backup(output=backup, recipient=age_key.public)

    with unlocked(world.coord_keyring):
        do_purge_case(actor=world.coord, case=world.case)

    _header, tables = read_backup(backup, age_key.identity_file)
    sealed = []  # (where, ciphertext, associated data, compartment)
    for label, rows in tables.items():
        model = apps.get_model(label)
        fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, SealedField) and f.compartment_path == "compartment"
        ]
        for row in rows:
            if not fields or row["compartment_id"] is None:
                continue
            cid = uuid.UUID(row["compartment_id"])
            if cid not in ids:
                continue
            for f in fields:
                if row[f.attname] is not None:
                    record = model(pk=uuid.UUID(row["id"]))
                    raw = base64.b64decode(row[f.attname])
                    sealed.append((f"{label}.{f.name}", raw, f.aad(record, cid), cid))
    found = {where.rsplit(".", 1)[0] for where, *_rest in sealed}
    assert {
        "cases.Case",
        "cases.Traveller",
        "cases.CaseEvent",
        "journeys.Journey",
        "journeys.Leg",
        "journeys.Handoff",
        "alerts.Alert",
        "alerts.AlertNote",
    } <= found
    # The old backup does hold the case: the keys as they were open every value.
    for _where, raw, aad, cid in sealed:
        crypto.open_with_compartment_key(old_keys[cid], raw, aad)

    rings = [_fresh(world.coord_keyring), _fresh(world.coord2_keyring), _fresh(world.waiting[1])]
    rings += [_fresh(ring) for members in world.cell_members.values() for _m, ring in members]
    assert {ring.member_id for ring in rings} == set(Member.objects.values_list("pk", flat=True))
    rings.append(recovery_keyring(organisation=world.org, shares=world.recovery_shares[:2]))
    remaining = set()
    for ring in rings:
        ring.load_everything()
        remaining |= {key for _version, key in ring._keys.values()}
        remaining.add(ring.member_private_key or b"")
    remaining |= {key for ring in rings for key in ring.recovery.values()}
    remaining.discard(b"")
    assert len(remaining) > 5
    assert not remaining & set(old_keys.values())
    assert len(sealed) > 20
    for _where, raw, aad, _cid in sealed:
        for key in remaining:
            with pytest.raises(crypto.SealBroken):
                crypto.open_with_compartment_key(key, raw, aad)


def test_only_the_cases_coordinators_may_purge(world):
    cell_member, cell_ring = world.member(0)
    other = OrganisationFactory()
    attempts = [
        (world.coord2, world.coord2_keyring, world.other_case),  # not on that case
        (cell_member, cell_ring, world.case),
        (other.founder, other.keyring, world.case),
    ]
    grants = CompartmentGrant.objects.count()
    for actor, ring, case in attempts:
        with unlocked(ring), pytest.raises(ServiceError):
            do_purge_case(actor=actor, case=case)
    assert CompartmentGrant.objects.count() == grants
    assert Case.objects.filter(pk__in=[world.case.pk, world.other_case.pk]).count() == 2


def test_a_case_purged_meanwhile_is_refused_cleanly(world):
    stale = Case.objects.get(pk=world.case.pk)
    with unlocked(world.coord_keyring):
        do_purge_case(actor=world.coord, case=world.case)
        with pytest.raises(ServiceError):
            do_purge_case(actor=world.coord, case=stale)


# --- retention: the worker and the command ----------------------------------------------


def _age(case, *, status, days_ago, now):
    when = now - timedelta(days=days_ago)
    Case.objects.filter(pk=case.pk).update(
        status=status,
        status_changed_at=when,
        closed_at=when if status == CaseStatus.CLOSED else None,
    )


def test_cases_expire_a_set_time_after_arrival_or_closure(world, settings):
    settings.SAFEPASSAGE_RETENTION_DAYS = 30
    now = timezone.now()
    with unlocked(world.coord_keyring):
        from safepassage.cases.services import do_open_case

        recent = do_open_case(actor=world.coord, codename="Recently closed")
        still_open = do_open_case(actor=world.coord, codename="Old but open")
    _age(world.case, status=CaseStatus.ARRIVED, days_ago=31, now=now)
    _age(world.other_case, status=CaseStatus.CLOSED, days_ago=45, now=now)
    _age(recent, status=CaseStatus.CLOSED, days_ago=29, now=now)
    _age(still_open, status=CaseStatus.IN_TRANSIT, days_ago=400, now=now)
    assert set(expired_cases(now=now)) == {world.case, world.other_case}

    reports = purge_expired(now=now)

    assert {r.case_id for r in reports} == {world.case.pk, world.other_case.pk}
    assert set(Case.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk}
    assert first_broken_link(organisation=world.org) is None
    with unlocked(_fresh(world.coord_keyring)):
        entries = [e for e in read_entries(organisation=world.org) if e["verb"] == "case.purge"]
    assert {e["actor"] for e in entries} == {None}
    assert {e["detail"]["retention_days"] for e in entries} == {30}
    # Time moves on: the recently closed one goes too, the open one never does.
    assert [r.case_id for r in purge_expired(now=now + timedelta(days=2))] == [recent.pk]
    assert purge_expired(now=now + timedelta(days=4000)) == []


def test_retention_zero_switches_automatic_purging_off(world, settings):
    settings.SAFEPASSAGE_RETENTION_DAYS = 0
    now = timezone.now()
    _age(world.case, status=CaseStatus.CLOSED, days_ago=4000, now=now)
    assert purge_expired(now=now) == []
    assert tick(now=now)["purged"] == 0
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "Automatic purging is off" in out.getvalue()
    assert Case.objects.filter(pk=world.case.pk).exists()


def test_the_worker_purges_expired_cases(world, settings):
    settings.SAFEPASSAGE_RETENTION_DAYS = 10
    now = timezone.now()
    _age(world.other_case, status=CaseStatus.CLOSED, days_ago=11, now=now)
    assert tick(now=now)["purged"] == 1
    assert not Case.objects.filter(pk=world.other_case.pk).exists()
    assert tick(now=now)["purged"] == 0


def test_the_command_shows_what_it_destroyed_and_dry_run_changes_nothing(world, settings):
    settings.SAFEPASSAGE_RETENTION_DAYS = 10
    _age(world.case, status=CaseStatus.CLOSED, days_ago=11, now=timezone.now())
    grants = CompartmentGrant.objects.count()

    out = io.StringIO()
    call_command("purge", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"would purge case {world.case.pk}" in text
    assert "6 compartments" in text
    assert "Nothing was changed." in text
    assert CompartmentGrant.objects.count() == grants
    assert Case.objects.filter(pk=world.case.pk).exists()

    out = io.StringIO()
    call_command("purge", stdout=out)
    text = out.getvalue()
    assert f"purged case {world.case.pk}" in text
    assert "6 compartments" in text
    assert "Destroyed 1 case(s)" in text
    assert not Case.objects.filter(pk=world.case.pk).exists()
    assert CompartmentGrant.objects.count() < grants
    assert "Camellia" not in text

    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "Nothing to purge" in out.getvalue()


# --- the coordinator's page -----------------------------------------------------------


def test_permission_matrix(client, world):
    assert_matrix(
        client,
        world,
        record_urls=[reverse("cases:purge", args=[world.case.pk])],
        other_case_urls=[reverse("cases:purge", args=[world.other_case.pk])],
        secrets=["Camellia", "Wisteria"],
    )
    # Nothing the matrix posted purged anything.
    assert Case.objects.filter(pk__in=[world.case.pk, world.other_case.pk]).count() == 2


def test_the_case_page_offers_the_purge(client, world, login, settings):
    settings.SAFEPASSAGE_RETENTION_DAYS = 60
    login(world.coord)
    body = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert reverse("cases:purge", args=[world.case.pk]) in body
    assert "Purge this case now" in body
    assert "60 days after it arrives or is closed" in body


def test_the_confirmation_page_counts_what_goes_and_a_bare_post_destroys_nothing(
    client, world, login
):
    login(world.coord)
    url = reverse("cases:purge", args=[world.case.pk])
    body = client.get(url).content.decode()
    assert "Camellia" in body
    assert "This cannot be undone." in body
    assert "This case is not closed" in body
    assert "<dt>Legs</dt><dd>2</dd>" in body
    assert "<dt>Handoffs</dt><dd>3</dd>" in body
    assert "<dt>Compartments (keys)</dt><dd>6</dd>" in body

    response = client.post(url, {})
    assert response.status_code == 200
    assert "Tick the box to confirm the purge." in response.content.decode()
    assert Case.objects.filter(pk=world.case.pk).exists()

    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:list")
    assert not Case.objects.filter(pk=world.case.pk).exists()
    listing = client.get(response["Location"]).content.decode()
    assert "The case is purged" in listing
    assert "Camellia" not in listing
    assert client.get(url).status_code == 404


def test_a_cell_member_loses_the_purged_legs(client, world, login):
    member, ring = world.member(0)
    leg = world.legs[0]
    login(member, ring)
    assert client.get(reverse("field:leg", args=[leg.pk])).status_code == 200
    with unlocked(world.coord_keyring):
        do_purge_case(actor=world.coord, case=world.case)
    assert client.get(reverse("field:leg", args=[leg.pk])).status_code == 404
    assert client.get(reverse("field:my_legs")).status_code == 200


def test_a_case_that_cannot_be_purged_does_not_hold_up_the_others(
    world, settings, monkeypatch, caplog
):
    from django.db import IntegrityError

    from safepassage.cases import retention

    settings.SAFEPASSAGE_RETENTION_DAYS = 10
    now = timezone.now()
    _age(world.case, status=CaseStatus.CLOSED, days_ago=20, now=now)
    _age(world.other_case, status=CaseStatus.CLOSED, days_ago=15, now=now)
    real = retention.purge_case

    def stuck(*, case, actor=None):
        if case.pk == world.case.pk:
            raise IntegrityError("a row protects it")
        return real(case=case, actor=actor)

    monkeypatch.setattr(retention, "purge_case", stuck)
    reports = purge_expired(now=now)
    assert [r.case_id for r in reports] == [world.other_case.pk]
    assert Case.objects.filter(pk=world.case.pk).exists()
    assert CompartmentGrant.objects.filter(compartment_id=world.case.compartment_id).exists()
    assert f"purging case {world.case.pk} failed" in caplog.text
    assert "Camellia" not in caplog.text
