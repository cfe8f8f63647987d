"""Shared fixtures: a built organisation and a vault-aware login.

Tests marked ``slow`` run only with ``--runslow`` or ``SAFEPASSAGE_RUNSLOW=1``.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from safepassage.members import second_factor
from safepassage.vault import session as vault_session

from .factories import World, build_world, keyring_for


@pytest.fixture
def world(db) -> World:
    return build_world()


def vault_login(client, member, keyring) -> None:
    """Log ``member`` in on the test client with their key material in the session,
    exactly as the login view leaves it (a coordinator's second factor passed)."""
    client.force_login(member)
    session = client.session
    blob, cookie = vault_session.seal_session_material(keyring.member_private_key)
    session[vault_session.SESSION_BLOB] = blob
    session[vault_session.SESSION_MEMBER] = str(member.pk)
    # As after a right code from the authenticator app (coordinators).
    session[second_factor.SESSION_KEY] = str(member.pk)
    session.save()
    client.cookies[settings.VAULT_COOKIE_NAME] = cookie


@pytest.fixture
def login(client):
    """``login(member, keyring=None)`` logs the member in on ``client``."""

    def _login(member, keyring=None):
        vault_login(client, member, keyring or keyring_for(member))
        return client

    return _login


def pytest_addoption(parser):
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="also run tests marked slow (or set SAFEPASSAGE_RUNSLOW=1)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("SAFEPASSAGE_RUNSLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or SAFEPASSAGE_RUNSLOW=1")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
