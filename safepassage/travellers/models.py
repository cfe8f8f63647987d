"""Traveller links: one step of a journey, for a traveller who has no account.

A coordinator of the case issues a link for one traveller. The link's URL
carries a random 256-bit token, and the token is the only key to what the
traveller is told. The server keeps:

- ``token_digest``: a digest of the token (``vault.crypto.token_digest``) to
  find the row; the token itself is shown once to the coordinator and never
  stored;
- ``sealed_for_traveller``: the step, the recognition signal and the time,
  sealed under a key derived from the token (``vault.crypto.seal_for_link_holder``),
  with the link's id as associated data. Nobody is logged in when the
  traveller opens the link, so no compartment key is available then; a
  database dump without the URL opens nothing. It is wiped when the link
  ends (completed, revoked, or found expired);
- ``plan``: the coordinators' own copy of the same, sealed in the case's
  compartment like any case record, so the case page can show it;
- ``binding_digest``: a digest of the random cookie that binds the link to
  the first browser that opened it. Another browser, without that cookie,
  is refused.

The traveller's button presses (``TravellerReport``) are plaintext kinds and
times only: the traveller holds no key to seal anything with, and the kind
is one of three fixed buttons.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safepassage.vault.fields import SealedField, SealedModel


def link_aad(*, link_id: uuid.UUID, case_id: uuid.UUID) -> bytes:
    """What the traveller's copy is bound to: moved to another row, it does not open."""
    return f"travellers.travellerlink|{link_id}|{case_id}".encode()


class LinkStatus(models.TextChoices):
    ISSUED = "issued", _("Not opened yet")
    OPENED = "opened", _("Opened")
    COMPLETED = "completed", _("Completed")
    REVOKED = "revoked", _("Revoked")


class LinkState(models.TextChoices):
    """What a link is at a given moment, expiry included (``TravellerLink.state``)."""

    ISSUED = "issued", _("Not opened yet")
    OPENED = "opened", _("Opened")
    COMPLETED = "completed", _("Completed")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


# A link in one of these states still works (for its own browser, once opened).
LIVE_STATES = (LinkState.ISSUED, LinkState.OPENED)


class TravellerLink(SealedModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="traveller_links")
    traveller = models.ForeignKey("cases.Traveller", on_delete=models.CASCADE, related_name="links")
    # The case's compartment: the coordinators' copy of the step is sealed in it.
    compartment = models.ForeignKey("vault.Compartment", on_delete=models.PROTECT, related_name="+")
    # {"step": str, "signal": str, "at": ISO time with offset or "", "zone": IANA name or "",
    #  "language": language code or ""}
    plan = SealedField(compartment="compartment", kind="json")
    token_digest = models.CharField(max_length=64, unique=True)
    sealed_for_traveller = models.BinaryField(null=True, blank=True)
    binding_digest = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=20, choices=LinkStatus.choices, default=LinkStatus.ISSUED)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Openings refused because another browser holds the link, or after revocation.
    refused_openings = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"traveller link {self.pk}"

    @property
    def aad(self) -> bytes:
        return link_aad(link_id=self.pk, case_id=self.case_id)

    def state_at(self, now: datetime) -> str:
        """The link's state at ``now``: an ended status wins over expiry."""
        if self.status == LinkStatus.REVOKED:
            return LinkState.REVOKED
        if self.status == LinkStatus.COMPLETED:
            return LinkState.COMPLETED
        if self.expires_at <= now:
            return LinkState.EXPIRED
        return LinkState(self.status)

    @property
    def state(self) -> str:
        return self.state_at(timezone.now())

    def get_state_display(self) -> str:
        return str(LinkState(self.state).label)

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES


class ReportKind(models.TextChoices):
    OUT = "out", _("I am out")
    IN_CAR = "in_car", _("I am in the car")
    WRONG = "wrong", _("Something is wrong")
    # Not a button: the link was opened again from a browser that does not hold it.
    REFUSED_OPENING = "refused_opening", _("Opened again from another browser")


# The buttons on the traveller's page, in the order shown.
BUTTONS = (ReportKind.OUT, ReportKind.IN_CAR, ReportKind.WRONG)


class TravellerReport(models.Model):
    """A button the traveller pressed, or a refused opening of their link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    link = models.ForeignKey(TravellerLink, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    at = models.DateTimeField()
    alert = models.ForeignKey(
        "alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at"]
