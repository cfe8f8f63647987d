"""How API requests prove who they are.

Two credentials, tried in this order:

- ``Authorization: Bearer <token>``: a cell token (``models.CellToken``), for
  messaging bridges. The token opens the member's private key, sealed under
  it when it was issued, for this request only; ``request.auth`` is a
  ``TokenCredential`` whose ``cell_id`` narrows everything the request
  reaches to that one cell (``permissions.scope_of``). An unknown, expired
  or revoked token, or one whose member was removed, left the cell or whose
  cell is no longer active, gets 401. No CSRF check: nothing is sent by a
  browser on its own.
- the web session: the same session cookie and vault cookie as the pages
  (the vault middleware has already put the member's keyring in force),
  with Django's CSRF check on writes.

A request without either gets 401 with a ``WWW-Authenticate`` header naming
both schemes, whether the record it asks for exists or not.

The keyring a token opens is put in force by ``views.ApiView`` for the rest
of the view (DRF authenticates inside the view, after the middleware).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from safepassage import roles
from safepassage.cells.models import CellMembership, CellStatus
from safepassage.vault import crypto
from safepassage.vault.keyring import Keyring

from .models import CellToken

log = logging.getLogger("safepassage.api")

SCHEME = "Session"
TOKEN_SCHEME = "Bearer"  # noqa: S105 - the HTTP auth scheme name, not a secret
# ``last_used_at`` is written at most this often per token.
TOUCH_EVERY = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200

INVALID_TOKEN = _("This token is not valid: it is unknown, expired or revoked.")


@dataclass(frozen=True)
class TokenCredential:
    """``request.auth`` for a cell token: what it reaches and the keys it opened."""

    token_id: uuid.UUID
    cell_id: uuid.UUID
    keyring: Keyring = field(repr=False)


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (with its CSRF check), answering 401 rather than 403."""

    def authenticate_header(self, request) -> str:
        return f'{SCHEME} realm="safepassage"'


def _refused(token: CellToken | None, reason: str) -> exceptions.AuthenticationFailed:
    if token is not None:
        # Ids only: a refused use of a known token can mean a seized phone.
        log.warning("api token %s refused: %s", token.pk, reason)
    return exceptions.AuthenticationFailed(INVALID_TOKEN)


def open_token(text: str) -> tuple[object, TokenCredential]:
    """(member, credential) for a presented token, or AuthenticationFailed."""
    if not text or len(text) > MAX_TOKEN_LENGTH:
        raise _refused(None, "malformed")
    token = (
        CellToken.objects.select_related("member", "cell")
        .filter(token_digest=crypto.token_digest(text))
        .first()
    )
    if token is None:
        raise _refused(None, "unknown")
    now = timezone.now()
    if token.revoked_at is not None:
        raise _refused(token, "revoked")
    if token.expires_at <= now:
        raise _refused(token, "expired")
    member = token.member
    if (
        not roles.is_cell_member(member)
        or member.organisation_id != token.organisation_id
        or token.cell.organisation_id != token.organisation_id
        or token.cell.status != CellStatus.ACTIVE
        or not CellMembership.objects.filter(cell_id=token.cell_id, member=member).exists()
    ):
        raise _refused(token, "member or cell no longer entitled")
    try:
        private_key = crypto.open_private_key_with_token(
            bytes(token.sealed_private_key), text, token.aad
        )
    except crypto.SealBroken:
        raise _refused(token, "sealed key does not open") from None
    if crypto.keypair_from_private(private_key)[0] != bytes(member.public_key):
        # The member's key pair changed since the token was issued.
        raise _refused(token, "stale key")
    if token.last_used_at is None or token.last_used_at <= now - TOUCH_EVERY:
        CellToken.objects.filter(pk=token.pk).update(last_used_at=now)
    ring = Keyring(member_id=member.pk, member_private_key=private_key)
    return member, TokenCredential(token_id=token.pk, cell_id=token.cell_id, keyring=ring)


class CellTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``: a member acting through one cell's token."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != TOKEN_SCHEME.lower().encode("ascii"):
            return None
        if len(header) != 2:
            raise _refused(None, "malformed header")
        try:
            text = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise _refused(None, "malformed header") from None
        return open_token(text)

    def authenticate_header(self, request) -> str:
        return f'{TOKEN_SCHEME} realm="safepassage"'
