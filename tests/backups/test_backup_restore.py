"""Encrypted backups: a restore into an empty database round-trips every
record; a damaged file, the wrong key, a non-empty database, another
schema or a broken audit chain are refused with nothing changed."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from safepassage.audit.models import AuditEvent
from safepassage.audit.selectors import first_broken_link, read_entries
from safepassage.backups import dump
from safepassage.backups.progress import progress_bar
from safepassage.backups.services import BackupError, restore_backup, take_backup
from safepassage.cases.models import Case
from safepassage.demo.scenario import AZALEA, COORDINATORS, build_demo
from safepassage.members.models import Member
from safepassage.organisations.models import Organisation
from safepassage.vault.keyring import unlocked
from safepassage.vault.models import CompartmentGrant
from tests.conftest import vault_login
from tests.factories import keyring_for
from tests.vault.support import fresh_keyring

from .support import (
    assert_restored,
    decrypted_dump,
    empty_database,
    every_row,
    make_age_key,
    read_backup,
    write_backup_of_lines,
)


def _backup(tmp_path, age_key, name="b.backup.age"):
    out = io.StringIO()
    path = tmp_path / name
    call_command(
        "backup", "--output", str(path), "--recipient", age_key.public, stdout=out, stderr=out
    )
    return path, out.getvalue()


def _restore(path, age_key, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "restore", str(path), "--identity", str(age_key.identity_file), stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def _nothing_restored():
    assert not Organisation.objects.exists()
    assert not Member.objects.exists()
    assert not CompartmentGrant.objects.exists()


# --- the round trip ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restore_into_an_empty_database_round_trips_every_record(client, tmp_path, age_key):
    """The whole demo: back up, empty the database (`flush`, as a fresh one),
    restore, and every row of every table is back, byte for byte; then a
    coordinator logs in with their password and reads the case."""
    build_demo()
    path, output = _backup(tmp_path, age_key)
    before = every_row()  # with the backup's own audit entry
    assert sum(len(rows) for rows in before.values()) > 400
    assert "Backup written to" in output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []

    call_command("flush", interactive=False, verbosity=0)
    assert not Organisation.objects.exists()
    assert every_row() != before

    out, err = _restore(path, age_key)
    assert "Restored" in out and "verify" in out
    assert err == ""  # not a terminal: no progress bar

    assert_restored(before, organisations=1)

    # The restored coordinator logs in with their password (the login view
    # unwraps their restored private key; a coordinator's second factor comes
    # next), and the keys it opens read the case.
    seoul = COORDINATORS[0]
    response = client.post(
        reverse("members:login"), {"handle": seoul.handle, "password": seoul.password}
    )
    assert response.status_code == 302
    assert not response["Location"].startswith(reverse("members:login"))
    member = Member.objects.get(handle=seoul.handle)
    client.logout()
    vault_login(client, member, keyring_for(member, seoul.password))
    azalea = Case.objects.order_by("opened_at").first()
    page = client.get(reverse("cases:detail", args=[azalea.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert AZALEA["codename"] in body
    assert AZALEA["travellers"][0]["name"] in body


def test_sessions_are_not_backed_up_and_every_other_table_is(tmp_path, age_key, world, client):
    client.force_login(world.coord)
    assert Session.objects.exists()
    path, _ = _backup(tmp_path, age_key)
    header, tables = read_backup(path, age_key.identity_file)
    assert "sessions.Session" not in tables
    assert set(tables) == {m._meta.label for m in dump.backed_up_models()}
    for table in header["tables"]:
        assert len(tables[table["model"]]) == table["rows"]
    assert len(tables["members.Member"]) == Member.objects.count()
    assert not any(SESSION_KEY in json.dumps(rows) for rows in tables.values())


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, age_key, world):
    path, _ = _backup(tmp_path, age_key)
    grants = CompartmentGrant.objects.count()
    with pytest.raises(CommandError, match="The database is not empty"):
        _restore(path, age_key)
    assert CompartmentGrant.objects.count() == grants


def test_restore_inside_a_transaction_round_trips_too(tmp_path, age_key, world):
    """The same round trip without committing (both databases in the test run)."""
    path, _ = _backup(tmp_path, age_key)
    before = every_row()
    empty_database()
    _nothing_restored()
    summary = restore_backup(path=path, identity_file=age_key.identity_file)
    assert summary.rows == sum(len(rows) for rows in before.values())
    assert summary.organisations == 1
    assert_restored(before, organisations=1)


def test_backup_and_restore_are_in_the_audit_log(tmp_path, age_key, world):
    """Taking a backup is an export of everything: every organisation's log
    says so, inside the backup itself; a restore adds its own entry."""

    def newest(n):
        with unlocked(fresh_keyring(world.coord_keyring)):
            entries = read_entries(organisation=world.org, limit=n)
        return [(e["verb"], e["actor"], e["detail"]) for e in entries]

    path, _ = _backup(tmp_path, age_key, name="nightly.backup.age")
    started = ("backup.start", None, {"file": "nightly.backup.age", "recipient": age_key.public})
    assert newest(1) == [started]
    header, _tables = read_backup(path, age_key.identity_file)

    empty_database()
    restore_backup(path=path, identity_file=age_key.identity_file)
    restored = (
        "backup.restore",
        None,
        {"backup_created_at": header["created_at"], "rows": header["rows"]},
    )
    assert newest(2) == [restored, started]
    assert first_broken_link(organisation=world.org) is None


# --- refusals: nothing changes -------------------------------------------------------------


@pytest.fixture
def backed_up(tmp_path, age_key, world):
    """A backup of the world, and the database emptied as for a restore."""
    path, _ = _backup(tmp_path, age_key)
    empty_database()
    _nothing_restored()
    return path


@pytest.mark.parametrize("where", ["header", "middle", "last"])
def test_a_backup_with_one_byte_flipped_is_refused(backed_up, age_key, where):
    data = bytearray(backed_up.read_bytes())
    index = {"header": 40, "middle": len(data) // 2, "last": len(data) - 1}[where]
    data[index] ^= 0x01
    backed_up.write_bytes(bytes(data))
    with pytest.raises(CommandError) as refused:
        _restore(backed_up, age_key)
    assert "The backup file is damaged or was not made for this key" in str(refused.value)
    assert "Nothing was restored" in str(refused.value)
    _nothing_restored()


def test_a_truncated_backup_is_refused(backed_up, age_key):
    backed_up.write_bytes(backed_up.read_bytes()[:-100])
    with pytest.raises(CommandError, match="damaged or was not made for this key"):
        _restore(backed_up, age_key)
    _nothing_restored()


def test_a_backup_for_another_key_is_refused(backed_up, tmp_path):
    stranger = make_age_key(tmp_path, "other-key.txt")
    with pytest.raises(CommandError, match="damaged or was not made for this key"):
        _restore(backed_up, stranger)
    _nothing_restored()


def test_an_identity_file_without_a_key_is_refused(backed_up, tmp_path, age_key):
    age_key.identity_file.write_text("# public key: age1...\nnot a key\n")
    with pytest.raises(CommandError) as refused:
        _restore(backed_up, age_key)
    assert "not an age identity" in str(refused.value)
    assert "not a key" not in str(refused.value)  # the line is never echoed
    _nothing_restored()


def _lines_of(path, age_key) -> list[bytes]:
    return [line + b"\n" for line in decrypted_dump(path, age_key.identity_file).splitlines()]


def test_a_backup_made_at_other_migrations_is_refused(backed_up, tmp_path, age_key):
    lines = _lines_of(backed_up, age_key)
    header = json.loads(lines[0])
    header["migrations"].append(["cases", "9999_from_the_future"])
    lines[0] = json.dumps(header).encode() + b"\n"
    forged = tmp_path / "future.backup.age"
    write_backup_of_lines(forged, lines, age_key.public)
    with pytest.raises(CommandError) as refused:
        _restore(forged, age_key)
    assert "9999_from_the_future" in str(refused.value)
    assert "other database migrations" in str(refused.value)
    _nothing_restored()


def test_plaintext_smuggled_into_a_sealed_column_is_refused(backed_up, tmp_path, age_key):
    """Even a well-encrypted file cannot put plaintext where ciphertext belongs."""
    import base64

    lines = _lines_of(backed_up, age_key)
    header = json.loads(lines[0])
    case_table = next(t for t in header["tables"] if t["model"] == "cases.Case")
    column = case_table["columns"].index("codename")
    at = lines.index(next(ln for ln in lines if ln.startswith(b'{"table":"cases.Case"'))) + 1
    row = json.loads(lines[at])
    row[column] = base64.b64encode(b"Camellia in plain words").decode()
    lines[at] = json.dumps(row).encode() + b"\n"
    forged = tmp_path / "smuggled.backup.age"
    write_backup_of_lines(forged, lines, age_key.public)
    with pytest.raises(CommandError, match=r"cases\.Case\.codename does not fit"):
        _restore(forged, age_key)
    _nothing_restored()


def test_a_dump_cut_short_inside_a_good_encryption_is_refused(backed_up, tmp_path, age_key):
    lines = _lines_of(backed_up, age_key)[:-3]
    forged = tmp_path / "short.backup.age"
    write_backup_of_lines(forged, lines, age_key.public)
    with pytest.raises(CommandError, match=r"cut short|trailer|expected"):
        _restore(forged, age_key)
    _nothing_restored()


def test_a_broken_audit_chain_is_refused_and_rolled_back(tmp_path, age_key, world):
    victim = AuditEvent.objects.filter(organisation=world.org).order_by("seq")[2]
    sealed = bytearray(bytes(victim.sealed_entry))
    sealed[5] ^= 0x01
    AuditEvent.objects.filter(pk=victim.pk).update(sealed_entry=bytes(sealed))
    path, _ = _backup(tmp_path, age_key)
    empty_database()
    with pytest.raises(CommandError) as refused:
        _restore(path, age_key)
    assert f"audit chain of organisation {world.org.pk} does not verify at entry" in str(
        refused.value
    )
    _nothing_restored()  # the rows written by the second pass were rolled back


# --- the commands' edges -----------------------------------------------------------------------


def test_backup_needs_a_recipient(db, settings, tmp_path):
    settings.SAFEPASSAGE_BACKUP_RECIPIENT = ""
    with pytest.raises(CommandError, match="SAFEPASSAGE_BACKUP_RECIPIENT"):
        call_command("backup", "--output", str(tmp_path / "x.age"))
    with pytest.raises(CommandError, match="age public key"):
        call_command("backup", "--output", str(tmp_path / "x.age"), "--recipient", "ssh-ed25519 A")
    assert list(tmp_path.iterdir()) == []


def test_backup_uses_the_configured_recipient_and_never_overwrites(db, settings, tmp_path, age_key):
    settings.SAFEPASSAGE_BACKUP_RECIPIENT = age_key.public
    settings.VAR_DIR = tmp_path
    call_command("backup", "--quiet", stdout=io.StringIO())
    (made,) = (tmp_path / "backups").iterdir()
    assert made.name.startswith("safepassage-") and made.name.endswith(".backup.age")
    header, _tables = read_backup(made, age_key.identity_file)
    assert header["format"] == "safepassage-backup"
    with pytest.raises(BackupError, match="never overwritten"):
        take_backup(output=made, recipient=age_key.public)


def test_backup_keygen_never_overwrites_a_key(tmp_path, age_key):
    assert stat.S_IMODE(os.stat(age_key.identity_file).st_mode) == 0o600
    text = age_key.identity_file.read_text()
    assert f"# public key: {age_key.public}" in text
    assert "AGE-SECRET-KEY-1" in text
    with pytest.raises(CommandError, match="never overwritten"):
        call_command("backup_keygen", "--output", str(age_key.identity_file), stdout=io.StringIO())
    assert age_key.identity_file.read_text() == text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_on_a_terminal_only():
    terminal = _Terminal()
    with progress_bar("backup", quiet=False, stream=terminal) as bar:
        bar.start(1000)
        bar.advance(500)
    assert "backup" in terminal.getvalue()
    assert "500/1.00k" in terminal.getvalue() or "500" in terminal.getvalue()

    for stream, quiet in ((_Terminal(), True), (io.StringIO(), False)):
        with progress_bar("backup", quiet=quiet, stream=stream) as bar:
            bar.start(1000)
            bar.advance(500)
        assert stream.getvalue() == ""


def test_the_dump_order_puts_parents_first():
    order = [m._meta.label for m in dump.backed_up_models()]
    assert order.index("organisations.Organisation") < order.index("members.Member")
    assert order.index("members.Member") < order.index("vault.CompartmentGrant")
    assert order.index("cases.Case") < order.index("journeys.Journey") < order.index("journeys.Leg")
    assert order.index("journeys.Leg") < order.index("checkins.Deadline")
    assert len(order) == len(set(order))
    assert connection.vendor in ("sqlite", "postgresql")
