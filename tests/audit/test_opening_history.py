"""An opening history: a new organisation's chain started with entries dated
in the past (the organisation a duress password opens), and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from safepassage.audit import services as audit
from safepassage.audit.models import AuditEvent, AuditHead
from safepassage.audit.selectors import check_chain, read_entries
from safepassage.organisations.services import new_organisation
from safepassage.vault.keyring import unlocked


def _new(handle: str = "founder.k"):
    with transaction.atomic():
        return new_organisation(
            name="Riverside Classes",
            founder_password="a long founder password",
            founder_display_name="Founder",
            handle=handle,
        )


@pytest.mark.django_db
def test_entries_are_written_in_order_of_their_times_and_the_chain_verifies():
    new = _new()
    org, founder = new.organisation, new.founder
    now = timezone.now()
    times = [now - timedelta(days=days) for days in (200, 30, 120, 2)]
    with transaction.atomic(), audit.opening_history(organisation=org) as history:
        for n, when in enumerate(times):
            history.at(when)
            held = audit.record(organisation=org, actor=founder, verb=f"test.step{n}")
            assert held.pk is None  # held, not written yet
        assert not AuditEvent.objects.filter(organisation=org).exists()
    events = list(AuditEvent.objects.filter(organisation=org).order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.at for e in events] == sorted(times)
    assert AuditHead.objects.get(organisation=org).seq == 4
    assert check_chain(organisation=org).intact
    with unlocked(new.keyring):
        verbs = [e["verb"] for e in reversed(read_entries(organisation=org))]
    assert verbs == ["test.step0", "test.step2", "test.step1", "test.step3"]
    # Afterwards the chain goes on as usual, at the real time.
    with transaction.atomic():
        later = audit.record(organisation=org, actor=founder, verb="member.login")
    assert later.seq == 5 and later.at >= now
    assert check_chain(organisation=org).intact


@pytest.mark.django_db
def test_it_only_ever_starts_a_chain():
    new = _new()
    org, founder = new.organisation, new.founder
    with transaction.atomic():
        audit.record(organisation=org, actor=founder, verb="organisation.create", target=org)
    with (
        pytest.raises(RuntimeError),
        transaction.atomic(),
        audit.opening_history(organisation=org),
    ):
        pass
    assert AuditEvent.objects.filter(organisation=org).count() == 1


@pytest.mark.django_db
def test_its_times_are_in_the_past_and_given():
    new = _new()
    org, founder = new.organisation, new.founder
    with transaction.atomic(), audit.opening_history(organisation=org) as history:
        with pytest.raises(ValueError):
            history.at(timezone.now() + timedelta(hours=1))
        with pytest.raises(RuntimeError):
            audit.record(organisation=org, actor=founder, verb="test.untimed")
        history.at(timezone.now() - timedelta(days=1))
        audit.record(organisation=org, actor=founder, verb="test.timed")
    assert AuditEvent.objects.filter(organisation=org).count() == 1


@pytest.mark.django_db
def test_other_organisations_entries_are_written_as_usual_meanwhile():
    new, other = _new(), _new("other.founder")
    with transaction.atomic(), audit.opening_history(organisation=new.organisation) as history:
        history.at(timezone.now() - timedelta(days=3))
        written = audit.record(
            organisation=other.organisation, actor=other.founder, verb="member.login"
        )
        assert written.pk is not None and written.seq == 1
        assert timezone.now() - written.at < timedelta(minutes=1)
