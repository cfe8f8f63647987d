"""Which records had a sealed value opened during one request.

``SealedField.open`` is the one place a sealed value is decrypted; it calls
``note()`` after each successful opening. While a ``recording()`` block is
active (the audit middleware opens one around every request), the record's
model label and id are collected, once each, so that the request can be
written to the audit log as one ``record.open`` entry. Outside such a block
(commands, the worker, tests) ``note()`` does nothing.

Only ids are collected, never values.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

Opened = dict[tuple[str, str], None]  # insertion-ordered set of (model label, record id)

_opened: contextvars.ContextVar[Opened | None] = contextvars.ContextVar(
    "safepassage_opened_records", default=None
)


def note(label: str, pk: object) -> None:
    """Record that a sealed value of ``label`` record ``pk`` was opened."""
    found = _opened.get()
    if found is not None:
        found[(label, str(pk))] = None


@contextlib.contextmanager
def recording() -> Iterator[Opened]:
    """Collect the records opened inside the block, in the order first opened."""
    found: Opened = {}
    token = _opened.set(found)
    try:
        yield found
    finally:
        _opened.reset(token)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Open values without collecting them: for key rotation, which re-seals
    records without showing them to anyone (it is audited as a rotation)."""
    token = _opened.set(None)
    try:
        yield
    finally:
        _opened.reset(token)
