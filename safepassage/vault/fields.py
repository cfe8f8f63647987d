"""``SealedField``: a model field the rest of the code uses as plain text.

Reading ``leg.notes`` opens the stored ciphertext with the keyring in force;
assigning ``leg.notes = "..."`` marks it for sealing, and ``save()`` seals it
with the compartment's current key. The associated data is
``app.model|record id|field name|compartment id``, so ciphertext moved to
another row, field or compartment fails to open.

Values that were never read are never decrypted, and a ``save()`` that did
not change a sealed field writes its ciphertext back untouched, so code
without keys (the worker) can still update plaintext columns.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import FieldError
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext as _

from safepassage.core.errors import ServiceError

from . import crypto, keyring, opened

log = logging.getLogger("safepassage.vault")

KINDS = ("text", "json", "bytes")

# Characters a sealed text field holds unless it says otherwise: a paragraph
# or two (needs, a description, directions). Short names and numbers declare
# less, summaries and notes more.
DEFAULT_MAX_CHARS = 2000


class TextTooLong(ServiceError):
    """A sealed text longer than its field allows; nothing was stored."""


_sealing_off: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "safepassage_sealing_off", default=False
)


@contextlib.contextmanager
def sealing_switched_off() -> Iterator[None]:
    """Store and read sealed fields as plaintext. Only for the overhead benchmark.

    Values written inside the block can be read only inside such a block;
    outside it they are refused as not sealed.
    """
    token = _sealing_off.set(True)
    try:
        yield
    finally:
        _sealing_off.reset(token)


class Ciphertext(bytes):
    """Bytes as stored in the database (sealed), as opposed to a new plaintext."""


class _Slot:
    """What a model instance holds for one sealed field."""

    __slots__ = ("dirty", "has_plain", "plain", "raw")

    def __init__(self, raw: bytes | None, plain: Any = None, *, has_plain: bool, dirty: bool):
        self.raw = raw
        self.plain = plain
        self.has_plain = has_plain
        self.dirty = dirty

    def __reduce__(self):  # pickling (caches, copies) never carries plaintext
        if self.dirty:
            raise TypeError("an unsaved sealed value cannot be pickled")
        return (_slot_from_ciphertext, (self.raw,))

    def __repr__(self) -> str:
        return "<sealed>"


def _slot_from_ciphertext(raw: bytes | None) -> _Slot:
    """Rebuild a slot from its ciphertext alone (the target of ``_Slot.__reduce__``)."""
    return _Slot(None if raw is None else Ciphertext(raw), has_plain=False, dirty=False)


class SealedAttribute(DeferredAttribute):
    """Data descriptor: decrypts lazily on read, marks dirty on write."""

    field: SealedField

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        attname = self.field.attname
        data = instance.__dict__
        if attname not in data:
            instance.refresh_from_db(fields=[attname])
        slot: _Slot = data[attname]
        if not slot.has_plain:
            slot.plain = None if slot.raw is None else self.field.open(instance, slot.raw)
            slot.has_plain = True
        return slot.plain

    def __set__(self, instance, value) -> None:
        attname = self.field.attname
        if isinstance(value, _Slot):
            instance.__dict__[attname] = value
            return
        if isinstance(value, Ciphertext):
            instance.__dict__[attname] = _Slot(value, has_plain=False, dirty=False)
            return
        existing = instance.__dict__.get(attname)
        raw = existing.raw if isinstance(existing, _Slot) else None
        if value is None and raw is None:
            instance.__dict__[attname] = _Slot(None, None, has_plain=True, dirty=False)
            return
        self.field.check_plain(value)
        instance.__dict__[attname] = _Slot(raw, value, has_plain=True, dirty=True)


class SealedField(models.BinaryField):
    """A column that holds only ciphertext under a compartment's key.

    ``compartment`` names the attribute holding the compartment foreign key,
    optionally through relations (``"organisation.coordinators_compartment"``).
    ``kind`` is ``"text"`` (str), ``"json"`` (any JSON value) or ``"bytes"``.
    """

    descriptor_class = SealedAttribute
    description = "Sealed value (XChaCha20-Poly1305)"

    def __init__(
        self, *args, compartment: str, kind: str = "text", max_chars: int | None = None, **kwargs
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown sealed kind {kind!r}")
        self.compartment_path = compartment
        self.kind = kind
        # Enforced on every assignment, whatever path the value took (form,
        # API, service); not a schema property, so not in migrations.
        self.max_chars = (max_chars or DEFAULT_MAX_CHARS) if kind == "text" else None
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["compartment"] = self.compartment_path
        kwargs["kind"] = self.kind
        kwargs.pop("editable", None)
        for key in ("null", "blank"):
            if kwargs.get(key) is True:
                kwargs.pop(key)
        return name, path, args, kwargs

    # -- compartment --------------------------------------------------------------

    def compartment_lookup(self) -> str:
        """The ORM lookup from this model to the compartment id."""
        return self.compartment_path.replace(".", "__")

    def compartment_id_for(self, instance) -> uuid.UUID:
        *hops, last = self.compartment_path.split(".")
        target = instance
        for hop in hops:
            target = getattr(target, hop)
        cid = getattr(target, f"{last}_id")
        if cid is None:
            raise keyring.Locked(f"{self.model.__name__}.{self.name} has no compartment")
        return cid

    def aad(self, instance, compartment_id: uuid.UUID) -> bytes:
        return f"{self.model._meta.label_lower}|{instance.pk}|{self.name}|{compartment_id}".encode()

    # -- encoding -----------------------------------------------------------------

    def check_plain(self, value: Any) -> None:
        if value is None:
            return
        if self.kind == "text" and not isinstance(value, str):
            raise TypeError(f"{self.name} holds text, got {type(value).__name__}")
        if self.max_chars is not None and len(value) > self.max_chars:
            raise TextTooLong(
                _("A text is too long: at most %(limit)s characters, this one has %(length)s.")
                % {"limit": self.max_chars, "length": len(value)}
            )
        if self.kind == "bytes" and not isinstance(value, bytes | bytearray):
            raise TypeError(f"{self.name} holds bytes, got {type(value).__name__}")

    def _encode(self, value: Any) -> bytes:
        if self.kind == "text":
            return value.encode("utf-8")
        if self.kind == "json":
            return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return bytes(value)

    def _decode(self, data: bytes) -> Any:
        if self.kind == "text":
            return data.decode("utf-8")
        if self.kind == "json":
            return json.loads(data)
        return data

    # -- sealing and opening ---------------------------------------------------------

    def seal(self, instance, value: Any) -> bytes:
        data = self._encode(value)
        if _sealing_off.get():
            return crypto.plain_benchmark_blob(data)
        cid = self.compartment_id_for(instance)
        version, key = keyring.require().key_for_sealing(cid)
        return crypto.seal_for_compartment(key, data, self.aad(instance, cid), version=version)

    def open(self, instance, raw: bytes) -> Any:
        if _sealing_off.get():
            return self._decode(crypto.open_plain_benchmark_blob(raw))
        cid = self.compartment_id_for(instance)
        try:
            version = crypto.blob_version(raw)
            key = keyring.require().key_for_opening(cid, version)
            value = self._decode(
                crypto.open_with_compartment_key(key, raw, self.aad(instance, cid))
            )
        except crypto.SealBroken:
            # Ids and field names only: never the value, never the key.
            log.error(
                "sealed value failed authentication: %s id=%s field=%s",
                self.model._meta.label_lower,
                instance.pk,
                self.name,
            )
            raise
        # The request's audit entry names this record (ids only).
        opened.note(self.model._meta.label_lower, instance.pk)
        return value

    # -- Django field protocol --------------------------------------------------------

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Ciphertext(bytes(value))

    def pre_save(self, model_instance, add):
        slot = model_instance.__dict__.get(self.attname)
        if not isinstance(slot, _Slot):
            return None
        if slot.dirty:
            slot.raw = (
                None if slot.plain is None else Ciphertext(self.seal(model_instance, slot.plain))
            )
            slot.dirty = False
        return slot.raw

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if isinstance(value, memoryview):
            value = bytes(value)
        if not isinstance(value, bytes):
            raise TypeError(f"{self.name} is sealed: assign it on the model and save()")
        # Only ciphertext reaches the column, whatever path the value took
        # (``QuerySet.update(photo=b"...")`` would otherwise store raw bytes).
        benchmark = _sealing_off.get() and value[:1] == bytes([crypto.FORMAT_PLAIN_BENCHMARK])
        if not (crypto.blob_is_sealed(value) or benchmark):
            raise TypeError(f"{self.name} is sealed: assign it on the model and save()")
        return super().get_db_prep_value(value, connection, prepared)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise FieldError(f"{self.name} is sealed and cannot be searched with {lookup_name!r}")
        return super().get_lookup(lookup_name)

    def value_to_string(self, obj) -> str:
        slot = obj.__dict__.get(self.attname)
        raw = slot.raw if isinstance(slot, _Slot) else None
        return "" if raw is None else base64.b64encode(raw).decode("ascii")

    def formfield(self, **kwargs):
        if self.kind == "text":
            defaults = {"form_class": forms.CharField, "required": not self.blank}
            defaults.update(kwargs)
            return models.Field.formfield(self, **defaults)
        return None


def is_sealed_blob(value: bytes | memoryview | None) -> bool:
    """True when a stored column value is sealed ciphertext (used by the seizure checks)."""
    return value is None or crypto.blob_is_sealed(bytes(value))


class SealedModel(models.Model):
    """Base for models with sealed fields: a UUID id known before the first save
    (it is part of every field's associated data)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self._seal_with_current_keys()
        return super().save(*args, **kwargs)

    def _seal_with_current_keys(self) -> None:
        """Make the values about to be sealed use each compartment's current key
        version: a value sealed under a version that a concurrent rotation just
        retired could never be opened again."""
        ring = keyring.current()
        if ring is None or _sealing_off.get():
            return
        compartments = set()
        for field in self._meta.concrete_fields:
            if isinstance(field, SealedField):
                slot = self.__dict__.get(field.attname)
                if isinstance(slot, _Slot) and slot.dirty and slot.plain is not None:
                    compartments.add(field.compartment_id_for(self))
        ring.refresh_versions(compartments)

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # Copy sealed fields as ciphertext; the default would decrypt them.
        sealed = [f.attname for f in self._meta.concrete_fields if isinstance(f, SealedField)]
        if fields is not None:
            fields = list(fields)
            wanted_sealed = [f for f in fields if f in sealed]
        else:
            wanted_sealed = sealed
        if not wanted_sealed:
            return super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if fields is None:
            deferred = self.get_deferred_fields()
            others = [
                f.attname
                for f in self._meta.concrete_fields
                if f.attname not in sealed and f.attname not in deferred
            ]
        else:
            others = [f for f in fields if f not in sealed]
        if others:
            super().refresh_from_db(using=using, fields=others, from_queryset=from_queryset)
        qs = (
            from_queryset
            if from_queryset is not None
            else type(self)._base_manager.db_manager(using)
        )
        row = qs.filter(pk=self.pk).values_list(*wanted_sealed).get()
        for attname, value in zip(wanted_sealed, row, strict=True):
            self.__dict__[attname] = _Slot(
                None if value is None else Ciphertext(bytes(value)), has_plain=False, dirty=False
            )

    def sealed_fields(self) -> list[SealedField]:
        return [f for f in self._meta.concrete_fields if isinstance(f, SealedField)]
