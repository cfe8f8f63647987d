"""Reading a member's own notifications (nobody reads anyone else's)."""

from __future__ import annotations

from django.db.models import QuerySet

from safepassage import roles

from .addresses import internal_hosts
from .models import Notification, NotificationAddress


def notifications_for(member) -> QuerySet[Notification]:
    if not getattr(member, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(member=member).select_related("alert")


def unread_count(member) -> int:
    return notifications_for(member).filter(read_at__isnull=True).count()


def channels_set(member) -> set[str]:
    """Which channels the member has an address for (the addresses stay sealed)."""
    return set(NotificationAddress.objects.filter(member=member).values_list("channel", flat=True))


def internal_webhook_hosts(member) -> frozenset[str]:
    """The member's organisation's internal webhook hosts, for a coordinator
    (nobody else is shown the list)."""
    if not roles.is_coordinator(member):
        return frozenset()
    return internal_hosts(member.organisation_id)
