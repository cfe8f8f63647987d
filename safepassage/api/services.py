"""Issuing and revoking cell tokens, and recording check-ins that reached no leg.

A token is issued by a cell member for themselves, while logged in: their
private key is in the keyring in force, and it is sealed under a key derived
from the new token before the token is shown (once). The token is never
stored; only its digest is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.cells.models import Cell, CellStatus
from safepassage.core.errors import ServiceError
from safepassage.journeys.models import Leg
from safepassage.vault import crypto
from safepassage.vault.keyring import require

from .models import CellToken, token_aad

TOKEN_PREFIX = "spc_"  # noqa: S105 - a fixed prefix, not a secret
MAX_LABEL = 80
MAX_DAYS = 90
MAX_ACTIVE_TOKENS = 10


@dataclass(frozen=True)
class IssuedToken:
    record: CellToken
    token: str  # shown once, never stored


def new_token_text() -> str:
    """``spc_`` and 32 random bytes in URL-safe base64 (256 bits)."""
    return TOKEN_PREFIX + crypto.random_token(32)


def do_issue_cell_token(
    *, actor, cell: uuid.UUID | str, label: str, days: int = MAX_DAYS
) -> IssuedToken:
    """A token for ``actor`` to use from a bridge, reaching only ``cell``.

    ``actor`` must be an approved member of ``cell`` (an active cell) with
    their own keys in force (a logged-in session, not another token).
    """
    if not roles.is_cell_member(actor):
        raise ServiceError(_("Only a cell member can issue a token for a bridge."))
    label = (label or "").strip()
    if not label:
        raise ServiceError(_("Give the token a name, so that you can recognise it later."))
    if len(label) > MAX_LABEL:
        raise ServiceError(_("The name is too long (at most 80 characters)."))
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError(_("A token lasts from 1 to 90 days."))
    try:
        cell_id = uuid.UUID(str(cell))
    except ValueError:
        cell_id = None
    found = (
        Cell.objects.filter(
            pk=cell_id,
            organisation_id=actor.organisation_id,
            status=CellStatus.ACTIVE,
            memberships__member=actor,
        ).first()
        if cell_id is not None
        else None
    )
    if found is None:
        raise ServiceError(_("That is not one of your cells."))
    ring = require()
    private_key = ring.member_private_key
    if (
        ring.member_id != actor.pk
        or private_key is None
        or crypto.keypair_from_private(private_key)[0] != bytes(actor.public_key)
    ):
        raise ServiceError(_("Sign in again to issue a token."))
    now = timezone.now()
    with transaction.atomic():
        active = CellToken.objects.filter(
            member=actor, revoked_at__isnull=True, expires_at__gt=now
        ).count()
        if active >= MAX_ACTIVE_TOKENS:
            raise ServiceError(_("You have 10 tokens in use: revoke one before issuing another."))
        token = new_token_text()
        record = CellToken(
            organisation_id=actor.organisation_id,
            cell=found,
            member=actor,
            token_digest=crypto.token_digest(token),
            expires_at=now + timedelta(days=days),
        )
        record.sealed_label = crypto.seal_note_for_member(bytes(actor.public_key), label)
        record.sealed_private_key = crypto.seal_private_key_for_token(
            private_key,
            token,
            token_aad(token_id=record.pk, member_id=actor.pk, cell_id=found.pk),
        )
        record.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="api_token.issue",
            target=record,
            detail={"cell": str(found.pk), "days": days},
        )
    return IssuedToken(record=record, token=token)


def do_revoke_cell_token(*, actor, token: CellToken) -> CellToken:
    """End a token at once. Revoking a revoked token changes nothing."""
    if token.member_id != actor.pk:
        raise ServiceError(_("That token does not exist."))
    if token.revoked_at is not None:
        return token
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            organisation=actor.organisation, actor=actor, verb="api_token.revoke", target=token
        )
    return token


def record_unreachable_leg(*, actor, verb: str, leg_id, token_id: uuid.UUID | None) -> None:
    """Write to the audit log that ``actor`` sent a check-in or report for a leg
    their credential does not reach (unknown, another cell's, or outside the
    token's cell). The sender gets the common 404; the attempt stays on record."""
    target = (
        Leg.objects.filter(pk=leg_id, journey__case__organisation_id=actor.organisation_id).first()
        if leg_id is not None
        else None
    )
    detail = {"reason": "unreachable_leg"}
    if token_id is not None:
        detail["token"] = str(token_id)
    with transaction.atomic():
        audit.record(
            organisation=actor.organisation, actor=actor, verb=verb, target=target, detail=detail
        )
