"""Every column is sealed or declared plaintext with a reason, and sealed
columns hold nothing but ciphertext."""

from __future__ import annotations

from django.apps import apps
from django.db import connection

from safepassage.journeys.models import Leg
from safepassage.vault import crypto
from safepassage.vault.fields import SealedField, SealedModel, is_sealed_blob
from safepassage.vault.plaintext import PLAINTEXT_COLUMNS, THIRD_PARTY_PLAINTEXT_COLUMNS

from ..factories import build_world
from .support import sealed_columns, write_raw_value


def _our_models() -> list:
    return [m for m in apps.get_models() if m.__module__.startswith("safepassage.")]


def test_every_column_is_sealed_or_declared():
    undeclared = []
    for model in _our_models():
        declared = PLAINTEXT_COLUMNS.get(model._meta.label, {})
        for field in model._meta.concrete_fields:
            if isinstance(field, SealedField):
                continue
            if field.attname not in declared:
                undeclared.append(f"{model._meta.label}.{field.attname}")
    assert undeclared == [], (
        "Columns neither sealed nor declared in safepassage/vault/plaintext.py: "
        + ", ".join(undeclared)
    )


def test_every_declared_column_exists_and_is_not_sealed():
    models = {m._meta.label: m for m in _our_models()}
    stale = []
    for label, columns in PLAINTEXT_COLUMNS.items():
        model = models.get(label)
        if model is None:
            stale.append(label)
            continue
        fields = {f.attname: f for f in model._meta.concrete_fields}
        for column, reason in columns.items():
            assert reason.strip(), f"{label}.{column} has no reason"
            field = fields.get(column)
            if field is None or isinstance(field, SealedField):
                stale.append(f"{label}.{column}")
    assert stale == [], "Stale or contradictory entries in PLAINTEXT_COLUMNS: " + ", ".join(stale)


def _library_models() -> list:
    """Models of installed apps that are neither safepassage's nor Django's own."""
    return [
        m
        for m in apps.get_models()
        if not m.__module__.startswith(("safepassage.", "django.contrib."))
    ]


def test_every_column_of_an_installed_librarys_tables_is_declared():
    """A library that brings its own tables (as django-axes did) is declared
    column by column in THIRD_PARTY_PLAINTEXT_COLUMNS, and nothing there is stale."""
    models = {m._meta.label: m for m in _library_models()}
    undeclared = [
        f"{label}.{f.attname}"
        for label, model in models.items()
        for f in model._meta.concrete_fields
        if f.attname not in THIRD_PARTY_PLAINTEXT_COLUMNS.get(label, {})
    ]
    stale = [
        f"{label}.{column}"
        for label, columns in THIRD_PARTY_PLAINTEXT_COLUMNS.items()
        for column in columns
        if label not in models
        or column not in {f.attname for f in models[label]._meta.concrete_fields}
    ]
    assert undeclared == [] and stale == [], (undeclared, stale)


def test_the_registry_is_not_vacuous():
    """A registry check that inspected nothing would pass too."""
    models = _our_models()
    assert len(models) >= 15
    assert sum(len(cols) for cols in PLAINTEXT_COLUMNS.values()) >= 100
    assert len(sealed_columns()) >= 40


def test_sealed_fields_live_on_models_with_an_id_known_before_saving():
    for model, field in sealed_columns():
        assert issubclass(model, SealedModel), f"{model._meta.label}.{field.name}"
        # The compartment path resolves to a foreign key to a compartment.
        *hops, last = field.compartment_path.split(".")
        target = model
        for hop in hops:
            target = target._meta.get_field(hop).related_model
        assert target._meta.get_field(last).related_model._meta.label == "vault.Compartment"


def _scan_sealed_columns() -> tuple[int, list[str]]:
    """(non-null values seen, columns holding anything but ciphertext), by raw SQL."""
    qn = connection.ops.quote_name
    non_null = 0
    offenders = []
    with connection.cursor() as cursor:
        for model, field in sealed_columns():
            cursor.execute(
                f"SELECT {qn(field.column)} FROM {qn(model._meta.db_table)}"  # noqa: S608
            )
            for (value,) in cursor.fetchall():
                if value is None:
                    continue
                non_null += 1
                if not is_sealed_blob(bytes(value)):
                    offenders.append(f"{model._meta.label}.{field.name}")
    return non_null, offenders


def test_every_sealed_column_holds_only_ciphertext(db):
    world = build_world()
    non_null, offenders = _scan_sealed_columns()
    assert offenders == []
    # The world writes names, routes, handoff details, timeline entries...
    assert non_null >= 40

    # The scan is able to fail: one plaintext value planted with SQL is found.
    write_raw_value(Leg, "notes", world.legs[0].pk, b"Water and a blanket in the back")
    assert _scan_sealed_columns()[1] == ["journeys.Leg.notes"]
    write_raw_value(
        Leg, "notes", world.legs[0].pk, bytes([crypto.FORMAT_PLAIN_BENCHMARK]) + b"x" * 80
    )
    assert _scan_sealed_columns()[1] == ["journeys.Leg.notes"]
