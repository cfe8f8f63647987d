"""The backup's plaintext format: a portable dump of every table, as JSON lines.

Before compression and age encryption (``vault.backup_crypto``), a backup is
UTF-8 JSON, one value per line:

1. a header: ``{"format": "safepassage-backup", "version": 1, "created_at",
   "database", "migrations": [[app, name], ...], "tables": [{"model",
   "columns", "rows"}, ...], "rows"}``;
2. for each table, in dependency order: ``{"table": label, "rows": n}``
   followed by ``n`` lines, each a JSON array of the row's column values in
   the header's column order;
3. a trailer: ``{"end": "safepassage-backup", "rows": total}``.

Values are those the database holds, never decrypted: sealed columns are
already ciphertext and are written as base64 of their raw bytes, like every
binary column. Datetimes are ISO 8601 with their offset, UUIDs and decimals
strings, JSON columns their JSON value; everything else as JSON has it. The
dump goes through Django's field types rather than the database's own dump
tool, so a backup from SQLite restores into PostgreSQL and back.

Not in a backup: sessions (their key material is useless without the
browsers' cookies, and a restore logs everyone out), Django's migration
records (only compared: a backup restores into a database at the same
migrations).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db import models
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.duration import duration_iso_string

FORMAT = "safepassage-backup"
VERSION = 1

# Never backed up: see the module docstring.
EXCLUDED = frozenset({"sessions.Session"})
# Filled by ``migrate`` itself, with ids of its own: a restore replaces these
# rows with the backup's (nothing else refers to them today, but a generic
# relation would by id).
REBUILT_BY_MIGRATE = ("auth.Permission", "contenttypes.ContentType")

# Rows read per query while dumping.
CHUNK = 1000


class DumpError(Exception):
    """The plaintext is not a well-formed backup of this format."""


# --- which tables, in which order ---------------------------------------------------------


def backed_up_models() -> list[type[models.Model]]:
    """Every table of the installed apps but ``EXCLUDED``, parents before children.

    Foreign keys are deferred to the commit on SQLite and PostgreSQL alike, so
    the order matters only for readability and for databases that check
    earlier; a cycle (an organisation and its coordinators' compartment) is
    broken in registry order.
    """
    found = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and m._meta.label not in EXCLUDED
    ]
    wanted = set(found)
    needs = {
        m: {
            f.related_model
            for f in m._meta.concrete_fields
            if f.is_relation and f.related_model in wanted and f.related_model is not m
        }
        for m in found
    }
    ordered: list[type[models.Model]] = []
    done: set = set()
    while len(ordered) < len(found):
        ready = [m for m in found if m not in done and needs[m] <= done]
        if not ready:  # a cycle: take the first left and carry on
            ready = [next(m for m in found if m not in done)]
        for model in ready:
            ordered.append(model)
            done.add(model)
    return ordered


def columns_of(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def fields_by_attname(model: type[models.Model]) -> dict[str, models.Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


def applied_migrations(connection) -> list[list[str]]:
    return sorted([app, name] for app, name in MigrationRecorder(connection).applied_migrations())


# --- values -----------------------------------------------------------------------------------


def encode_value(field: models.Field, value: Any) -> Any:
    """A column value as JSON (see the module docstring)."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return value


def decode_value(field: models.Field, value: Any) -> Any:
    """The Python value ``encode_value`` was given (``to_python`` parses it back)."""
    if value is None or isinstance(field, models.JSONField):
        return value
    return field.to_python(value)


# --- writing ------------------------------------------------------------------------------


def _line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def dump_lines(
    connection, *, progress: Callable[[int], None] | None = None
) -> tuple[dict, Iterator[bytes]]:
    """The header (counted now) and an iterator over every line of the dump.

    The caller runs both inside one snapshot of the database (``services``),
    so the counts and rows agree.
    """
    tables: list[dict[str, Any]] = []
    for model in backed_up_models():
        tables.append(
            {
                "model": model._meta.label,
                "columns": columns_of(model),
                "rows": model._base_manager.using(connection.alias).count(),
            }
        )
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": timezone.now().isoformat(),
        "database": connection.vendor,
        "migrations": applied_migrations(connection),
        "tables": tables,
        "rows": sum(t["rows"] for t in tables),
    }

    def lines() -> Iterator[bytes]:
        yield _line(header)
        for table in tables:
            model = apps.get_model(table["model"])
            fields = fields_by_attname(model)
            columns = table["columns"]
            yield _line({"table": table["model"], "rows": table["rows"]})
            rows = (
                model._base_manager.using(connection.alias)
                .order_by("pk")
                .values_list(*columns)
                .iterator(chunk_size=CHUNK)
            )
            written = 0
            for row in rows:
                yield _line([encode_value(fields[c], v) for c, v in zip(columns, row, strict=True)])
                written += 1
                if progress is not None and written % 100 == 0:
                    progress(100)
            if written != table["rows"]:
                raise DumpError(f"{table['model']} changed while it was being dumped")
            if progress is not None and written % 100:
                progress(written % 100)
        yield _line({"end": FORMAT, "rows": header["rows"]})

    return header, lines()


def gzipped(chunks: Iterable[bytes], *, level: int = 6) -> Iterator[bytes]:
    """gzip-compress a stream of byte strings, in blocks of about 64 KiB."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= 1 << 16:
            out = compressor.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    out = compressor.compress(b"".join(pending)) + compressor.flush()
    if out:
        yield out


# --- reading ------------------------------------------------------------------------------


class DumpConsumer:
    """Receives a dump's parts in order; the parser has checked their shape.

    Subclasses override what they need.
    """

    def header(self, header: dict) -> None:
        pass

    def table(self, label: str, columns: list[str], rows: int) -> None:
        pass

    def row(self, values: list) -> None:
        pass

    def end(self, header: dict) -> None:
        pass


class DumpParser:
    """Feed it the decompressed bytes; it checks the structure and calls ``consumer``.

    Refuses (DumpError) anything but header, tables with the announced row
    counts and widths, and the trailer, in that order, with nothing after.
    """

    def __init__(self, consumer: DumpConsumer):
        self.consumer = consumer
        self._decompressor = zlib.decompressobj(wbits=31)
        self._buffer = b""
        self._header: dict | None = None
        self._tables: list[dict] = []
        self._table_index = -1
        self._left_in_table = 0
        self._width = 0
        self._ended = False
        self.rows_read = 0

    # -- bytes in ------------------------------------------------------------------------

    def feed_compressed(self, data: bytes) -> None:
        try:
            plain = self._decompressor.decompress(data)
        except zlib.error as exc:
            raise DumpError(f"not a gzip stream ({exc})") from None
        if self._decompressor.unused_data:
            raise DumpError("data after the end of the compressed stream")
        self._feed(plain)

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return
            line, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
            self._line(line)

    def close(self) -> None:
        """The input is complete: refuse a dump cut short."""
        if not self._decompressor.eof:
            raise DumpError("the compressed stream is cut short")
        if self._buffer or not self._ended:
            raise DumpError("the dump is cut short (no trailer)")

    # -- lines ---------------------------------------------------------------------------

    def _line(self, raw: bytes) -> None:
        if self._ended:
            raise DumpError("data after the trailer")
        try:
            obj = json.loads(raw)
        except ValueError:
            raise DumpError("a line is not JSON") from None
        if self._header is None:
            self._take_header(obj)
        elif self._left_in_table:
            if not isinstance(obj, list) or len(obj) != self._width:
                raise DumpError(f"a row of {self._tables[self._table_index]['model']} is malformed")
            self._left_in_table -= 1
            self.rows_read += 1
            self.consumer.row(obj)
        elif self._table_index + 1 < len(self._tables):
            self._take_table(obj)
        else:
            self._take_end(obj)

    def _take_header(self, obj: Any) -> None:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise DumpError("this is not a safepassage backup")
        if obj.get("version") != VERSION:
            raise DumpError(f"backup format version {obj.get('version')!r} is not supported")
        tables = obj.get("tables")
        if not isinstance(tables, list) or not all(
            isinstance(t, dict)
            and isinstance(t.get("model"), str)
            and isinstance(t.get("columns"), list)
            and isinstance(t.get("rows"), int)
            for t in tables
        ):
            raise DumpError("the backup's table list is malformed")
        self._header = obj
        self._tables = tables
        self.consumer.header(obj)
        if not tables:
            self._table_index = 0

    def _take_table(self, obj: Any) -> None:
        expected = self._tables[self._table_index + 1]
        if (
            not isinstance(obj, dict)
            or obj.get("table") != expected["model"]
            or obj.get("rows") != expected["rows"]
        ):
            raise DumpError(f"expected the rows of {expected['model']}")
        self._table_index += 1
        self._left_in_table = expected["rows"]
        self._width = len(expected["columns"])
        self.consumer.table(expected["model"], expected["columns"], expected["rows"])

    def _take_end(self, obj: Any) -> None:
        assert self._header is not None  # noqa: S101 - set by the first line
        if (
            not isinstance(obj, dict)
            or obj.get("end") != FORMAT
            or obj.get("rows") != self._header.get("rows")
            or self.rows_read != self._header.get("rows")
        ):
            raise DumpError("the trailer does not match the rows read")
        self._ended = True
        self.consumer.end(self._header)
