"""Taking and restoring encrypted backups (docs/BACKUPS.md).

``take_backup`` dumps every table inside one snapshot of the database
(``dump``), gzips it and encrypts it with age to the offline recipient key
(``vault.backup_crypto``), streaming all the way into a file readable by its
owner only. Nothing is decrypted on the way: sealed columns go out as the
ciphertext they are.

``restore_backup`` decrypts twice. The first pass only checks: the file
decrypts with the identity given (age authenticates every chunk), the dump
is complete and well formed, and it fits this database's migrations. Only
then does the second pass write, in one transaction, into an empty
database; the audit chain of every organisation must verify before it
commits. A damaged file or the wrong key therefore changes nothing.

These are operator commands run on the server, not a member's action: they
need no member's keys and open no sealed value.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone

from safepassage.vault import backup_crypto

from . import dump

# Rows per INSERT batch on restore.
BATCH = 500

Progress = Callable[[int], None]
# Told the number of rows a phase will go through, and its name.
PhaseStart = Callable[[int, str], None]


class BackupError(Exception):
    """A backup or restore refused, with a message for the operator. Nothing changed."""


DAMAGED = (
    "The backup file is damaged or was not made for this key: {detail}. "
    "Nothing was restored; the database is unchanged."
)


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    tables: int
    rows: int
    size: int
    recipient: str
    created_at: str


@dataclass(frozen=True)
class RestoreSummary:
    tables: int
    rows: int
    created_at: str
    organisations: int


def _record_in_every_organisation(*, using: str, verb: str, detail: dict) -> None:
    """One audit entry in each organisation's chain, in one transaction: a
    backup holds every organisation, and it is the operator's act, not a
    member's (no actor)."""
    from safepassage.audit import services as audit
    from safepassage.organisations.models import Organisation

    with transaction.atomic(using=using):
        for organisation in Organisation.objects.using(using).order_by("created_at"):
            audit.record(organisation=organisation, actor=None, verb=verb, detail=detail)


# --- taking a backup -------------------------------------------------------------------------


@contextlib.contextmanager
def _snapshot(connection) -> Iterator[None]:
    """One consistent view of every table for the whole dump, without
    holding up writers longer than it must.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite (WAL): a
    deferred read transaction, which sees one snapshot and blocks no writer
    (the project's IMMEDIATE transactions would take the write lock for the
    whole dump). Inside a transaction already (tests), that one is the view.
    """
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        return
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte strings (what age encrypts).

    An exception raised while producing the bytes is kept, so the caller can
    raise it as it was rather than as the encryption library's wrapper.
    """

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = b""
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            except BaseException as exc:
                self.error = exc
                raise
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def default_backup_path(directory: Path) -> Path:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return directory / f"safepassage-{stamp}.backup.age"


def take_backup(
    *,
    output: Path,
    recipient: str,
    progress: Progress | None = None,
    on_start: PhaseStart | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> BackupSummary:
    """Write an age-encrypted backup of the whole database to ``output``.

    ``recipient`` is the age public key; ``on_start`` is told the number of
    rows to come, ``progress`` each batch done. The file appears only once
    complete (written beside it, flushed to disk, then renamed), mode 0600.
    Raises BackupError.
    """
    try:
        age_recipient = backup_crypto.parse_recipient(recipient)
    except backup_crypto.BackupKeyError as exc:
        raise BackupError(str(exc)) from None
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} exists already; backups are never overwritten.")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex}.partial")
    connection = connections[using]
    # Recorded before the snapshot, so the backup carries the entry that says
    # it was taken; a backup that then fails leaves the record of the attempt.
    _record_in_every_organisation(
        using=using,
        verb="backup.start",
        detail={"file": output.name, "recipient": str(recipient).strip()},
    )
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as sink, _snapshot(connection):
            header, lines = dump.dump_lines(connection, progress=progress)
            if on_start is not None:
                on_start(header["rows"], "backup")
            reader = _ChunkReader(dump.gzipped(lines))
            try:
                backup_crypto.encrypt(cast(Any, reader), sink, age_recipient)
            except Exception:
                if reader.error is not None:
                    raise reader.error from None
                raise
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, output)
    except dump.DumpError as exc:
        raise BackupError(f"The backup failed: {exc}. Nothing was written.") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return BackupSummary(
        path=output,
        tables=len(header["tables"]),
        rows=header["rows"],
        size=output.stat().st_size,
        recipient=str(recipient).strip(),
        created_at=header["created_at"],
    )


# --- restoring ---------------------------------------------------------------------------------


class _ParserSink(io.RawIOBase):
    """A writable file that hands decrypted bytes to a ``DumpParser``."""

    def __init__(self, parser: dump.DumpParser):
        self.parser = parser

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parser.feed_compressed(bytes(data))
        return len(data)


def _decrypt_into(path: Path, identities: list, consumer: dump.DumpConsumer) -> dump.DumpParser:
    parser = dump.DumpParser(consumer)
    try:
        with open(path, "rb") as source:
            backup_crypto.decrypt(source, cast(Any, _ParserSink(parser)), identities)
    except backup_crypto.BackupDamaged as exc:
        raise BackupError(DAMAGED.format(detail=f"age refused it ({exc})")) from None
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc}. Nothing was restored.") from None
    except dump.DumpError as exc:
        raise BackupError(
            f"The file decrypted but is not a usable safepassage backup: {exc}. "
            "Nothing was restored."
        ) from None
    try:
        parser.close()
    except dump.DumpError as exc:
        raise BackupError(DAMAGED.format(detail=str(exc))) from None
    return parser


class _Check(dump.DumpConsumer):
    """Pass one: the dump fits this database's schema. Writes nothing."""

    def __init__(
        self, connection, progress: Progress | None = None, on_start: PhaseStart | None = None
    ):
        self.connection = connection
        self.progress = progress
        self.on_start = on_start
        self.checked = 0
        self.header_seen: dict | None = None
        self.label = ""
        self.fields: list = []

    def header(self, header: dict) -> None:
        theirs = {tuple(m) for m in header.get("migrations", [])}
        ours = {tuple(m) for m in dump.applied_migrations(self.connection)}
        if theirs != ours:
            missing = sorted(theirs - ours)[:5]
            extra = sorted(ours - theirs)[:5]
            raise dump.DumpError(
                "it was made at other database migrations than this database's "
                f"(only in the backup: {missing or 'none'}; only here: {extra or 'none'}). "
                "Restore with the safepassage version that made it, into a database "
                "migrated with that version"
            )
        known = {m._meta.label: m for m in dump.backed_up_models()}
        listed = [t["model"] for t in header["tables"]]
        if set(listed) != set(known):
            raise dump.DumpError("its tables are not this version's tables")
        for table in header["tables"]:
            if table["columns"] != dump.columns_of(known[table["model"]]):
                raise dump.DumpError(f"the columns of {table['model']} differ from this version's")
        self.header_seen = header
        if self.on_start is not None:
            self.on_start(header["rows"], "verify")

    def table(self, label: str, columns: list[str], rows: int) -> None:
        by_attname = dump.fields_by_attname(apps.get_model(label))
        self.label = label
        self.fields = [by_attname[c] for c in columns]

    def row(self, values: list) -> None:
        # Every value must convert as it will on the second pass. A sealed
        # column accepts only ciphertext (SealedField refuses anything else),
        # so a backup cannot carry plaintext into a sealed column either.
        for field, value in zip(self.fields, values, strict=True):
            try:
                field.get_db_prep_save(dump.decode_value(field, value), connection=self.connection)
            except (TypeError, ValueError, ValidationError) as exc:
                raise dump.DumpError(
                    f"a value of {self.label}.{field.attname} does not fit its column "
                    f"({type(exc).__name__})"
                ) from None
        self.checked += 1
        if self.progress is not None and self.checked % 100 == 0:
            self.progress(100)

    def end(self, header: dict) -> None:
        if self.progress is not None and self.checked % 100:
            self.progress(self.checked % 100)


class _Load(dump.DumpConsumer):
    """Pass two: insert every row, in batches, with raw SQL through Django's
    field conversions (a model's ``save()`` would re-seal or re-stamp)."""

    def __init__(self, connection, progress: Progress | None):
        self.connection = connection
        self.progress = progress
        self.cursor = connection.cursor()
        self.batch: list[list] = []
        self.sql = ""
        self.fields: list = []

    def table(self, label: str, columns: list[str], rows: int) -> None:
        self.flush()
        model = apps.get_model(label)
        by_attname = dump.fields_by_attname(model)
        self.fields = [by_attname[c] for c in columns]
        qn = self.connection.ops.quote_name
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the models
            qn(model._meta.db_table),
            ", ".join(qn(f.column) for f in self.fields),
            ", ".join(["%s"] * len(self.fields)),
        )

    def row(self, values: list) -> None:
        prepared = []
        for field, value in zip(self.fields, values, strict=True):
            python = dump.decode_value(field, value)
            prepared.append(field.get_db_prep_save(python, connection=self.connection))
        self.batch.append(prepared)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.cursor.executemany(self.sql, self.batch)
            if self.progress is not None:
                self.progress(len(self.batch))
            self.batch = []

    def end(self, header: dict) -> None:
        self.flush()


def _occupied_tables(using: str) -> list[str]:
    rebuilt = set(dump.REBUILT_BY_MIGRATE)
    return [
        m._meta.label
        for m in dump.backed_up_models()
        if m._meta.label not in rebuilt and m._base_manager.using(using).exists()
    ]


def _refuse_unless_empty(using: str) -> None:
    occupied = _occupied_tables(using)
    if occupied:
        raise BackupError(
            "The database is not empty ("
            + ", ".join(occupied[:5])
            + (", ..." if len(occupied) > 5 else "")
            + " hold rows). Restore only into a new database that has been migrated and "
            "holds nothing else; nothing was restored."
        )


def _verify_audit_chains(using: str) -> int:
    from safepassage.audit.selectors import first_broken_link
    from safepassage.organisations.models import Organisation

    organisations = list(Organisation.objects.using(using).order_by("created_at"))
    for organisation in organisations:
        seq = first_broken_link(organisation=organisation)
        if seq is not None:
            raise BackupError(
                f"After restoring, the audit chain of organisation {organisation.pk} does not "
                f"verify at entry {seq}: the database was altered before it was backed up, or "
                "this server's SAFEPASSAGE_DISPATCH_KEY is not the one the backed-up server "
                "used. Nothing was restored."
            )
    return len(organisations)


def restore_backup(
    *,
    path: Path,
    identity_file: Path,
    progress: Progress | None = None,
    on_start: PhaseStart | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> RestoreSummary:
    """Restore the backup at ``path`` into this (empty, migrated) database.

    ``identity_file`` holds the offline age identity. ``on_start`` is told
    the number of rows at the start of each pass ("verify", then "restore");
    ``progress`` counts the rows each pass has been through. Raises
    BackupError, having changed nothing.
    """
    try:
        identities = backup_crypto.read_identities(Path(identity_file))
    except backup_crypto.BackupKeyError as exc:
        raise BackupError(f"{exc}. Nothing was restored.") from None
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file. Nothing was restored.")
    connection = connections[using]
    _refuse_unless_empty(using)

    check = _Check(connection, progress, on_start)
    _decrypt_into(path, identities, check)
    header = check.header_seen
    assert header is not None  # noqa: S101 - the parser saw the header to get this far
    if on_start is not None:
        on_start(header["rows"], "restore")

    with transaction.atomic(using=using):
        _refuse_unless_empty(using)
        with connection.cursor() as cursor:
            for label in dump.REBUILT_BY_MIGRATE:
                table = apps.get_model(label)._meta.db_table
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608
        load = _Load(connection, progress)
        try:
            _decrypt_into(path, identities, load)
        except DatabaseError as exc:
            raise BackupError(
                f"The database refused the backup's rows ({type(exc).__name__}: {exc}). "
                "Nothing was restored."
            ) from None
        finally:
            load.cursor.close()
        models = dump.backed_up_models()
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)
        try:
            connection.check_constraints(table_names=[m._meta.db_table for m in models])
        except Exception as exc:  # IntegrityError, named differently per database
            raise BackupError(
                f"The backup's rows do not hold together ({exc}). Nothing was restored."
            ) from None
        organisations = _verify_audit_chains(using)
        _record_in_every_organisation(
            using=using,
            verb="backup.restore",
            detail={"backup_created_at": header["created_at"], "rows": header["rows"]},
        )
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    return RestoreSummary(
        tables=len(header["tables"]),
        rows=header["rows"],
        created_at=header["created_at"],
        organisations=organisations,
    )
