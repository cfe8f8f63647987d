"""The one-button response replaces the phrases the adversary knows, tells
the cells concerned, and raises a critical alert for a traveller who is with
the compromised side, on the world of tests/factories.py:

    h0 pickup -> L0 Heron (2 members) -> h1 -> L1 Otter -> h2 arrival;  Lark runs nothing
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from safepassage.alerts.models import Alert, AlertKind, EscalationLevel, Severity
from safepassage.audit.selectors import read_entries
from safepassage.compromise.exposure import Subject, SubjectKind
from safepassage.compromise.models import Compromise
from safepassage.compromise.services import do_declare_and_respond, do_respond_to_compromise
from safepassage.journeys.models import Handoff
from safepassage.journeys.services import (
    do_mark_leg_handed_off,
    do_mark_leg_started,
    do_start_journey,
)
from safepassage.members.models import Member
from safepassage.notifications.models import Notification, Topic
from safepassage.vault.keyring import unlocked

from ..factories import World
from .test_declare import fresh, handoffs

pytestmark = pytest.mark.django_db


def _start(world: World) -> None:
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)


def _phrases(world: World) -> list[tuple[str, str]]:
    with unlocked(fresh(world.coord_keyring)):
        return [(h.phrase_challenge, h.phrase_response) for h in handoffs(world)]


def _respond(world: World, subject: Subject) -> Compromise:
    with unlocked(fresh(world.coord_keyring)):
        return do_declare_and_respond(actor=world.coord, subject=subject, reason="arrested")


def _told_of_phrases() -> set:
    return set(
        Notification.objects.filter(topic=Topic.PHRASES_CHANGED).values_list("member_id", flat=True)
    )


def test_a_burned_cell_redraws_every_exposed_handoff(world):
    _start(world)
    before = _phrases(world)
    compromise = _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    after = _phrases(world)
    h0, h1, _h2 = handoffs(world)
    # Heron met at the pickup and at h1: both are new; the arrival is not exposed.
    assert after[0][0] != before[0][0] and after[0][1] != before[0][1]
    assert after[1][0] != before[1][0] and after[1][1] != before[1][1]
    assert after[2] == before[2]
    assert set(compromise.response["new_phrase_handoff_ids"]) == {str(h0.pk), str(h1.pk)}
    assert compromise.response["phrases_due_handoff_ids"] == []


def test_a_burned_member_redraws_every_exposed_handoff(world):
    _start(world)
    before = _phrases(world)
    driver, _ring = world.member(0)
    compromise = _respond(world, Subject(SubjectKind.MEMBER, driver.pk))
    after = _phrases(world)
    h0, h1, _h2 = handoffs(world)
    assert after[0] != before[0] and after[1] != before[1]
    assert after[2] == before[2]
    assert set(compromise.response["new_phrase_handoff_ids"]) == {str(h0.pk), str(h1.pk)}


def test_the_new_phrases_stay_sealed_and_the_response_audits_them(world):
    _start(world)
    _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    h1 = Handoff.objects.get(journey=world.journey, position=1)
    raw = bytes(Handoff.objects.filter(pk=h1.pk).values_list("phrase_challenge", flat=True).get())
    with unlocked(fresh(world.coord_keyring)):
        stored = Handoff.objects.get(pk=h1.pk).phrase_challenge
        entries = read_entries(organisation=world.org, limit=50)
    assert stored.startswith("p1|") and stored.encode() not in raw
    responded = [e for e in entries if e["verb"] == "compromise.respond"]
    assert len(responded) == 1 and responded[0]["detail"]["new_phrase_handoff"] == 2
    assert responded[0]["detail"]["phrase_notified_member"] == 1


def test_a_burned_cell_tells_only_the_other_cells_at_its_handoffs(world):
    _start(world)
    _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    otter = {m.pk for m, _ in world.cell_members[1]}
    # Heron's members are disabled, Lark meets at none of the handoffs,
    # coordinators are not told this (they ordered it).
    assert _told_of_phrases() == otter


def test_a_burned_member_tells_their_cell_mates_and_the_next_cell_not_themselves(world):
    _start(world)
    driver, _ring = world.member(0)
    mate, _mate_ring = world.member(0, 1)
    _respond(world, Subject(SubjectKind.MEMBER, driver.pk))
    otter = {m.pk for m, _ in world.cell_members[1]}
    assert _told_of_phrases() == otter | {mate.pk}


def test_the_phrase_notification_reads_in_the_members_language(world, login):
    _start(world)
    guide, guide_ring = world.member(1)
    Member.objects.filter(pk=guide.pk).update(language="ko")
    guide.refresh_from_db()
    _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    page = login(guide, guide_ring).get(reverse("notifications:list")).content.decode()
    assert "인계 한 곳의 확인 문구가 바뀌었습니다. 현장 페이지에서 다시 읽어 주세요." in page


def _custody_alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind=AlertKind.CUSTODY_COMPROMISED))


def test_a_traveller_in_the_burned_cells_custody_raises_a_critical_alert(world):
    _start(world)
    driver, driver_ring = world.member(0)
    with unlocked(driver_ring):
        do_mark_leg_started(actor=driver, leg=world.legs[0])
    compromise = _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    alerts = _custody_alerts()
    assert [a.leg_id for a in alerts] == [world.legs[0].pk]
    alert = alerts[0]
    assert alert.severity == Severity.CRITICAL
    assert alert.case_id == world.case.pk
    # The case's coordinators are told at once; the burned cell's lead never first.
    assert alert.escalation_level == EscalationLevel.CASE_COORDINATORS
    told = set(alert.notifications.values_list("member_id", flat=True))
    assert world.coord.pk in told
    assert not told & {m.pk for m, _ in world.cell_members[0]}
    # Responding again (a step left out the first time) raises it no second time.
    with unlocked(fresh(world.coord_keyring)):
        do_respond_to_compromise(actor=world.coord, compromise=compromise)
    assert len(_custody_alerts()) == 1


def test_a_traveller_with_a_burned_members_cell_raises_it_too(world):
    _start(world)
    driver, driver_ring = world.member(0)
    with unlocked(driver_ring):
        do_mark_leg_started(actor=driver, leg=world.legs[0])
    _respond(world, Subject(SubjectKind.MEMBER, driver.pk))
    assert [a.leg_id for a in _custody_alerts()] == [world.legs[0].pk]


def test_no_custody_alert_when_no_traveller_is_with_the_burned_cell(world):
    _start(world)
    _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    assert _custody_alerts() == []


def test_no_custody_alert_once_the_burned_cell_has_handed_the_traveller_on(world):
    _start(world)
    driver, driver_ring = world.member(0)
    guide, guide_ring = world.member(1)
    with unlocked(driver_ring):
        do_mark_leg_started(actor=driver, leg=world.legs[0])
        do_mark_leg_handed_off(actor=driver, leg=world.legs[0])
    with unlocked(guide_ring):
        do_mark_leg_started(actor=guide, leg=world.legs[1])
    _respond(world, Subject(SubjectKind.CELL, world.cells[0].pk))
    assert _custody_alerts() == []
    # ...while Otter, who has the traveller now, would raise it.
    _respond(world, Subject(SubjectKind.CELL, world.cells[1].pk))
    assert [a.leg_id for a in _custody_alerts()] == [world.legs[1].pk]
