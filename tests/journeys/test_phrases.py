"""Verification phrases: a pool per language with the entropy the docs state,
drawn in each cell's language, never the same challenge twice among a
member's live handoffs, and each side of a mixed-language handoff reading
the other's words as they will be heard, with a gloss."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from safepassage.journeys import phrases
from safepassage.journeys.models import Handoff
from safepassage.journeys.services import cell_language, do_new_phrases, do_update_leg
from safepassage.members.models import Member
from safepassage.vault.keyring import unlocked

SECURITY_MD = Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md"
# The figures docs/SECURITY.md states for every language's pool.
STATED_BITS = {phrases.CHALLENGE: 21.5, phrases.RESPONSE: 21.0}
HANGUL = re.compile(r"[\uac00-\ud7a3]")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _distinct_phrases(kind: str, language: str) -> int:
    """How many different sentences the pool really makes: every sentence
    after the first list's entry is built, and the first entries are checked
    distinct and none a prefix of another, so the count is exact."""
    book = phrases.BOOKS[language]
    first, *rest = phrases.SLOTS[kind]
    heads = getattr(book, first)
    assert len(set(heads)) == len(heads)
    assert not any(a != b and b.startswith(a) for a in heads for b in heads)
    tails = set()
    for indices in itertools.product(*(range(len(getattr(book, name))) for name in rest)):
        text = phrases.render(kind, (0, *indices), language)
        tails.add(text[len(heads[0]) :])
    return len(heads) * len(tails)


@pytest.mark.parametrize("language", sorted(phrases.BOOKS))
@pytest.mark.parametrize("kind", [phrases.CHALLENGE, phrases.RESPONSE])
def test_each_language_pool_gives_the_stated_entropy(kind, language):
    distinct = _distinct_phrases(kind, language)
    assert distinct == phrases.pool_size(kind, language)
    assert math.log2(distinct) >= STATED_BITS[kind]
    assert phrases.bits(kind, language) >= STATED_BITS[kind]


def test_the_docs_state_the_figures_the_test_checks():
    text = SECURITY_MD.read_text(encoding="utf-8")
    for figure in STATED_BITS.values():
        assert f"{figure} bits" in text


def test_word_lists_are_aligned_across_languages():
    # Index i means the same thing in every language: same lengths everywhere.
    for kind in phrases.SLOTS:
        sizes = {phrases.list_sizes(kind, language) for language in phrases.BOOKS}
        assert len(sizes) == 1


def test_a_stored_phrase_is_indices_and_reads_in_any_language():
    phrase = phrases.draw(phrases.CHALLENGE, "ko")
    stored = phrase.encode()
    assert not HANGUL.search(stored)  # language-neutral: indices and a code
    assert phrases.decode(stored) == phrase
    said = phrases.spoken(stored)
    assert said is not None and said.language == "ko" and HANGUL.search(said.text)
    assert HAN.search(said.meaning("zh-hans")) and said.meaning("ko") == ""
    assert said.meaning("en") == phrase.text("en")


def test_a_phrase_stored_before_languages_still_reads_as_it_was():
    said = phrases.spoken("Is the river open after the rain?")
    assert said is not None
    assert said.text == "Is the river open after the rain?"
    assert said.meaning("ko") == ""  # no gloss: its words are not in the lists


def _speak(world, index: int, language: str) -> None:
    Member.objects.filter(cell_memberships__cell=world.cells[index]).update(language=language)


def _fresh(world, handoff: Handoff) -> Handoff:
    with unlocked(world.coord_keyring):
        return Handoff.objects.select_related("journey__case").get(pk=handoff.pk)


def test_a_korean_cell_gets_korean_phrases(world):
    _speak(world, 0, "ko")
    assert cell_language(world.cells[0].pk) == "ko"
    pickup = world.journey.handoffs.get(position=0)
    middle = world.journey.handoffs.get(position=1)
    with unlocked(world.coord_keyring):
        for handoff in (pickup, middle):
            do_new_phrases(actor=world.coord, handoff=_fresh(world, handoff))
        pickup, middle = _fresh(world, pickup), _fresh(world, middle)
        # The pickup has one cell, the Korean one: both phrases in Korean.
        assert pickup.spoken_challenge.language == pickup.spoken_response.language == "ko"
        assert HANGUL.search(pickup.spoken_challenge.text)
        assert HANGUL.search(pickup.spoken_response.text)
        # The middle: the Korean cell arrives (challenge), the English one receives.
        assert middle.spoken_challenge.language == "ko"
        assert HANGUL.search(middle.spoken_challenge.text)
        assert middle.spoken_response.language == "en"
        assert not HANGUL.search(middle.spoken_response.text)


def test_a_new_cell_on_a_leg_gets_new_phrases_in_its_language(world):
    _speak(world, 2, "zh-hans")
    leg = world.legs[1]
    arrival = world.journey.handoffs.get(position=2)
    with unlocked(world.coord_keyring):
        before = _fresh(world, arrival).phrase_challenge
        do_update_leg(
            actor=world.coord,
            leg=leg,
            cell=world.cells[2],
            window_start=leg.window_start,
            window_end=leg.window_end,
            transport=leg.transport,
            route=leg.route,
            vehicle=leg.vehicle or "",
            notes=leg.notes or "",
        )
        after = _fresh(world, arrival)
        assert after.phrase_challenge != before
        assert after.spoken_challenge.language == "zh-hans"
        assert HAN.search(after.spoken_challenge.text)


def test_a_member_never_holds_two_live_handoffs_with_the_same_challenge(world, monkeypatch):
    # The driver's cell (Heron) runs the first leg: the pickup and the middle
    # handoff are both theirs. The next draw for the pickup is forced to
    # repeat the middle's challenge first: the service must draw again.
    pickup = world.journey.handoffs.get(position=0)
    middle = _fresh(world, world.journey.handoffs.get(position=1))
    with unlocked(world.coord_keyring):
        taken = phrases.decode(middle.phrase_challenge)
    assert taken is not None
    real_draw = phrases.draw
    calls = []

    def draw(kind, language):
        calls.append(kind)
        if kind == phrases.CHALLENGE and calls.count(kind) == 1:
            return phrases.Phrase(kind, phrases.book_language(language), taken.indices)
        return real_draw(kind, language)

    monkeypatch.setattr(phrases, "draw", draw)
    with unlocked(world.coord_keyring):
        do_new_phrases(actor=world.coord, handoff=_fresh(world, pickup))
        fresh = _fresh(world, pickup)
        assert phrases.decode(fresh.phrase_challenge).indices != taken.indices
    assert calls.count(phrases.CHALLENGE) == 2


def test_live_challenges_are_unique_for_every_member_across_many_draws(world):
    # Control at scale: redraw the driver's two handoffs many times; no
    # state ever has their two challenges equal (the words, in any language).
    pickup = world.journey.handoffs.get(position=0)
    middle = world.journey.handoffs.get(position=1)
    with unlocked(world.coord_keyring):
        for _ in range(5):
            for handoff in (pickup, middle):
                do_new_phrases(actor=world.coord, handoff=_fresh(world, handoff))
            a, b = _fresh(world, pickup), _fresh(world, middle)
            assert phrases.key_of(a.phrase_challenge) != phrases.key_of(b.phrase_challenge)


def test_mixed_language_handoff_each_side_reads_both_in_its_own_language(world, login, client):
    # Heron (Korean) hands the traveller on to Otter (English) at the middle handoff.
    _speak(world, 0, "ko")
    middle = world.journey.handoffs.get(position=1)
    with unlocked(world.coord_keyring):
        do_new_phrases(actor=world.coord, handoff=_fresh(world, middle))
        middle = _fresh(world, middle)
        challenge = phrases.decode(middle.phrase_challenge)
        response = phrases.decode(middle.phrase_response)
    assert challenge is not None and response is not None

    # Otter's guide (English) receives: hears Korean, reads its meaning, answers in English.
    guide, guide_ring = world.member(1)
    page = login(guide, guide_ring).get(reverse("field:my_legs")).content.decode()
    assert (
        f'They will say (in Korean): <q class="phrase" lang="ko">{escape(challenge.text())}</q>'
        in page
    )
    assert f"Meaning: <q>{escape(challenge.text('en'))}</q>" in page
    assert f'You answer: <q class="phrase" lang="en">{escape(response.text())}</q>' in page

    # Heron's driver (Korean pages): says Korean, hears English, with a Korean gloss.
    client.logout()
    driver, driver_ring = world.member(0)
    page = login(driver, driver_ring).get(reverse("field:my_legs")).content.decode()
    assert f'<q class="phrase" lang="ko">{escape(challenge.text())}</q>' in page
    assert f'상대방의 대답(영어): <q class="phrase" lang="en">{escape(response.text())}</q>' in page
    assert f"뜻: <q>{escape(response.text('ko'))}</q>" in page


def test_same_language_handoff_shows_no_gloss(world, login):
    guide, guide_ring = world.member(1)
    page = login(guide, guide_ring).get(reverse("field:my_legs")).content.decode()
    assert "They say:" in page and "Meaning:" not in page


def test_a_phrase_stored_before_languages_still_shows_on_the_field_page(world, login):
    middle = world.journey.handoffs.get(position=1)
    with unlocked(world.coord_keyring):
        fresh = _fresh(world, middle)
        fresh.phrase_challenge = "Is the river open after the rain?"
        fresh.phrase_response = "Only if the wind is calm, ferry at dawn."
        fresh.save(update_fields=["phrase_challenge", "phrase_response"])
    guide, guide_ring = world.member(1)
    page = login(guide, guide_ring).get(reverse("field:my_legs")).content.decode()
    assert 'They say: <q class="phrase" lang="en">Is the river open after the rain?</q>' in page
    assert "Only if the wind is calm, ferry at dawn." in page
