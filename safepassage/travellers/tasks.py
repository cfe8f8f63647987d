"""Housekeeping the worker can run with nobody logged in."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from .models import LinkStatus, TravellerLink


def wipe_ended_links(now: datetime | None = None) -> int:
    """Wipe the traveller's copy (and the browser binding) of every link past
    its expiry, so that not even its URL opens anything any more. Completed
    and revoked links were wiped when they ended. Returns how many were wiped.

    Needs no key: it only clears ciphertext columns.
    """
    now = now or timezone.now()
    return TravellerLink.objects.filter(
        status__in=(LinkStatus.ISSUED, LinkStatus.OPENED),
        expires_at__lte=now,
        sealed_for_traveller__isnull=False,
    ).update(sealed_for_traveller=None, binding_digest="")
