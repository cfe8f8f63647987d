"""Writing notifications and their outbox rows, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from .models import Delivery, Notification, NotificationAddress, Topic


def notify(
    *,
    alert,
    member_ids: Iterable[uuid.UUID],
    level: int,
    now: datetime,
    cache: dict | None = None,
    fresh: bool = False,
) -> set[uuid.UUID]:
    """Tell each member about ``alert`` in the app and queue a delivery for each
    address they have. A member already told about the alert is not told again
    (``fresh``: the alert is new, nobody has been told yet). ``cache`` is a
    dict the caller keeps for one transaction. Returns the members notified now."""
    wanted = set(member_ids)
    if not wanted:
        return set()
    already: set[uuid.UUID] = set()
    if not fresh:
        already = set(
            Notification.objects.filter(alert=alert, member_id__in=wanted).values_list(
                "member_id", flat=True
            )
        )
    new = wanted - already
    if not new:
        return set()
    notifications = Notification.objects.bulk_create(
        [
            Notification(
                organisation_id=alert.organisation_id,
                member_id=member_id,
                alert=alert,
                level=level,
                created_at=now,
            )
            for member_id in sorted(new)
        ]
    )
    by_member = {n.member_id: n for n in notifications}
    deliveries = [
        Delivery(notification=by_member[member_id], channel=channel, next_attempt_at=now)
        for member_id, channel in _channels(new, cache)
    ]
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
    return new


def notify_topic(
    *,
    organisation_id: uuid.UUID,
    member_ids: Iterable[uuid.UUID],
    topic: str,
    now: datetime,
) -> set[uuid.UUID]:
    """Tell each member the fixed sentence of ``topic`` in the app (in their
    language, when they read it) and queue a delivery for each address they
    have. A delivery says only the fixed "Something needs you in
    safepassage", like every other: a messaging operator learns nothing of
    the topic. Returns the members told."""
    if topic not in Topic.values:
        raise ValueError(f"unknown notification topic {topic!r}")
    wanted = set(member_ids)
    if not wanted:
        return set()
    notifications = Notification.objects.bulk_create(
        [
            Notification(
                organisation_id=organisation_id,
                member_id=member_id,
                topic=topic,
                created_at=now,
            )
            for member_id in sorted(wanted)
        ]
    )
    by_member = {n.member_id: n for n in notifications}
    deliveries = [
        Delivery(notification=by_member[member_id], channel=channel, next_attempt_at=now)
        for member_id, channel in _channels(wanted, None)
    ]
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
    return wanted


def _channels(member_ids: set[uuid.UUID], cache: dict | None) -> list[tuple[uuid.UUID, str]]:
    key = ("channels", frozenset(member_ids))
    if cache is not None and key in cache:
        return cache[key]
    rows = list(
        NotificationAddress.objects.filter(member_id__in=member_ids).values_list(
            "member_id", "channel"
        )
    )
    if cache is not None:
        cache[key] = rows
    return rows
