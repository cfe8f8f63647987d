"""How API requests prove who they are.

For now the API uses the web session: the same session cookie and vault
cookie as the pages (the vault middleware has already put the member's
keyring in force), with Django's CSRF check on writes. A request without a
session gets 401 with a ``WWW-Authenticate`` header, so clients see the same
status for "not signed in" whether they use a session or, later, a token.

Per-cell tokens will come as another authentication class here. Whatever it
returns as ``request.auth`` narrows what the request reaches through
``permissions.scope_of`` (a ``cell_id`` attribute limits it to one cell).
"""

from __future__ import annotations

from rest_framework import authentication

SCHEME = "Session"


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (with its CSRF check), answering 401 rather than 403."""

    def authenticate_header(self, request) -> str:
        return f'{SCHEME} realm="safepassage"'
