"""The command-line set-up and recovery of a real organisation."""

import io

import pytest
from django.core.management import CommandError, call_command

from safepassage.cases.models import Case
from safepassage.members.models import Member
from safepassage.roles import Role

from ..factories import PASSWORD, keyring_for, make_member


@pytest.mark.django_db
def test_create_organisation_prints_shares_once_and_logs_in(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    out = io.StringIO()
    call_command(
        "create_organisation",
        "--name=Harbour Light",
        "--handle=founder.one",
        "--display-name=Founder One",
        "--password-stdin",
        "--threshold=2",
        "--holders=3",
        stdout=out,
    )
    text = out.getvalue()
    shares = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    assert len(shares) == 3
    founder = Member.objects.get(handle="founder.one")
    assert founder.role == Role.COORDINATOR
    assert keyring_for(founder).load_everything()  # the password opens the new keys


@pytest.mark.django_db
def test_create_organisation_refuses_a_weak_password(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CommandError):
        call_command(
            "create_organisation", "--name=X", "--handle=h1", "--display-name=Y", "--password-stdin"
        )
    assert not Member.objects.filter(handle="h1").exists()


@pytest.mark.django_db
def test_recover_access_grants_every_case_from_two_shares(world, monkeypatch):
    newcomer, newcomer_ring = make_member(
        world.coord, world.coord_keyring, role=Role.COORDINATOR, display_name="Replacement"
    )
    assert not any(
        c in newcomer_ring.load_everything()
        for c in Case.objects.values_list("compartment_id", flat=True)
    )
    answers = iter(world.recovery_shares[1:3])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    call_command("recover_access", f"--handle={newcomer.handle}", stdout=io.StringIO())
    opened = keyring_for(newcomer, PASSWORD).load_everything()
    assert set(Case.objects.values_list("compartment_id", flat=True)) <= opened


@pytest.mark.django_db
def test_recover_access_refuses_wrong_shares(world, monkeypatch):
    answers = iter([world.recovery_shares[0], world.recovery_shares[0]])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError):
        call_command("recover_access", f"--handle={world.coord2.handle}", stdout=io.StringIO())
