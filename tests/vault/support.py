"""Helpers that look at the database the way a seizure would: raw SQL, no ORM
decoding, no keys."""

from __future__ import annotations

from django.apps import apps
from django.db import connection

from safepassage.vault.fields import SealedField
from safepassage.vault.keyring import Keyring


def raw_value(model, field_name: str, pk) -> bytes | None:
    """The stored bytes of one column of one row, read with raw SQL."""
    field = model._meta.get_field(field_name)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn(field.column)} FROM {qn(model._meta.db_table)} "  # noqa: S608
            f"WHERE {qn(model._meta.pk.column)} = %s",
            [model._meta.pk.get_db_prep_value(pk, connection)],
        )
        row = cursor.fetchone()
    assert row is not None, f"no {model.__name__} row {pk}"
    return None if row[0] is None else bytes(row[0])


def write_raw_value(model, field_name: str, pk, value: bytes | None) -> None:
    """Overwrite one column of one row with raw SQL (what an attacker with the
    database file can do)."""
    field = model._meta.get_field(field_name)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(model._meta.db_table)} SET {qn(field.column)} = %s "  # noqa: S608
            f"WHERE {qn(model._meta.pk.column)} = %s",
            [value, model._meta.pk.get_db_prep_value(pk, connection)],
        )
        assert cursor.rowcount == 1


def sealed_columns() -> list[tuple[type, SealedField]]:
    """(model, field) for every sealed column of every installed model."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, SealedField)
    ]


def fresh_keyring(keyring: Keyring) -> Keyring:
    """The same private keys with nothing resolved yet: what the member's next
    login would hold (a keyring used to build data remembers keys it created)."""
    return Keyring(
        member_id=keyring.member_id,
        member_private_key=keyring.member_private_key,
        recovery=dict(keyring.recovery),
    )
