"""Sealed fields: lazy, keyless saves for the worker, no plaintext in pickles,
no searching or bulk-writing around the seal, and the benchmark switch."""

from __future__ import annotations

import pickle

import pytest
from django.core.exceptions import FieldError
from django.db import transaction
from django.db.models import Q

from safepassage.cases.models import Case, Traveller
from safepassage.journeys.models import Handoff, Leg, LegStatus
from safepassage.vault import crypto
from safepassage.vault import fields as vault_fields
from safepassage.vault.fields import is_sealed_blob, sealing_switched_off
from safepassage.vault.keyring import Locked, unlocked

from ..factories import OrganisationFactory
from .conftest import LEG_ROUTE, TRAVELLER_NAME, TRAVELLER_PHONE
from .support import raw_value

LEG_SEALED = ["transport", "route", "vehicle", "notes"]


@pytest.fixture
def opens(monkeypatch):
    """Counts every decryption of a sealed record value."""
    calls: list[bytes] = []
    real = crypto.open_with_compartment_key

    def counting(key, blob, aad):
        calls.append(aad)
        return real(key, blob, aad)

    monkeypatch.setattr(vault_fields.crypto, "open_with_compartment_key", counting)
    return calls


def _traveller(small) -> Traveller:
    return Traveller.objects.get(pk=small.traveller.pk)


# --- lazy reads ------------------------------------------------------------------------


def test_loading_a_record_decrypts_nothing_until_a_field_is_read(small, opens):
    with unlocked(small.ring):
        traveller = _traveller(small)
        list(Traveller.objects.all())
        assert opens == []
        assert traveller.name == TRAVELLER_NAME
        assert len(opens) == 1
        assert b"|name|" in opens[0]
        # A second read is served from the instance, not decrypted again.
        assert traveller.name == TRAVELLER_NAME
        assert len(opens) == 1
        assert traveller.phone == TRAVELLER_PHONE
        assert len(opens) == 2


def test_loading_without_any_keys_works_and_reading_is_locked(small):
    with unlocked(None):
        traveller = _traveller(small)  # no keys needed to fetch the row
        with pytest.raises(Locked):
            _ = traveller.name


def test_reading_with_someone_elses_keys_is_locked(small):
    outsider = OrganisationFactory()
    with unlocked(outsider.keyring):
        traveller = _traveller(small)
        with pytest.raises(Locked):
            _ = traveller.name


# --- the worker: saving plaintext columns without keys ----------------------------------


def test_a_save_that_leaves_sealed_fields_alone_needs_no_keys_and_keeps_ciphertext(small):
    leg = small.leg
    before = {name: raw_value(Leg, name, leg.pk) for name in LEG_SEALED}
    assert all(before.values())
    with unlocked(None):
        worker_copy = Leg.objects.get(pk=leg.pk)
        worker_copy.status = LegStatus.STARTED
        worker_copy.save()  # a full save, every column written back
    after = {name: raw_value(Leg, name, leg.pk) for name in LEG_SEALED}
    assert after == before
    assert Leg.objects.get(pk=leg.pk).status == LegStatus.STARTED
    with unlocked(small.ring):
        assert Leg.objects.get(pk=leg.pk).route == LEG_ROUTE


def test_a_save_after_reading_does_not_reseal(small):
    case = small.case
    before = raw_value(Case, "codename", case.pk)
    with unlocked(small.ring):
        copy = Case.objects.get(pk=case.pk)
        assert copy.codename == "Camellia"
        copy.save()
    assert raw_value(Case, "codename", case.pk) == before


def test_a_save_that_changes_a_sealed_field_needs_keys(small):
    with unlocked(None):
        leg = Leg.objects.get(pk=small.leg.pk)
        leg.notes = "changed"
        with pytest.raises(Locked):
            leg.save()


def test_assigning_a_value_reseals_with_a_fresh_nonce(small):
    case = small.case
    before = raw_value(Case, "codename", case.pk)
    with unlocked(small.ring):
        copy = Case.objects.get(pk=case.pk)
        copy.codename = "Camellia"  # the same text
        copy.save()
        after = raw_value(Case, "codename", case.pk)
        assert after != before
        assert is_sealed_blob(after)
        assert Case.objects.get(pk=case.pk).codename == "Camellia"


# --- refresh_from_db ---------------------------------------------------------------------


def test_refresh_from_db_decrypts_nothing_and_needs_no_keys(small, opens):
    with unlocked(small.ring):
        traveller = _traveller(small)
        assert traveller.name == TRAVELLER_NAME
    assert len(opens) == 1
    with unlocked(None):
        traveller.refresh_from_db()
        traveller.refresh_from_db(fields=["name", "phone"])
        traveller.refresh_from_db(fields=["created_at"])
    assert len(opens) == 1
    with unlocked(None), pytest.raises(Locked):
        _ = traveller.name  # the cached plaintext went with the refresh


def test_refresh_from_db_drops_an_unsaved_assignment(small):
    with unlocked(small.ring):
        traveller = _traveller(small)
        traveller.name = "not saved"
        traveller.refresh_from_db(fields=["name"])
        assert traveller.name == TRAVELLER_NAME


def test_a_deferred_sealed_field_loads_as_ciphertext(small, opens):
    with unlocked(small.ring):
        traveller = Traveller.objects.only("id", "case_id").get(case=small.case)
        assert "name" in traveller.get_deferred_fields()
        assert opens == []
        assert traveller.name == TRAVELLER_NAME
        assert len(opens) == 1


# --- pickling --------------------------------------------------------------------------------


def test_a_pickled_record_carries_ciphertext_only(small):
    with unlocked(small.ring):
        traveller = _traveller(small)
        assert traveller.name == TRAVELLER_NAME
        assert traveller.phone == TRAVELLER_PHONE
        data = pickle.dumps(traveller)
    for secret in (TRAVELLER_NAME, "Secret-Name", TRAVELLER_PHONE):
        assert secret.encode("utf-8") not in data
    assert raw_value(Traveller, "name", traveller.pk) in data  # the ciphertext travels

    copy = pickle.loads(data)  # noqa: S301 - our own bytes, the point of the test
    with unlocked(None), pytest.raises(Locked):
        _ = copy.name
    with unlocked(small.ring):
        assert copy.name == TRAVELLER_NAME


def test_a_record_with_an_unsaved_sealed_value_refuses_to_pickle(small):
    with unlocked(small.ring):
        traveller = _traveller(small)
        traveller.name = "Unsaved Name"
        with pytest.raises(TypeError):
            pickle.dumps(traveller)


# --- no searching, no writing around the seal --------------------------------------------------


REFUSED_CONDITIONS = [
    {"name": TRAVELLER_NAME},
    {"name__exact": TRAVELLER_NAME},
    {"name__iexact": "traveller secret-name"},
    {"name__icontains": "Secret"},
    {"name__startswith": "Traveller"},
    {"name__in": [TRAVELLER_NAME]},
    {"name__gt": b""},
]


def test_filtering_on_a_sealed_field_is_refused(small):
    with unlocked(small.ring):
        for condition in REFUSED_CONDITIONS:
            with pytest.raises(FieldError):
                list(Traveller.objects.filter(**condition))
            with pytest.raises(FieldError):
                list(Traveller.objects.exclude(**condition))
            with pytest.raises(FieldError):
                list(Traveller.objects.filter(Q(**condition) | Q(case=small.case)))


def test_isnull_is_the_one_lookup_allowed(small):
    with unlocked(small.ring):
        assert Traveller.objects.filter(case=small.case, name__isnull=False).count() == 1
        assert Traveller.objects.filter(case=small.case, name__isnull=True).count() == 0


def _refuses_update(model, pk, values) -> None:
    field = next(iter(values))
    before = raw_value(model, field, pk)
    with pytest.raises(TypeError), transaction.atomic():
        model.objects.filter(pk=pk).update(**values)
    assert raw_value(model, field, pk) == before


def test_queryset_update_of_a_sealed_field_is_refused(small):
    traveller = _traveller(small).pk
    handoff = Handoff.objects.filter(journey=small.journey).values_list("pk", flat=True)[0]
    with unlocked(small.ring):
        _refuses_update(Traveller, traveller, {"name": "x"})
        _refuses_update(Traveller, traveller, {"name": TRAVELLER_NAME})
        _refuses_update(Traveller, traveller, {"name": b"raw bytes are not ciphertext either"})
        _refuses_update(Handoff, handoff, {"photo": b"\xff\xd8\xff\xe0 a jpeg photo in clear"})
        _refuses_update(Case, small.case.pk, {"consent": {"given": True}})


def test_queryset_update_may_move_ciphertext_but_it_will_not_open_there(small):
    """Copying a sealed value to another row is possible with SQL anyway; the
    associated data makes it useless."""
    source = _traveller(small)
    other = Traveller.objects.create(case=small.case, compartment=small.case.compartment)
    blob = raw_value(Traveller, "name", source.pk)
    Traveller.objects.filter(pk=other.pk).update(name=blob)
    with unlocked(small.ring), pytest.raises(crypto.SealBroken):
        _ = Traveller.objects.get(pk=other.pk).name


def test_assigning_the_wrong_type_is_refused(small):
    with unlocked(small.ring):
        traveller = _traveller(small)
        with pytest.raises(TypeError):
            traveller.name = b"bytes into a text field"
        handoff = Handoff.objects.filter(journey=small.journey).first()
        with pytest.raises(TypeError):
            handoff.photo = "text into a bytes field"


# --- the benchmark switch --------------------------------------------------------------------------


def test_sealing_switched_off_stores_plaintext_that_is_refused_outside_the_switch(small):
    traveller = _traveller(small)
    with sealing_switched_off():
        copy = Traveller.objects.get(pk=traveller.pk)
        copy.alias = "Benchmark Alias"
        copy.save(update_fields=["alias"])
        stored = raw_value(Traveller, "alias", traveller.pk)
        assert stored == bytes([crypto.FORMAT_PLAIN_BENCHMARK]) + b"Benchmark Alias"
        assert not is_sealed_blob(stored)
        assert Traveller.objects.get(pk=traveller.pk).alias == "Benchmark Alias"
    with unlocked(small.ring):
        fetched = Traveller.objects.get(pk=traveller.pk)
        with pytest.raises(crypto.SealBroken):
            _ = fetched.alias
        # Sealed values are not readable inside the switch either.
        with sealing_switched_off(), pytest.raises(crypto.SealBroken):
            _ = Traveller.objects.get(pk=traveller.pk).name


def test_a_benchmark_blob_cannot_be_written_outside_the_switch(small):
    traveller = _traveller(small)
    plain = bytes([crypto.FORMAT_PLAIN_BENCHMARK]) + b"smuggled"
    _refuses_update(Traveller, traveller.pk, {"alias": plain})
    assert is_sealed_blob(raw_value(Traveller, "alias", traveller.pk))
