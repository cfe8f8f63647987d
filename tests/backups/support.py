"""Helpers for the backup tests: a throwaway age key, reading a backup back,
emptying the database, and every row of every table for comparison."""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.db import connection

from safepassage.backups import dump
from safepassage.vault import backup_crypto


@dataclass
class AgeKey:
    identity_file: Path
    public: str


def make_age_key(directory: Path, name: str = "backup-key.txt") -> AgeKey:
    """An age key pair made with ``safepassage backup_keygen``, as an operator would."""
    path = directory / name
    out = io.StringIO()
    call_command("backup_keygen", "--output", str(path), stdout=out)
    public = next(
        line.split(": ", 1)[1]
        for line in out.getvalue().splitlines()
        if line.startswith("Public key: ")
    )
    return AgeKey(identity_file=path, public=public)


# Tables whose rows a backup does not carry (see safepassage.backups.dump).
NOT_BACKED_UP = {"django_session", "django_migrations"}


def decrypted_dump(path: Path, identity_file: Path) -> bytes:
    """The gzipped dump inside a backup file, decrypted and decompressed."""
    out = io.BytesIO()
    with open(path, "rb") as source:
        backup_crypto.decrypt(source, out, backup_crypto.read_identities(identity_file))
    return gzip.decompress(out.getvalue())


def read_backup(path: Path, identity_file: Path) -> tuple[dict, dict[str, list[dict]]]:
    """(header, {model label: [row as {column: JSON value}]})."""
    lines = decrypted_dump(path, identity_file).splitlines()
    header = json.loads(lines[0])
    tables: dict[str, list[dict]] = {}
    at = 1
    for table in header["tables"]:
        section = json.loads(lines[at])
        assert section == {"table": table["model"], "rows": table["rows"]}
        rows = [json.loads(line) for line in lines[at + 1 : at + 1 + table["rows"]]]
        tables[table["model"]] = [dict(zip(table["columns"], row, strict=True)) for row in rows]
        at += 1 + table["rows"]
    assert json.loads(lines[at]) == {"end": dump.FORMAT, "rows": header["rows"]}
    assert at + 1 == len(lines)
    return header, tables


def write_backup_of_lines(path: Path, lines: list[bytes], recipient: str) -> None:
    """Encrypt hand-made dump lines as ``safepassage backup`` would."""
    plain = io.BytesIO(gzip.compress(b"".join(lines)))
    with open(path, "wb") as sink:
        backup_crypto.encrypt(plain, sink, backup_crypto.parse_recipient(recipient))


def empty_database() -> None:
    """Delete every row a backup carries (plus sessions), inside the test's
    transaction: foreign keys are checked at commit, so order does not matter.
    ``migrate``'s own rows (content types, permissions) stay, as in a freshly
    migrated database."""
    from django.contrib.sessions.models import Session

    qn = connection.ops.quote_name
    rebuilt = set(dump.REBUILT_BY_MIGRATE)
    with connection.cursor() as cursor:
        for model in [*dump.backed_up_models(), Session]:
            if model._meta.label not in rebuilt:
                cursor.execute(f"DELETE FROM {qn(model._meta.db_table)}")  # noqa: S608


# The tables a restore adds to: each organisation's audit chain gets one
# entry (``backup.restore``) and its head moves.
AUDIT_TABLES = {"audit_auditevent", "audit_audithead"}


def assert_restored(before: dict[str, list[tuple]], *, organisations: int) -> None:
    """Every row of ``before`` (``every_row()`` once the backup was taken) is
    back as it was, and the audit log holds exactly one more entry per
    organisation: the restore's own."""
    after = every_row()

    def others(rows):
        return {t: r for t, r in rows.items() if t not in AUDIT_TABLES}

    assert others(after) == others(before)
    events_before, events_after = before["audit_auditevent"], after["audit_auditevent"]
    assert set(events_before) <= set(events_after)
    assert len(events_after) == len(events_before) + organisations


def _plain(value):
    return bytes(value) if isinstance(value, memoryview) else value


def every_row() -> dict[str, list[tuple]]:
    """Every row of every table a backup carries, as the database returns it."""
    qn = connection.ops.quote_name
    found = {}
    with connection.cursor() as cursor:
        for table in sorted(set(connection.introspection.table_names()) - NOT_BACKED_UP):
            cursor.execute(f"SELECT * FROM {qn(table)}")  # noqa: S608
            rows = [tuple(_plain(v) for v in row) for row in cursor.fetchall()]
            found[table] = sorted(rows, key=repr)
    return found
