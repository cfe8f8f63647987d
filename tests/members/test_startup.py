"""Brute force, the other half: the application refuses to start when the
Argon2id cost (which every login pays) is set below the floor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

START = "import django; django.setup(); print('started')"


def _start(**env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "safepassage.settings.test",
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", START],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "cost",
    [
        {"SAFEPASSAGE_ARGON2_OPSLIMIT": "1"},
        {"SAFEPASSAGE_ARGON2_MEMLIMIT": str(8 * 1024 * 1024)},
    ],
)
def test_the_application_refuses_to_start_below_the_argon2id_floor(cost):
    result = _start(**cost)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert "below the floor" in result.stderr


def test_it_starts_at_the_floor():
    result = _start(
        SAFEPASSAGE_ARGON2_OPSLIMIT="2", SAFEPASSAGE_ARGON2_MEMLIMIT=str(19 * 1024 * 1024)
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
