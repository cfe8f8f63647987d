"""Files in var/ are their owner's only.

The development checkout keeps its SQLite database, secrets and recovery
shares in var/ (README, "What a seized development checkout gives away").
The secrets and shares files are written 0600 by whoever writes them; the
database is created by SQLite with the process's umask, so it is narrowed to
0600 here on every connection, before anything is written to it. SQLite
gives its -wal and -shm files the database file's mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def make_private(path: Path) -> None:
    """Narrow ``path`` and its SQLite companions to 0600 where they are wider."""
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if companion.stat().st_mode & 0o077:
                companion.chmod(0o600)
        except FileNotFoundError:
            continue


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: a file-backed SQLite database goes 0600."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return
    if os.path.exists(name):
        make_private(Path(name))
