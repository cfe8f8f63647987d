"""How the OpenAPI description names the API's two ways of authenticating."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "safepassage.api.authentication.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "Sign in through the login page. Every request carries the session "
                f"cookie and the `{settings.VAULT_COOKIE_NAME}` cookie (which opens the "
                "member's keys); writes also send the CSRF token in `X-CSRFToken`."
            ),
        }


class CellTokenScheme(OpenApiAuthenticationExtension):
    target_class = "safepassage.api.authentication.CellTokenAuthentication"
    name = "cellToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A token scoped to one cell, issued by a cell member for a messaging "
                "bridge (`POST /api/v1/tokens/`): `Authorization: Bearer <token>`. It "
                "reaches that cell's legs and the handoffs at their ends, nothing else."
            ),
        }

    def get_security_requirement(self, auto_schema):
        # Endpoints a cell token never reaches (coordinators', token management)
        # still recognise it, to answer 404, but do not offer it.
        if not getattr(auto_schema.view, "cell_token_reaches", True):
            return None
        return {self.name: []}
