"""A seized backup reveals nothing: build the demo, log everyone in, take a
backup, and find none of the demo's sensitive strings (nor any key) in the
file as stored, nor in the dump inside it once age-decrypted: sealed columns
there are still ciphertext."""

from __future__ import annotations

import base64
import json

import pytest

from safepassage.demo.scenario import SENSITIVE_STRINGS, build_demo, sensitive_strings_of
from safepassage.vault.fields import SealedField, is_sealed_blob
from safepassage.vault.models import Compartment
from tests.test_seizure import Finder, _every_key, _log_everyone_in

from .support import decrypted_dump, read_backup


@pytest.mark.django_db
def test_a_seized_backup_reveals_none_of_the_demo(tmp_path, age_key):
    from django.apps import apps
    from django.core.management import call_command

    result = build_demo()
    _log_everyone_in(result)
    needles = sensitive_strings_of(result)
    assert set(SENSITIVE_STRINGS) <= set(needles)
    keys = _every_key(result)
    assert len(keys) == len(result.logins) + Compartment.objects.count() + 2

    path = tmp_path / "seized.backup.age"
    call_command("backup", "--output", str(path), "--recipient", age_key.public, "--quiet")

    # The file as it would be seized.
    stored = Finder(needles, keys)
    stored.bytes_value(str(path), path.read_bytes())
    assert stored.found == []

    # The dump inside it, for whoever also holds the offline identity.
    plain = decrypted_dump(path, age_key.identity_file)
    inside = Finder(needles, keys)
    inside.bytes_value("dump", plain)
    header, tables = read_backup(path, age_key.identity_file)
    values = 0
    for label, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                inside.value(
                    f"{label}.{column}",
                    value if not isinstance(value, dict | list) else json.dumps(value),
                )
                values += 1
    assert inside.found == [], inside.found[:20]

    # Sealed columns went out as the ciphertext they are.
    sealed_seen = 0
    for label, rows in tables.items():
        model = apps.get_model(label)
        sealed = [f.attname for f in model._meta.concrete_fields if isinstance(f, SealedField)]
        for row in rows:
            for column in sealed:
                if row[column] is not None:
                    assert is_sealed_blob(base64.b64decode(row[column])), (label, column)
                    sealed_seen += 1

    # Not vacuous: the whole demo is in there, sealed values and all.
    assert header["rows"] == sum(len(rows) for rows in tables.values()) > 400
    assert values > 2000
    assert sealed_seen > 200
    assert len(plain) > 100_000


def test_the_backup_scan_finds_a_leak(tmp_path, age_key, world):
    """The scan is able to fail: a plaintext written into a plaintext column
    shows in the decrypted dump, and only there."""
    from django.core.management import call_command

    from safepassage.members.models import Member

    Member.objects.filter(pk=world.coord.pk).update(time_zone="Traveller Secret-Name")
    path = tmp_path / "leaky.backup.age"
    call_command("backup", "--output", str(path), "--recipient", age_key.public, "--quiet")
    stored = Finder(["Traveller Secret-Name"])
    stored.bytes_value("file", path.read_bytes())
    assert stored.found == []
    inside = Finder(["Traveller Secret-Name"])
    inside.bytes_value("dump", decrypted_dump(path, age_key.identity_file))
    assert inside.found
