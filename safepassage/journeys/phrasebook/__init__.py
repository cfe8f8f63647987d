"""Word lists for verification phrases, one data module per language.

Every module defines the same lists, in the same order, entry for entry: the
entry at index i of a list means the same thing in every language. A phrase
is stored as its indices (``journeys.phrases``), so it can be read out in the
language of whoever says it and glossed in the language of whoever hears it.

Templates use ``str.format`` placeholders:

- ``CHALLENGE`` joins ``{opener}`` and ``{question}``; a question holds
  ``{when}`` (``WHEN``: ``{day}`` and a ``{clock}`` that holds ``{hour}``)
  and ``{place}``;
- ``RESPONSE`` joins ``{answer}`` and ``{remark}``; a remark holds
  ``{relative}``, ``{freq}`` and ``{place}``.

Each question is a yes/no question and each answer fits every question, so
any draw is a sentence someone could say at a bus stop.
"""
