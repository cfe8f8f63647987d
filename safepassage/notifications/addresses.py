"""Sealing and opening notification addresses under the dispatch key."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings

from safepassage.vault import crypto

from .models import Channel, InternalWebhookHosts, NotificationAddress


def dispatch_key() -> bytes:
    return crypto.dispatch_key_from_hex(settings.SAFEPASSAGE_DISPATCH_KEY)


def _aad(address: NotificationAddress, field: str) -> bytes:
    return f"notifications.notificationaddress|{address.pk}|{field}|{address.member_id}|{address.channel}".encode()


def seal_address(address: NotificationAddress, *, target: str, secret: str | None) -> None:
    """Set the sealed columns of ``address`` (its id, member and channel must be set)."""
    key = dispatch_key()
    address.sealed_target = crypto.seal_for_dispatcher(
        key, target.encode("utf-8"), _aad(address, "target")
    )
    address.sealed_secret = (
        crypto.seal_for_dispatcher(key, secret.encode("utf-8"), _aad(address, "secret"))
        if secret
        else None
    )


@dataclass(frozen=True)
class OpenedAddress:
    channel: str
    target: str
    secret: str | None

    def __repr__(self) -> str:  # never print an address into a log
        return f"OpenedAddress(channel={self.channel!r})"


def open_address(address: NotificationAddress) -> OpenedAddress:
    """The address in clear (raises SealBroken when it was altered or moved)."""
    key = dispatch_key()
    target = crypto.open_as_dispatcher(
        key, bytes(address.sealed_target), _aad(address, "target")
    ).decode("utf-8")
    secret = None
    if address.sealed_secret:
        secret = crypto.open_as_dispatcher(
            key, bytes(address.sealed_secret), _aad(address, "secret")
        ).decode("utf-8")
    return OpenedAddress(channel=address.channel, target=target, secret=secret)


def _hosts_aad(organisation_id) -> bytes:
    return f"notifications.internalwebhookhosts|{organisation_id}|hosts".encode()


def seal_internal_hosts(row: InternalWebhookHosts, hosts: list[str]) -> None:
    """Set ``row.sealed_hosts`` (its organisation must be set)."""
    row.sealed_hosts = crypto.seal_for_dispatcher(
        dispatch_key(), json.dumps(sorted(hosts)).encode("utf-8"), _hosts_aad(row.organisation_id)
    )


def internal_hosts(organisation_id) -> frozenset[str]:
    """The organisation's internal webhook hosts in clear (empty when none are
    set; raises SealBroken when the row was altered or moved)."""
    row = InternalWebhookHosts.objects.filter(organisation_id=organisation_id).first()
    if row is None:
        return frozenset()
    plain = crypto.open_as_dispatcher(
        dispatch_key(), bytes(row.sealed_hosts), _hosts_aad(organisation_id)
    )
    return frozenset(json.loads(plain))


__all__ = [
    "Channel",
    "OpenedAddress",
    "internal_hosts",
    "open_address",
    "seal_address",
    "seal_internal_hosts",
]
