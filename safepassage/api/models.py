"""API tokens scoped to one cell, for messaging bridges.

A cell member issues a token for themselves while logged in. The token acts
with that member's keys, but only on that one cell's legs (and the handoffs
at their ends), and never on a coordinators' endpoint. The server keeps:

- a digest of the token (``vault.crypto.token_digest``) to find the row; the
  token itself is shown once and never stored;
- the member's private key sealed under a key derived from the token
  (``vault.crypto.seal_private_key_for_token``): each request with the token
  opens it for that request only, and a database dump without the token
  opens nothing;
- the label the member gave it, sealed to the member's own public key
  (``vault.crypto.seal_note_for_member``): a label such as "Signal on the
  blue phone" says too much to stay plaintext. It is not a ``SealedField``
  in the coordinators' compartment because the cell member who writes it
  does not hold that compartment's key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from safepassage.vault import crypto
from safepassage.vault.keyring import Keyring


def token_aad(*, token_id: uuid.UUID, member_id: uuid.UUID, cell_id: uuid.UUID) -> bytes:
    """What the sealed private key is bound to: moved to another row, it does not open."""
    return f"api.celltoken|{token_id}|{member_id}|{cell_id}".encode()


class CellToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="api_tokens")
    # The cell member the token acts as (an approved member of ``cell``).
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    sealed_label = models.BinaryField()
    token_digest = models.CharField(max_length=64, unique=True)
    sealed_private_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.pk}"

    @property
    def aad(self) -> bytes:
        return token_aad(token_id=self.pk, member_id=self.member_id, cell_id=self.cell_id)

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def label_for(self, ring: Keyring | None) -> str | None:
        """The label, opened with ``ring`` if it is the owner's; None otherwise."""
        if ring is None or ring.member_id != self.member_id or not ring.member_private_key:
            return None
        return crypto.open_note_as_member(ring.member_private_key, bytes(self.sealed_label))
