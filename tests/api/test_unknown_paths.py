"""Paths under /api/ that name no endpoint answer in JSON, like a missing record.

Found by the fuzzer (tests/api/test_fuzz.py): an id that is not a uuid
(``/api/v1/legs/null,null/``) matched no URL pattern and got the site's HTML
404 page, which the API's description does not allow.
"""

from __future__ import annotations

import pytest

from .helpers import NOT_FOUND, bearer, issue_token

PATHS = [
    "/api/v1/legs/null,null/",
    "/api/v1/legs/not-a-uuid/start/",
    "/api/v1/handoffs/12345/",
    "/api/v1/cases/%00/",
    "/api/v1/tokens/x/revoke/",
    "/api/v1/tokens/f%3A%0A%C3%84/revoke/",  # a newline in the id
    "/api/v1/no-such-endpoint/",
    "/api/v2/legs/",
]


def test_members_and_tokens_get_the_json_404_for_every_method(client, world, login):
    member, ring = world.member(0)
    token, _row = issue_token(member, ring, world.cells[0])
    login(world.coord, world.coord_keyring)
    for path in PATHS:
        for method in ("get", "post", "put", "patch", "delete", "options"):
            as_coordinator = getattr(client, method)(path)
            with_token = getattr(client, method)(path, headers=bearer(token))
            for who, response in (("coordinator", as_coordinator), ("token", with_token)):
                where = (who, method, path)
                assert response.status_code == 404, where
                assert response["Content-Type"] == "application/json", where
                assert response.json() == NOT_FOUND, where


@pytest.mark.django_db
def test_anonymous_gets_the_json_401(client):
    for path in PATHS:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response["Content-Type"] == "application/json", path
        assert "Bearer" in response["WWW-Authenticate"], path


def test_the_site_outside_the_api_keeps_its_html_404(client, world, login):
    login(world.coord, world.coord_keyring)
    response = client.get("/cases/not-a-uuid/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
