"""Fuzzing the API against its own OpenAPI description (schemathesis).

Every operation in the description the application serves (``/api/schema/``)
is called in process with generated requests, valid and invalid (wrong types,
missing and extra fields, strings where uuids go, undeclared methods), by three
personas: a coordinator's web session (session, vault and CSRF cookies), a
cell member's web session (the token endpoints are theirs) and that member's
cell token (``Authorization: Bearer``). Ids in paths and bodies are generated,
or as often the ids of a built organisation's real records (both legs, the
handoffs, both cases, the cells, the token), so requests reach the services
and not only the 404.

Every answer must be:

- never a server error (5xx);
- a status the description lists for the operation, with its declared content
  type, headers and body schema;
- a rejection (4xx) whenever the request broke the description.

``make test`` runs a bounded, derandomised number of examples, each persona on
the operations meant for it; the ``slow`` variant (``--runslow``) runs every
persona on every operation with many random examples
(``SAFEPASSAGE_FUZZ_MANY_EXAMPLES``, default 300).
"""

from __future__ import annotations

import json
import os
import re

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.test import Client
from django.utils.crypto import get_random_string
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from safepassage.journeys.models import Handoff

from ..conftest import vault_login
from ..factories import build_world
from .helpers import issue_token, start_journey

# What every answer is checked for. Not run: positive_data_acceptance (a
# well-formed request the services refuse, such as starting a leg twice, is a
# documented 400) and ignored_auth (the personas' credentials are sent as plain
# headers and cookies, which its probes cannot take away; tests/api/
# test_permissions.py covers the 401s).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    allow_header_conformance,
]
# A persona the endpoint is not for gets 404 whatever the method (a 405 would
# confirm the endpoint is there for someone); so the undeclared-method check
# runs only where the persona is entitled.
ENTITLED_CHECKS = [*CHECKS, unsupported_method]

EXAMPLES = int(os.environ.get("SAFEPASSAGE_FUZZ_EXAMPLES", "15"))
MANY_EXAMPLES = int(os.environ.get("SAFEPASSAGE_FUZZ_MANY_EXAMPLES", "300"))
COMMON = {
    "deadline": None,
    "database": None,  # no example store under the checkout
    "suppress_health_check": list(HealthCheck),
}


def _session(member, keyring) -> tuple[dict[str, str], dict[str, str]]:
    """(cookies, headers) of a signed-in browser: session, vault and CSRF cookies,
    and the CSRF header that writes need."""
    client = Client()
    vault_login(client, member, keyring)
    csrf = get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS)
    names = django_settings
    cookies = {
        names.SESSION_COOKIE_NAME: client.cookies[names.SESSION_COOKIE_NAME].value,
        names.VAULT_COOKIE_NAME: client.cookies[names.VAULT_COOKIE_NAME].value,
        names.CSRF_COOKIE_NAME: csrf,
    }
    return cookies, {"X-CSRFToken": csrf}


class Fuzz:
    """The organisation the fuzzer runs against, and how each persona signs in."""

    def __init__(self) -> None:
        self.world = build_world()
        world = self.world
        start_journey(world)
        member, ring = world.member(0)
        self.token, self.token_row = issue_token(member, ring, world.cells[0])
        self.coordinator = _session(world.coord, world.coord_keyring)
        self.cell_member = _session(member, ring)
        handoffs = Handoff.objects.filter(journey=world.journey)
        self.ids = {
            "leg": [str(leg.pk) for leg in world.legs],
            "handoff": [str(h.pk) for h in handoffs],
            "case": [str(world.case.pk), str(world.other_case.pk)],
            "token": [str(self.token_row.pk)],
            "cell": [str(cell.pk) for cell in world.cells],
        }


# Ids of the records of the organisation in force (set by the ``fuzz`` fixture).
REAL_IDS: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def fuzz(django_db_setup, django_db_blocker):
    """One organisation for the whole module (building it takes seconds), inside a
    transaction rolled back at the end; each test's own changes are rolled back
    after it by the ``db`` fixture (a savepoint inside this transaction).

    The requests go straight to the WSGI application, so, as Django's test
    client does, the connection is not closed at each request's start and end:
    it holds this transaction (on PostgreSQL closing it would end the test's
    transaction under the request; SQLite's in-memory database never closes)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            built = Fuzz()
            REAL_IDS.clear()
            REAL_IDS.update(built.ids)
            yield built
            REAL_IDS.clear()
            transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _description() -> dict:
    """The OpenAPI description the application serves at /api/schema/."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


# Credentials are the personas' own (below), never generated: a generated
# bearer token or session cookie would only ever meet the 401.
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
schema = schemathesis.openapi.from_dict(_description(), config=CONFIG)


CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _is_uuid(value) -> bool:
    """A uuid in its canonical form (what ``format: uuid`` accepts)."""
    return isinstance(value, str) and CANONICAL_UUID.fullmatch(value) is not None


def _sometimes_real(values):
    """``values`` as generated, or (as often) with each id that names a kind of
    record replaced by the id of a real one (a record the persona may or may
    not see), so that requests get past the 404 and reach the services.

    Only an id generated as a valid uuid is replaced: an invalid one is what
    makes a negative case negative, and must reach the API as generated."""
    if not isinstance(values, dict):
        return st.just(values)  # no parameters, or a body that is not an object
    real = {
        name: REAL_IDS[name]
        for name, value in values.items()
        if REAL_IDS.get(name) and _is_uuid(value)
    }
    if not real:
        return st.just(values)
    chosen = st.fixed_dictionaries({name: st.sampled_from(ids) for name, ids in real.items()})
    return st.one_of(st.just(values), chosen.map(lambda ids: {**values, **ids}))


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    return _sometimes_real(path_parameters)


@schema.hook
def flatmap_body(context, body):
    return _sometimes_real(body)  # e.g. the cell a token is issued for


APP = WSGIHandler()


COORDINATOR_OPERATIONS = schema.exclude(path_regex=r"^/api/v1/tokens/")
TOKEN_OPERATIONS = schema.include(path_regex=r"^/api/v1/(legs|handoffs)/")
CELL_MEMBER_OPERATIONS = schema.include(path_regex=r"^/api/v1/tokens/")


def _as_coordinator(case, fuzz: Fuzz, checks=CHECKS) -> None:
    cookies, headers = fuzz.coordinator
    case.call_and_validate(app=APP, headers=headers, cookies=cookies, checks=checks)


def _as_cell_member(case, fuzz: Fuzz, checks=CHECKS) -> None:
    cookies, headers = fuzz.cell_member
    case.call_and_validate(app=APP, headers=headers, cookies=cookies, checks=checks)


def _with_cell_token(case, fuzz: Fuzz, checks=CHECKS) -> None:
    headers = {"Authorization": f"Bearer {fuzz.token}"}
    case.call_and_validate(app=APP, headers=headers, checks=checks)


# The bounded run (``make test``): each persona against the operations meant for it.


@pytest.mark.django_db
@COORDINATOR_OPERATIONS.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, **COMMON)
def test_api_as_coordinator(case, fuzz):
    _as_coordinator(case, fuzz, ENTITLED_CHECKS)


@pytest.mark.django_db
@TOKEN_OPERATIONS.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, **COMMON)
def test_api_with_cell_token(case, fuzz):
    _with_cell_token(case, fuzz, ENTITLED_CHECKS)


@pytest.mark.django_db
@CELL_MEMBER_OPERATIONS.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, **COMMON)
def test_api_as_cell_member(case, fuzz):
    _as_cell_member(case, fuzz, ENTITLED_CHECKS)


# The long run (``--runslow``): every persona against every operation, many examples.


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MANY_EXAMPLES, **COMMON)
def test_api_as_coordinator_many(case, fuzz):
    _as_coordinator(case, fuzz)


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MANY_EXAMPLES, **COMMON)
def test_api_with_cell_token_many(case, fuzz):
    _with_cell_token(case, fuzz)


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MANY_EXAMPLES, **COMMON)
def test_api_as_cell_member_many(case, fuzz):
    _as_cell_member(case, fuzz)
