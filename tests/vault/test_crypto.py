"""The vault's primitives: sealing, binding, tamper detection, padding, the
password KDF and its floor, and k-of-n recovery."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safepassage.cases.models import Case, Traveller
from safepassage.cases.services import do_add_traveller
from safepassage.journeys.models import Handoff
from safepassage.organisations.models import Organisation
from safepassage.vault import crypto
from safepassage.vault.fields import is_sealed_blob
from safepassage.vault.keyring import Locked, unlocked

from ..factories import PASSWORD, OrganisationFactory
from .conftest import TRAVELLER_NAME
from .support import raw_value, write_raw_value

PROJECT_DIR = Path(__file__).resolve().parents[2]
KOREAN = "리경희 (김정숙의 조카), 회령시 4번 마을"
CHINESE = "吉A 7Q219 长春粮食市场后面的停车场"


# --- the primitive ---------------------------------------------------------------------------


@given(plaintext=st.binary(max_size=300), aad=st.binary(max_size=64), version=st.integers(1, 2**31))
@settings(max_examples=50, deadline=None)
def test_seal_open_round_trip_any_bytes(plaintext, aad, version):
    key = crypto.new_data_key()
    blob = crypto.seal_for_compartment(key, plaintext, aad, version=version)
    assert crypto.blob_is_sealed(blob)
    assert crypto.blob_version(blob) == version
    assert crypto.open_with_compartment_key(key, blob, aad) == plaintext
    with pytest.raises(crypto.SealBroken):
        crypto.open_with_compartment_key(crypto.new_data_key(), blob, aad)
    with pytest.raises(crypto.SealBroken):
        crypto.open_with_compartment_key(key, blob, aad + b"x")


def test_sealing_twice_gives_different_ciphertext():
    key = crypto.new_data_key()
    one = crypto.seal_for_compartment(key, b"same", b"aad", version=1)
    two = crypto.seal_for_compartment(key, b"same", b"aad", version=1)
    assert one != two
    assert b"same" not in one


def test_every_flipped_byte_is_detected():
    """Header (format, version), nonce and body: no byte can change unnoticed."""
    key = crypto.new_data_key()
    aad = b"cases.traveller|1|name|2"
    blob = crypto.seal_for_compartment(key, b"Ri Kyong-hui", aad, version=3)
    regions = {"format": range(0, 1), "version": range(1, 5), "nonce": range(5, 29)}
    regions["body"] = range(29, len(blob))
    for region, positions in regions.items():
        for position in positions:
            tampered = bytearray(blob)
            tampered[position] ^= 0x01
            with pytest.raises(crypto.SealBroken):
                crypto.open_with_compartment_key(key, bytes(tampered), aad)
            assert region  # every region was exercised
    for cut in (1, 16, len(blob) - 1):
        with pytest.raises(crypto.SealBroken):
            crypto.open_with_compartment_key(key, blob[:-cut], aad)
    assert crypto.open_with_compartment_key(key, blob, aad) == b"Ri Kyong-hui"


def test_padding_hides_the_exact_length():
    key = crypto.new_data_key()
    three, twenty = b"Kim", b"Kim Jong-suk, Hoeryo"
    assert (len(three), len(twenty)) == (3, 20)
    short = crypto.seal_for_compartment(key, three, b"a", version=1)
    long = crypto.seal_for_compartment(key, twenty, b"a", version=1)
    assert len(short) == len(long)
    # The padding is in blocks, not a fixed size: a longer text shows a coarse size.
    assert len(crypto.seal_for_compartment(key, b"x" * 40, b"a", version=1)) > len(short)


# --- through sealed fields -----------------------------------------------------------------------

TEXTS = ["", "Ri", "Choe Myong-ok", KOREAN, CHINESE, "😀 emoji\u200b", "x" * 2000]
JSON_VALUES = [
    {},
    [],
    {"given": True, "scope": KOREAN, "by": CHINESE, "n": 3, "nested": {"a": [1, None]}},
    "just a string",
    0,
    None,
]
BYTES_VALUES = [b"", b"\x00\xff" * 1000, os.urandom(70_000)]


def test_text_round_trips_through_a_sealed_field(small):
    with unlocked(small.ring):
        for text in TEXTS:
            traveller = Traveller.objects.get(pk=small.traveller.pk)
            traveller.description = text
            traveller.save()
            stored = raw_value(Traveller, "description", traveller.pk)
            assert stored is not None and is_sealed_blob(stored)
            if text:
                assert text.encode("utf-8") not in stored
            assert Traveller.objects.get(pk=traveller.pk).description == text


def test_json_round_trips_through_a_sealed_field(small):
    with unlocked(small.ring):
        for value in JSON_VALUES:
            case = Case.objects.get(pk=small.case.pk)
            case.consent = value
            case.save()
            assert Case.objects.get(pk=case.pk).consent == value
            stored = raw_value(Case, "consent", case.pk)
            assert stored is None if value is None else is_sealed_blob(stored)
            if value == JSON_VALUES[2]:
                assert KOREAN.encode() not in stored and b"scope" not in stored


def test_bytes_round_trip_through_a_sealed_field(small):
    with unlocked(small.ring):
        for data in BYTES_VALUES:
            handoff = Handoff.objects.get(pk=small.handoff.pk)
            handoff.photo = data
            handoff.save()
            assert Handoff.objects.get(pk=handoff.pk).photo == data
            if data:
                assert data[:64] not in raw_value(Handoff, "photo", handoff.pk)


def test_names_of_length_3_and_20_give_equal_ciphertext_length(small):
    with unlocked(small.ring):
        traveller = Traveller.objects.get(pk=small.traveller.pk)
        traveller.name = "Kim"
        traveller.alias = "Kim Jong-suk, Hoeryo"
        assert len(traveller.alias) == 20
        traveller.save()
    assert len(raw_value(Traveller, "name", traveller.pk)) == len(
        raw_value(Traveller, "alias", traveller.pk)
    )


# --- associated data: ciphertext cannot be moved ---------------------------------------------------


def test_ciphertext_moved_to_another_row_fails(small):
    with unlocked(small.ring):
        target = do_add_traveller(actor=small.coord, case=small.case, name="Decoy")
    write_raw_value(Traveller, "name", target.pk, raw_value(Traveller, "name", small.traveller.pk))
    with unlocked(small.ring):
        with pytest.raises(crypto.SealBroken):
            _ = Traveller.objects.get(pk=target.pk).name
        assert Traveller.objects.get(pk=small.traveller.pk).name == TRAVELLER_NAME


def test_ciphertext_moved_to_another_field_fails(small):
    pk = small.traveller.pk
    write_raw_value(Traveller, "alias", pk, raw_value(Traveller, "name", pk))
    with unlocked(small.ring):
        fetched = Traveller.objects.get(pk=pk)
        with pytest.raises(crypto.SealBroken):
            _ = fetched.alias
        assert fetched.name == TRAVELLER_NAME


def test_ciphertext_moved_to_another_compartment_fails(small):
    """Same row id, same field, and a key the reader holds: only the compartment
    differs, and that alone stops it opening."""
    pk = small.traveller.pk
    blob = raw_value(Traveller, "name", pk)
    other = small.other_case
    Traveller.objects.filter(pk=pk).update(case=other, compartment=other.compartment)
    # Give the blob the version the other compartment is at, as an attacker could.
    version = other.compartment.current_version
    write_raw_value(Traveller, "name", pk, blob[:1] + version.to_bytes(4, "big") + blob[5:])
    with unlocked(small.ring):
        assert small.ring.can_open(other.compartment_id)
        with pytest.raises(crypto.SealBroken):
            _ = Traveller.objects.get(pk=pk).name
    # Put back where it belongs (with its real header), it opens again.
    Traveller.objects.filter(pk=pk).update(case=small.case, compartment=small.case.compartment)
    write_raw_value(Traveller, "name", pk, blob)
    with unlocked(small.ring):
        assert Traveller.objects.get(pk=pk).name == TRAVELLER_NAME


def test_ciphertext_moved_between_organisations_fails(small):
    other = OrganisationFactory()
    blob = raw_value(Organisation, "name", small.org.pk)
    write_raw_value(Organisation, "name", other.organisation.pk, blob)
    with unlocked(other.keyring), pytest.raises(crypto.SealBroken):
        _ = Organisation.objects.get(pk=other.organisation.pk).name


def test_flipped_bytes_in_a_stored_field_fail(small):
    pk = small.traveller.pk
    blob = raw_value(Traveller, "name", pk)
    for position in (0, 7, len(blob) // 2, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[position] ^= 0x80
        write_raw_value(Traveller, "name", pk, bytes(tampered))
        with unlocked(small.ring), pytest.raises(crypto.SealBroken):
            _ = Traveller.objects.get(pk=pk).name
    write_raw_value(Traveller, "name", pk, blob)
    with unlocked(small.ring):
        assert Traveller.objects.get(pk=pk).name == TRAVELLER_NAME


def test_a_changed_version_is_reported_as_tampering_not_as_missing(small):
    """A holder reading a value whose version header was changed gets
    SealBroken (the integrity page), never Locked (a 404 that hides it)."""
    pk = small.traveller.pk
    blob = raw_value(Traveller, "name", pk)
    assert crypto.blob_version(blob) == 1
    for version in (0, 2, 2**31):
        write_raw_value(Traveller, "name", pk, blob[:1] + version.to_bytes(4, "big") + blob[5:])
        with unlocked(small.ring), pytest.raises(crypto.SealBroken):
            _ = Traveller.objects.get(pk=pk).name
    # Someone without the compartment still learns nothing but Locked.
    with unlocked(OrganisationFactory().keyring), pytest.raises(Locked):
        _ = Traveller.objects.get(pk=pk).name


# --- passwords and the Argon2id floor --------------------------------------------------------------


FLOOR = crypto.ARGON2_FLOOR


def test_wrong_password_raises_wrong_password():
    sealed = crypto.new_member_keypair(PASSWORD, FLOOR)
    private = crypto.open_private_key_with_password(
        sealed.sealed_private_key, PASSWORD, sealed.salt, FLOOR
    )
    assert crypto.keypair_from_private(private)[0] == sealed.public_key
    for wrong in ("correct horse battery stapl", PASSWORD + " ", "", PASSWORD.upper()):
        with pytest.raises(crypto.WrongPassword):
            crypto.open_private_key_with_password(
                sealed.sealed_private_key, wrong, sealed.salt, FLOOR
            )
    with pytest.raises(crypto.WrongPassword):
        crypto.open_private_key_with_password(
            sealed.sealed_private_key, PASSWORD, crypto.new_salt(), FLOOR
        )


def test_the_sealed_private_key_does_not_contain_the_key():
    _public, private = crypto.new_keypair()
    sealed, _salt = crypto.seal_private_key_with_password(private, PASSWORD, FLOOR)
    assert private not in sealed


@pytest.mark.parametrize(
    "params",
    [
        crypto.KdfParams(opslimit=1, memlimit=FLOOR.memlimit),
        crypto.KdfParams(opslimit=FLOOR.opslimit, memlimit=8 * 1024 * 1024),
        crypto.KdfParams(opslimit=FLOOR.opslimit, memlimit=FLOOR.memlimit - 1),
        crypto.KdfParams(opslimit=0, memlimit=0),
    ],
)
def test_kdf_floor_refuses_weak_parameters(params):
    with pytest.raises(crypto.ArgonTooWeak):
        crypto.check_kdf_floor(params)
    # Not only the check: the KDF itself refuses to run below the floor.
    with pytest.raises(crypto.ArgonTooWeak):
        crypto.seal_private_key_with_password(crypto.new_keypair()[1], PASSWORD, params)


def test_kdf_floor_accepts_the_floor_and_above():
    crypto.check_kdf_floor(FLOOR)
    crypto.check_kdf_floor(crypto.KdfParams(opslimit=3, memlimit=64 * 1024 * 1024))
    assert FLOOR.opslimit >= 2 and FLOOR.memlimit >= 19 * 1024 * 1024


def _start_django(tmp_path, settings_module: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SAFEPASSAGE_") and k != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        SAFEPASSAGE_VAR_DIR=str(tmp_path),
        SAFEPASSAGE_SECRET_KEY="subprocess-secret-key-for-start-up-checks-0123456789",
        SAFEPASSAGE_DISPATCH_KEY="11" * 32,
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_application_starts_with_sound_settings(tmp_path):
    """The control for the refusals below: the same start-up succeeds."""
    done = _start_django(tmp_path, "safepassage.settings.test")
    assert done.returncode == 0, done.stderr
    done = _start_django(tmp_path, "safepassage.settings.dev")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"SAFEPASSAGE_ARGON2_OPSLIMIT": "1"},
        {"SAFEPASSAGE_ARGON2_MEMLIMIT": str(8 * 1024 * 1024)},
    ],
)
def test_the_application_refuses_to_start_with_weak_kdf(tmp_path, env):
    done = _start_django(tmp_path, "safepassage.settings.test", **env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "below the floor" in done.stderr


@pytest.mark.parametrize("name", ["SAFEPASSAGE_SECRET_KEY", "SAFEPASSAGE_DISPATCH_KEY"])
def test_the_application_refuses_to_start_without_a_secret(tmp_path, name):
    done = _start_django(tmp_path, "safepassage.settings.dev", **{name: ""})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert name in done.stderr


# --- key wrapping and sessions ---------------------------------------------------------------------


def test_key_wrapped_for_a_holder_opens_only_with_their_private_key():
    public, private = crypto.new_keypair()
    _other_public, other_private = crypto.new_keypair()
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key_for_holder(public, data_key)
    assert data_key not in wrapped
    assert crypto.unwrap_key_as_holder(private, wrapped) == data_key
    with pytest.raises(crypto.SealBroken):
        crypto.unwrap_key_as_holder(other_private, wrapped)


def test_key_wrapped_under_a_parent_is_bound_to_its_grant():
    parent, child = crypto.new_data_key(), crypto.new_data_key()
    wrapped = crypto.wrap_key_under_parent(parent, child, b"grant|a|1|b|1")
    assert crypto.unwrap_key_with_parent(parent, wrapped, b"grant|a|1|b|1") == child
    with pytest.raises(crypto.SealBroken):
        crypto.unwrap_key_with_parent(parent, wrapped, b"grant|a|2|b|1")
    with pytest.raises(crypto.SealBroken):
        crypto.unwrap_key_with_parent(crypto.new_data_key(), wrapped, b"grant|a|1|b|1")


def test_session_seal_needs_the_session_key():
    session_key = crypto.new_session_key()
    blob = crypto.seal_for_session(session_key, b"private key material")
    assert crypto.open_with_session_key(session_key, blob) == b"private key material"
    with pytest.raises(crypto.SealBroken):
        crypto.open_with_session_key(crypto.new_session_key(), blob)
    with pytest.raises(crypto.SealBroken):
        crypto.decode_key("not a key")


# --- Shamir recovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "holders"), [(2, 3), (3, 5), (5, 5)])
def test_any_k_of_n_shares_rebuild_the_key_and_k_minus_1_do_not(threshold, holders):
    secret = crypto.new_data_key()
    shares = crypto.split_recovery_key(secret, threshold, holders)
    assert len(shares) == holders
    assert all(secret.hex() not in share for share in shares)
    for chosen in itertools.combinations(shares, threshold):
        assert crypto.combine_recovery_shares(list(chosen)) == secret
        assert crypto.combine_recovery_shares(list(reversed(chosen))) == secret
    for fewer in itertools.combinations(shares, threshold - 1):
        try:
            rebuilt = crypto.combine_recovery_shares(list(fewer))
        except crypto.VaultError:
            continue
        assert rebuilt != secret


@given(secret=st.binary(min_size=32, max_size=32))
@settings(max_examples=25, deadline=None)
def test_recovery_round_trips_any_secret(secret):
    shares = crypto.split_recovery_key(secret, 2, 3)
    assert crypto.combine_recovery_shares([shares[2], shares[0]]) == secret


def test_split_refuses_a_single_holder_threshold_and_bad_secrets():
    with pytest.raises(crypto.VaultError):
        crypto.split_recovery_key(crypto.new_data_key(), 1, 3)
    with pytest.raises(crypto.VaultError):
        crypto.split_recovery_key(crypto.new_data_key(), 4, 3)
    with pytest.raises(crypto.VaultError):
        crypto.split_recovery_key(b"short", 2, 3)


def test_malformed_shares_are_refused():
    shares = crypto.split_recovery_key(crypto.new_data_key(), 2, 3)
    index, hexed = shares[0].split("-", 1)
    malformed = [
        [shares[0], "garbage"],
        [shares[0], hexed],  # no index
        [shares[0], f"{index}-{hexed[:-2]}"],  # truncated
        [shares[0], f"{index}-{hexed}00"],  # too long
        [shares[0], f"{index}-{'zz' * 32}"],  # not hexadecimal
        [shares[0], f"x-{hexed}"],  # index not a number
        [shares[0], shares[0]],  # the same share twice
        [shares[0], f" {shares[0]} "],  # the same share, padded
    ]
    for given_shares in malformed:
        with pytest.raises(crypto.VaultError):
            crypto.combine_recovery_shares(given_shares)
