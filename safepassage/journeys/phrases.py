"""One-time verification phrase pairs for handoffs.

The arriving side asks an ordinary-sounding question (the challenge); the
receiving side answers with an ordinary-sounding reply (the response). Both
are drawn at random for each handoff, so a phrase overheard once is worth
nothing the next time.

A phrase is stored (sealed, in the handoff's compartment) as the language
its speaker says it in and the indices of its words in the word lists of
``phrasebook``, which are aligned across languages: ``p1|ko|3.0.12.1.4.7``.
So each side of a handoff between cells of different languages reads what
it says in its own language, and what it will hear as it will be said, with
a gloss in its own language. A stored value in any other form is a phrase
drawn before phrases had languages: it is shown as it is, in English.

Pool sizes (``pool_size``) are counted from the word lists themselves; every
entry of a list is distinct in every language, and ``tests`` check that
distinct indices give distinct sentences, so the entropy of a phrase is
``log2(pool_size)`` (``bits``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from safepassage.vault import crypto

from .phrasebook import en, ko, zh_hans

FORMAT = "p1"
BOOKS: dict[str, ModuleType] = {"en": en, "ko": ko, "zh-hans": zh_hans}
DEFAULT_LANGUAGE = "en"

CHALLENGE = "challenge"
RESPONSE = "response"
# The lists each kind of phrase draws one entry from, in stored order.
SLOTS: dict[str, tuple[str, ...]] = {
    CHALLENGE: ("OPENERS", "QUESTIONS", "PLACES", "DAYS", "CLOCKS", "HOURS"),
    RESPONSE: ("ANSWERS", "REMARKS", "RELATIVES", "FREQUENCIES", "PLACES"),
}


def book_language(code: str | None) -> str:
    """The phrasebook language for a page language code (``zh-hans``,
    ``zh-Hans``, ``ko``...); English when there is no book for it."""
    code = (code or "").lower()
    if code in BOOKS:
        return code
    base = code.split("-")[0]
    if base == "zh":
        return "zh-hans"
    return base if base in BOOKS else DEFAULT_LANGUAGE


# Languages as spoken (a phrase is heard, not written: "Chinese", not "Simplified Chinese").
SPOKEN_NAMES = {"en": _("English"), "ko": _("Korean"), "zh-hans": _("Chinese")}


def language_name(code: str) -> str:
    """The spoken language's name in the active language ("Korean", "한국어"...)."""
    return str(SPOKEN_NAMES.get(code, code))


@dataclass(frozen=True)
class Phrase:
    """A drawn phrase: what kind, in which language it is said, its word indices."""

    kind: str
    language: str
    indices: tuple[int, ...]

    def text(self, language: str | None = None) -> str:
        """The phrase in ``language`` (default: the language it is said in)."""
        return render(self.kind, self.indices, language or self.language)

    def encode(self) -> str:
        return "|".join((FORMAT, self.kind[0], self.language, ".".join(map(str, self.indices))))

    @property
    def key(self) -> tuple[str, tuple[int, ...]]:
        """Equal for the same words whatever the language (for uniqueness)."""
        return (self.kind, self.indices)


def render(kind: str, indices: tuple[int, ...], language: str) -> str:
    book = BOOKS[language]
    words = {name: getattr(book, name)[i] for name, i in zip(SLOTS[kind], indices, strict=True)}
    if kind == CHALLENGE:
        when = book.WHEN.format(
            day=words["DAYS"], clock=words["CLOCKS"].format(hour=words["HOURS"])
        )
        question = words["QUESTIONS"].format(place=words["PLACES"], when=when)
        return book.CHALLENGE.format(opener=words["OPENERS"], question=question)
    remark = words["REMARKS"].format(
        relative=words["RELATIVES"], freq=words["FREQUENCIES"], place=words["PLACES"]
    )
    return book.RESPONSE.format(answer=words["ANSWERS"], remark=remark)


def list_sizes(kind: str, language: str) -> tuple[int, ...]:
    book = BOOKS[language]
    return tuple(len(getattr(book, name)) for name in SLOTS[kind])


def pool_size(kind: str, language: str) -> int:
    """How many different phrases of ``kind`` the ``language`` lists make."""
    return math.prod(list_sizes(kind, language))


def bits(kind: str, language: str) -> float:
    """The entropy of one drawn phrase of ``kind`` in ``language``."""
    return math.log2(pool_size(kind, language))


def draw(kind: str, language: str) -> Phrase:
    """A fresh phrase, every word chosen with the system's CSPRNG."""
    language = book_language(language)
    indices = tuple(crypto.random_index(n) for n in list_sizes(kind, language))
    return Phrase(kind, language, indices)


_KINDS = {kind[0]: kind for kind in SLOTS}


# Stored values are typed ``object``: a sealed field reads as the text it holds.


def decode(stored: object) -> Phrase | None:
    """The phrase in a stored value, or None for an empty or pre-language value."""
    if not isinstance(stored, str) or not stored.startswith(FORMAT + "|"):
        return None
    try:
        _format, kind, language, numbers = stored.split("|")
        phrase = Phrase(_KINDS[kind], language, tuple(int(n) for n in numbers.split(".")))
        sizes = list_sizes(phrase.kind, language)
    except (KeyError, ValueError):
        return None
    if len(phrase.indices) != len(sizes) or not all(
        0 <= i < n for i, n in zip(phrase.indices, sizes, strict=True)
    ):
        return None
    return phrase


def key_of(stored: object) -> object:
    """What makes two stored challenges "the same challenge" (None: nothing stored)."""
    if not isinstance(stored, str) or not stored:
        return None
    phrase = decode(stored)
    return phrase.key if phrase is not None else ("text", stored)


@dataclass(frozen=True)
class Spoken:
    """A stored phrase as a person reads it."""

    text: str  # as it is said aloud
    language: str  # the language it is said in
    phrase: Phrase | None  # None: drawn before phrases had languages

    def meaning(self, language: str) -> str:
        """Its gloss in ``language``; empty when that is the language it is said in."""
        language = book_language(language)
        if self.phrase is None or language == self.language:
            return ""
        return self.phrase.text(language)

    @property
    def language_name(self) -> str:
        return language_name(self.language)

    @property
    def gloss(self) -> str:
        """Its gloss in the active language (empty when it is said in that one)."""
        return self.meaning(get_language() or DEFAULT_LANGUAGE)


def spoken(stored: object) -> Spoken | None:
    """How a stored phrase reads; None when nothing is stored."""
    if not isinstance(stored, str) or not stored:
        return None
    phrase = decode(stored)
    if phrase is None:
        return Spoken(stored, DEFAULT_LANGUAGE, None)
    return Spoken(phrase.text(), phrase.language, phrase)


def renderings(stored: object) -> list[str]:
    """Every text a stored phrase can be shown as (its words in each language)."""
    phrase = decode(stored)
    if phrase is None:
        return [stored] if isinstance(stored, str) and stored else []
    return [phrase.text(language) for language in BOOKS]


def new_phrase_pair(
    challenge_language: str = DEFAULT_LANGUAGE,
    response_language: str = DEFAULT_LANGUAGE,
    *,
    taken: Iterable[object] = (),
) -> tuple[str, str]:
    """(challenge, response), both fresh and encoded for storage; the
    challenge's words are none of ``taken`` (``key_of`` values)."""
    taken = set(taken)
    for _attempt in range(MAX_DRAWS):
        challenge = draw(CHALLENGE, challenge_language)
        if challenge.key not in taken:
            break
    else:  # pragma: no cover - 2**21 challenges against a handful taken
        raise RuntimeError("no free verification challenge")
    return challenge.encode(), draw(RESPONSE, response_language).encode()


# Redraws before giving up: with 2**21 challenges and a member's few live
# handoffs, a second draw is already a one-in-a-hundred-thousand event.
MAX_DRAWS = 64
