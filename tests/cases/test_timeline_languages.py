"""The case timeline is stored as sentence keys and parameters, and each reader
reads it in their own language (issue 11, item 10)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from safepassage.cases import timeline
from safepassage.cases.models import CaseEvent, CaseEventKind, CaseStatus, Traveller
from safepassage.cases.services import do_add_case_note, do_add_traveller, do_change_case_status
from safepassage.core.management.commands.compiletranslations import compile_all
from safepassage.journeys.services import do_mark_leg_started, do_start_journey
from safepassage.vault.keyring import unlocked

pytestmark = pytest.mark.django_db

NOTE = "통역사와 통화했습니다"  # a note stays in the words it was written in


@pytest.fixture(autouse=True)
def compiled(settings):
    """Compiled catalogues (a fresh checkout has none), freshly loaded."""
    compile_all()
    settings.LOCALE_PATHS = [*settings.LOCALE_PATHS]


@pytest.fixture
def written_in_korean(world):
    """Entries made by a coordinator whose pages are in Korean, and a cell
    member's leg update, each with the language of the actor in force."""
    world.coord.language = "ko"
    world.coord.save(update_fields=["language"])
    with translation.override("ko"), unlocked(world.coord_keyring):
        do_add_traveller(actor=world.coord, case=world.case, name="Min-ji")
        do_change_case_status(
            actor=world.coord, case=world.case, status=CaseStatus.IN_TRANSIT, note=NOTE
        )
        do_add_case_note(actor=world.coord, case=world.case, text="Bring the spare charger")
        do_start_journey(actor=world.coord, journey=world.journey)
    member, ring = world.member(0)
    world.legs[0].refresh_from_db()
    with translation.override("ko"), unlocked(ring):
        do_mark_leg_started(actor=member, leg=world.legs[0])
    return world


def _page_for(client, login, world, language: str) -> str:
    world.coord2.language = language
    world.coord2.save(update_fields=["language"])
    login(world.coord2, world.coord2_keyring)
    return client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()


def _in(language: str, msgid: str, **params) -> str:
    with translation.override(language):
        return translation.gettext(msgid) % params


def test_a_korean_coordinators_entries_read_in_english(client, login, written_in_korean):
    page = _page_for(client, login, written_in_korean, "en")
    assert "Traveller Min-ji added." in page
    assert f"Status: Planning → In transit. {NOTE}" in page
    assert "Journey started." in page and "Leg 1 started." in page
    assert "Bring the spare charger" in page
    korean = _in("ko", "Traveller %(name)s added.", name="Min-ji")
    assert korean != "Traveller Min-ji added." and korean not in page
    assert _in("ko", "Journey started.") not in page


def test_a_korean_coordinators_entries_read_in_chinese(client, login, written_in_korean):
    page = _page_for(client, login, written_in_korean, "zh-hans")
    assert "已添加旅行者 Min-ji。" in page
    status = _in(
        "zh-hans",
        "Status: %(old)s → %(new)s.",
        old=_in("zh-hans", "Planning"),
        new=_in("zh-hans", "In transit"),
    )
    assert status != "Status: Planning → In transit." and status in page
    assert _in("zh-hans", "Leg %(number)s started.", number=1) in page
    assert "Traveller Min-ji added." not in page
    assert _in("ko", "Traveller %(name)s added.", name="Min-ji") not in page


def test_entries_hold_a_key_and_sealed_parameters_not_a_sentence(written_in_korean):
    world = written_in_korean
    event = CaseEvent.objects.filter(case=world.case, kind=CaseEventKind.TRAVELLER).latest("at")
    raw = CaseEvent.objects.filter(pk=event.pk).values_list("message", "text").get()
    assert raw[1] is None  # no sentence stored
    assert b"Min-ji" not in bytes(raw[0]) and b"traveller_added" not in bytes(raw[0])
    added = Traveller.objects.filter(case=world.case).latest("created_at")
    with unlocked(world.coord_keyring):
        assert CaseEvent.objects.get(pk=event.pk).message == {
            "key": "traveller_added",
            "params": {"name": "Min-ji", "traveller": str(added.pk)},
        }
    # A cell member's leg update stays in the leg's compartment.
    leg_event = CaseEvent.objects.get(case=world.case, kind=CaseEventKind.LEG)
    assert leg_event.compartment_id == world.legs[0].compartment_id


def test_an_entry_from_before_reads_as_it_was_written(client, login, world):
    old = CaseEvent(case=world.case, compartment=world.case.compartment, kind=CaseEventKind.NOTE)
    with unlocked(world.coord_keyring):
        old.text = "여행자 김씨를 추가했습니다."
        old.save()
    page = _page_for(client, login, world, "en")
    assert "여행자 김씨를 추가했습니다." in page


def test_every_sentence_key_renders_and_unknown_ones_show_nothing():
    with translation.override("en"):
        assert timeline.render("leg_frozen", {"number": 2}) == (
            "Leg 2 frozen: a compromise was declared."
        )
        assert timeline.render(
            "status_changed", {"old": "intake", "new": "closed", "note": ""}
        ) == ("Status: Intake → Closed.")
        assert timeline.render("from_a_newer_version", {}) == ""
    with pytest.raises(ValueError):
        timeline.sealed("no_such_sentence")
