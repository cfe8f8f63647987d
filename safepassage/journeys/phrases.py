"""One-time verification phrase pairs for handoffs.

The arriving side asks an ordinary-sounding question; the receiving side
answers with an ordinary-sounding reply. Both are drawn at random for each
handoff, so a phrase overheard once is worth nothing the next time.
"""

from __future__ import annotations

from safepassage.vault import crypto

_THINGS = (
    "river",
    "market",
    "bakery",
    "harbour",
    "orchard",
    "library",
    "bridge",
    "garden",
    "station",
    "temple",
    "ferry",
    "lantern",
    "kettle",
    "bicycle",
    "noodle shop",
    "tea house",
)
_WHEN = (
    "after the rain",
    "before noon",
    "on Sunday",
    "since spring",
    "this week",
    "at dawn",
    "after the festival",
    "in the evening",
)
_REPLIES = (
    "Only if the wind is calm",
    "My cousin says so",
    "Not since the new moon",
    "Ask the old fisherman",
    "It depends on the tide",
    "Only for regular customers",
    "Twice, if you are lucky",
    "The second one is better",
)


def new_phrase_pair() -> tuple[str, str]:
    """(challenge, response), both fresh."""
    challenge = f"Is the {crypto.random_choice(_THINGS)} open {crypto.random_choice(_WHEN)}?"
    response = f"{crypto.random_choice(_REPLIES)}, {crypto.random_choice(_THINGS)} {crypto.random_choice(_WHEN)}."
    return challenge, response
