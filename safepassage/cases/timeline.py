"""The case timeline's sentences, written in the reader's language.

A timeline entry stores which sentence it is (a key of ``MESSAGES``) and the
sentence's parameters, both in ``CaseEvent.message``, sealed in the entry's
compartment: the parameters may name a traveller or hold a note, and which
sentence it is would tell more than the plaintext kind does (a freeze after a
compromise).
The sentence is put together when it is read, with the reader's language in
force, so an entry written by a Korean-speaking coordinator reads in English
for an English-speaking one.

Entries written before the timeline stored its sentences this way hold
their sentence as text, in the language of whoever acted; they are shown as
they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import CaseStatus


def _label(choices: type[models.TextChoices]) -> Callable[[Any], str]:
    """A parameter stored as a choice's value, shown as its label in the reader's language."""

    def show(value: Any) -> str:
        try:
            return str(choices(value).label)
        except ValueError:
            return str(value)

    return show


@dataclass(frozen=True)
class Message:
    """A timeline sentence: a translatable format string with named
    placeholders, and how to show the parameters that are stored as codes."""

    text: Promise | None
    shown_as: Mapping[str, Callable[[Any], str]] = field(default_factory=dict)
    # A parameter holding a person's own words, shown after the sentence as
    # written (it is not translated).
    free_text: str = ""


# Keys are stored in the database: never rename one; add new ones instead.
MESSAGES: dict[str, Message] = {
    "case_opened": Message(_("Case opened.")),
    "traveller_added": Message(_("Traveller %(name)s added.")),
    "status_changed": Message(
        _("Status: %(old)s → %(new)s."),
        shown_as={"old": _label(CaseStatus), "new": _label(CaseStatus)},
        free_text="note",
    ),
    # A note is the coordinator's own words and nothing else.
    "note": Message(None, free_text="text"),
    "journey_planned": Message(_("Journey planned.")),
    "journey_started": Message(_("Journey started.")),
    "leg_started": Message(_("Leg %(number)s started.")),
    "leg_handed_off": Message(_("Leg %(number)s handed off.")),
    "leg_frozen": Message(_("Leg %(number)s frozen: a compromise was declared.")),
    "leg_released": Message(_("Leg %(number)s released after a compromise.")),
}


def sealed(key: str, **params: Any) -> dict[str, Any]:
    """What ``CaseEvent.message`` holds for sentence ``key`` with ``params``."""
    if key not in MESSAGES:
        raise ValueError(f"unknown timeline sentence {key!r}")
    return {"key": key, "params": params}


def render(message: str, params: Mapping[str, Any] | None) -> str:
    """The sentence ``message`` with ``params``, in the language in force.
    An unknown key (written by a newer version) shows nothing rather than fail."""
    entry = MESSAGES.get(message)
    if entry is None:
        return ""
    params = dict(params or {})
    shown = {
        name: entry.shown_as[name](value) if name in entry.shown_as else value
        for name, value in params.items()
    }
    sentence = ""
    if entry.text is not None:
        try:
            sentence = str(entry.text) % shown
        except (KeyError, TypeError, ValueError):
            sentence = str(entry.text)
    extra = str(params.get(entry.free_text) or "") if entry.free_text else ""
    return " ".join(part for part in (sentence, extra) if part)
