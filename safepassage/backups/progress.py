"""A progress bar on standard error for the backup commands: shown only on a
terminal and without ``--quiet``, so scripts and logs get none."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm


@dataclass
class Bar:
    description: str
    shown: bool
    stream: Any = None
    _bar: Any = field(default=None, repr=False)

    def start(self, total: int, phase: str | None = None) -> None:
        """A new bar (closing any previous one) for ``total`` rows."""
        self.close()
        if self.shown:
            self._bar = tqdm(
                total=total,
                desc=phase or self.description,
                unit="row",
                unit_scale=True,
                file=self.stream or sys.stderr,
            )

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool, stream=None) -> Iterator[Bar]:
    stream = stream if stream is not None else sys.stderr
    shown = not quiet and bool(getattr(stream, "isatty", lambda: False)())
    bar = Bar(description, shown=shown, stream=getattr(stream, "_out", stream))
    try:
        yield bar
    finally:
        bar.close()
