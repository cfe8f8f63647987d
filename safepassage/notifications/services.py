"""A member's notification addresses, an organisation's internal webhook
hosts, and marking in-app notifications read."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.members.models import MemberStatus
from safepassage.vault import crypto

from . import egress
from .addresses import internal_hosts, seal_address, seal_internal_hosts
from .models import Channel, InternalWebhookHosts, Notification, NotificationAddress

MAX_INTERNAL_HOSTS = 20


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


def _webhook_refusal(code: str) -> str:
    """The member-facing reason for an ``egress.AddressRefused`` code."""
    if code == "bad-url":
        return _("Enter a valid https address.")
    if code == "http-not-internal":
        return _(
            "Use https. Plain http is allowed only for a host on your organisation's "
            "list of internal hosts."
        )
    if code == "dns":
        return _("This address's host name could not be found.")
    return _(
        "This address leads to a private, local or reserved network address. Use a public "
        "https address, or ask a coordinator to add the host to the list of internal hosts."
    )


def do_set_webhook(*, actor, url: str, secret: str | None = None) -> str:
    """Where to POST signed notifications (a messaging bridge). Returns the
    signing secret (a new one unless given), to be shown to the member once.

    The address must pass ``egress``'s rules: https to a host whose every
    address is public, or a host on the organisation's list of internal
    hosts. A given secret must be in the Standard Webhooks form (``whsec_``
    and base64 of 24 to 64 bytes)."""
    _require_member(actor)
    url = url.strip()
    try:
        target = egress.check_url(url, internal_hosts=internal_hosts(actor.organisation_id))
        egress.resolve_checked(target)
    except egress.AddressRefused as exc:
        raise ServiceError(_webhook_refusal(exc.code)) from exc
    secret = (secret or "").strip() or crypto.new_webhook_secret()
    if not crypto.webhook_secret_well_formed(secret):
        raise ServiceError(
            _("A webhook secret is whsec_ followed by the base64 of 24 to 64 random bytes.")
        )
    with transaction.atomic():
        _replace(actor, Channel.WEBHOOK, target=url, secret=secret)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="notifications.address",
            detail={"channel": Channel.WEBHOOK},
        )
    return secret


def do_set_internal_webhook_hosts(*, actor, hosts: list[str]) -> list[str]:
    """Set the organisation's internal webhook hosts (an empty list clears it).

    Only a coordinator: the list opens the organisation's own network to
    webhooks that any of its members set. Returns the hosts as stored
    (lower case, without duplicates, sorted)."""
    if not roles.is_coordinator(actor):
        raise ServiceError(_("Only a coordinator can change the internal webhook hosts."))
    cleaned: set[str] = set()
    for host in hosts:
        if not host.strip():
            continue
        try:
            name = egress.normalise_host(host)
        except ValueError as exc:
            raise ServiceError(
                _("“%(host)s” is not a host name.") % {"host": host.strip()[:100]}
            ) from exc
        if _is_address(name) and egress.refusal(name, internal=True):
            raise ServiceError(_("A cloud metadata address cannot be an internal host."))
        cleaned.add(name)
    if len(cleaned) > MAX_INTERNAL_HOSTS:
        raise ServiceError(_("At most %(count)d internal hosts.") % {"count": MAX_INTERNAL_HOSTS})
    stored = sorted(cleaned)
    with transaction.atomic():
        InternalWebhookHosts.objects.filter(organisation_id=actor.organisation_id).delete()
        if stored:
            row = InternalWebhookHosts(organisation_id=actor.organisation_id)
            seal_internal_hosts(row, stored)
            row.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="notifications.internal_hosts",
            detail={"count": len(stored)},
        )
    return stored


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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
