"""How the OpenAPI description names the API's authentication."""

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
