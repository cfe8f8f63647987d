"""The OpenAPI description: served, valid without warnings, and the committed
copy (docs/openapi.yaml) is what the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
REGENERATE = "safepassage spectacular --file docs/openapi.yaml"


def _generate(tmp_path: Path) -> str:
    out = tmp_path / "openapi.yaml"
    # --fail-on-warn: any warning fails; --validate: checked against the OpenAPI JSON Schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return out.read_text(encoding="utf-8")


def test_schema_is_valid_and_has_no_warnings(tmp_path):
    schema = yaml.safe_load(_generate(tmp_path))
    paths = set(schema["paths"])
    token_reaches = {
        "/api/v1/legs/",
        "/api/v1/legs/{leg}/",
        "/api/v1/legs/{leg}/start/",
        "/api/v1/legs/{leg}/handed-off/",
        "/api/v1/legs/{leg}/checkins/",
        "/api/v1/legs/{leg}/problems/",
        "/api/v1/handoffs/{handoff}/",
    }
    session_only = {
        "/api/v1/cases/",
        "/api/v1/cases/{case}/",
        "/api/v1/tokens/",
        "/api/v1/tokens/{token}/revoke/",
    }
    assert paths == token_reaches | session_only
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            expected = (
                [{"cellToken": []}, {"session": []}] if path in token_reaches else [{"session": []}]
            )
            assert operation["security"] == expected, (method, path)
            assert "401" in operation["responses"], (method, path)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["cellToken"]["type"] == "http" and schemes["cellToken"]["scheme"] == "bearer"


def test_committed_schema_is_up_to_date(tmp_path):
    assert COMMITTED.exists(), f"docs/openapi.yaml is missing: run `{REGENERATE}`"
    assert COMMITTED.read_text(encoding="utf-8") == _generate(tmp_path), (
        f"docs/openapi.yaml is out of date: run `{REGENERATE}`"
    )


@pytest.mark.django_db
def test_schema_is_served(client):
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["info"]["title"] == "safepassage API"
    assert "/api/v1/legs/" in schema["paths"]
