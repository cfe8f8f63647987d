"""A member's notification addresses, and marking in-app notifications read."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.members.models import MemberStatus
from safepassage.vault import crypto

from .addresses import seal_address
from .models import Channel, Notification, NotificationAddress

_webhook_url = URLValidator(schemes=["https", "http"])


def _require_member(actor) -> None:
    if not getattr(actor, "is_authenticated", False) or actor.status != MemberStatus.ACTIVE:
        raise ServiceError(_("Only an approved member can do this."))


def do_set_email_address(*, actor, email: str) -> None:
    """Where to send "something needs you" emails. A pseudonymous mailbox is best."""
    _require_member(actor)
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ServiceError(_("Enter a valid email address.")) from exc
    with transaction.atomic():
        _replace(actor, Channel.EMAIL, target=email, secret=None)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="notifications.address",
            detail={"channel": Channel.EMAIL},
        )


def do_set_webhook(*, actor, url: str, secret: str | None = None) -> str:
    """Where to POST signed notifications (a messaging bridge). Returns the
    signing secret (a new one unless given), to be shown to the member once."""
    _require_member(actor)
    url = url.strip()
    try:
        _webhook_url(url)
    except ValidationError as exc:
        raise ServiceError(_("Enter a valid http or https address.")) from exc
    secret = (secret or "").strip() or crypto.new_webhook_secret()
    if len(secret) < 16:
        raise ServiceError(_("A webhook secret has at least 16 characters."))
    with transaction.atomic():
        _replace(actor, Channel.WEBHOOK, target=url, secret=secret)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="notifications.address",
            detail={"channel": Channel.WEBHOOK},
        )
    return secret


def _replace(actor, channel: str, *, target: str, secret: str | None) -> None:
    NotificationAddress.objects.filter(member=actor, channel=channel).delete()
    address = NotificationAddress(member=actor, channel=channel)
    seal_address(address, target=target, secret=secret)
    address.save()


def do_remove_address(*, actor, channel: str) -> None:
    _require_member(actor)
    if channel not in Channel.values:
        raise ServiceError(_("Unknown channel."))
    with transaction.atomic():
        NotificationAddress.objects.filter(member=actor, channel=channel).delete()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="notifications.address_removed",
            detail={"channel": channel},
        )


def do_mark_notifications_read(*, actor, now: datetime | None = None) -> int:
    _require_member(actor)
    with transaction.atomic():
        count = Notification.objects.filter(member=actor, read_at__isnull=True).update(
            read_at=now or timezone.now()
        )
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="notifications.read",
            detail={"count": count},
        )
    return count
