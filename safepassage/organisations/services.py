"""Creating an organisation, and recovering access with k of n recovery shares."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.roles import Role
from safepassage.vault import crypto
from safepassage.vault import services as vault
from safepassage.vault.keyring import Keyring, unlocked
from safepassage.vault.models import Compartment, CompartmentKind

from .models import Organisation


@dataclass
class NewOrganisation:
    organisation: Organisation
    founder: object
    keyring: Keyring
    recovery_shares: list[str]


def do_create_organisation(
    *,
    actor=None,
    name: str,
    founder_handle: str,
    founder_password: str,
    founder_display_name: str,
    recovery_threshold: int = 2,
    recovery_holders: int = 3,
) -> NewOrganisation:
    """Create an organisation and its first coordinator.

    Returns the recovery shares: they are shown once, never stored. Any
    ``recovery_threshold`` of them recover every case and the coordinators'
    compartment. ``actor`` is None (the command line or the set-up page).
    """
    with transaction.atomic():
        new = new_organisation(
            name=name,
            founder_password=founder_password,
            founder_display_name=founder_display_name,
            recovery_threshold=recovery_threshold,
            recovery_holders=recovery_holders,
            handle=founder_handle,
        )
        audit.record(
            organisation=new.organisation,
            actor=new.founder,
            verb="organisation.create",
            target=new.organisation,
        )
    return new


def new_organisation(
    *,
    name: str,
    founder_password: str,
    founder_display_name: str,
    recovery_threshold: int = 2,
    recovery_holders: int = 3,
    **founder_fields: Any,
) -> NewOrganisation:
    """The rows of a new organisation and its founder (an active member who
    holds the coordinators' compartment), without its audit entry: the caller
    records ``organisation.create`` in the same transaction.

    ``founder_fields`` are the founder's model fields (``handle``; the
    account a duress password opens also its ``decoy_of``, ``role``...).
    """
    from safepassage.members.models import Member, MemberStatus
    from safepassage.members.services import new_member_key_fields

    if not 2 <= recovery_threshold <= recovery_holders:
        raise ServiceError(
            _("Recovery needs at least two share holders, and no more than the number of shares.")
        )
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("new_organisation must run inside the caller's transaction")
    recovery_public, recovery_private = crypto.new_keypair()
    shares = crypto.split_recovery_key(recovery_private, recovery_threshold, recovery_holders)
    audit_public, audit_private = crypto.new_keypair()
    keyring = Keyring()
    with unlocked(keyring):
        org = Organisation(
            id=uuid.uuid4(),
            audit_public_key=audit_public,
            recovery_public_key=recovery_public,
            recovery_threshold=recovery_threshold,
            recovery_holders=recovery_holders,
        )
        org.coordinators_compartment = vault.create_compartment(
            organisation=org,
            kind=CompartmentKind.COORDINATORS,
            keyring=keyring,
            recovery_public_key=recovery_public,
        )
        org.name = name
        org.audit_private_key = audit_private
        org.save()
        key_fields, private_key = new_member_key_fields(founder_password)
        founder = Member(
            organisation=org,
            **{"role": Role.COORDINATOR, **founder_fields},
            status=MemberStatus.ACTIVE,
            **key_fields,
        )
        founder.set_password(founder_password)
        founder.display_name = founder_display_name
        founder.save()
        vault.grant_to_member(
            compartment=org.coordinators_compartment, member=founder, keyring=keyring
        )
        keyring.member_id = founder.pk
        keyring.member_private_key = private_key
    return NewOrganisation(org, founder, keyring, shares)


def recovery_keyring(*, organisation: Organisation, shares: list[str]) -> Keyring:
    """A keyring holding the organisation's recovery key, rebuilt from shares.

    Raises ServiceError if the shares do not rebuild the key.
    """
    try:
        private_key = crypto.combine_recovery_shares(shares)
    except crypto.VaultError as exc:
        raise ServiceError(str(exc)) from exc
    public, _private = crypto.keypair_from_private(private_key)
    if not organisation.recovery_public_key or not crypto.constant_time_equal(
        public, bytes(organisation.recovery_public_key)
    ):
        raise ServiceError(_("These shares do not rebuild this organisation's recovery key."))
    return Keyring(recovery={organisation.pk: private_key})


def do_recover_access(*, actor=None, organisation: Organisation, shares: list[str], member) -> int:
    """Grant ``member`` (a coordinator) every recoverable compartment of the organisation.

    For a coordinator who lost their password: the new account is invited
    normally, then ``threshold`` share holders rebuild the recovery key and
    hand it every case. Returns the number of compartments granted.
    """
    from safepassage.cases.models import Case, CaseCoordinator

    if member.organisation_id != organisation.pk or member.role != Role.COORDINATOR:
        raise ServiceError(
            _("Only a coordinator of this organisation can be given recovered access.")
        )
    keyring = recovery_keyring(organisation=organisation, shares=shares)
    granted = 0
    with transaction.atomic(), unlocked(keyring):
        recoverable = Compartment.objects.filter(
            organisation=organisation, kind__in=[CompartmentKind.COORDINATORS, CompartmentKind.CASE]
        )
        keyring.load(c.id for c in recoverable)
        for compartment in recoverable:
            if keyring.can_open(compartment.id):
                vault.grant_to_member(compartment=compartment, member=member, keyring=keyring)
                granted += 1
        for case in Case.objects.filter(organisation=organisation):
            CaseCoordinator.objects.get_or_create(case=case, member=member)
        audit.record(
            organisation=organisation,
            actor=actor or member,
            verb="organisation.recover",
            target=member,
            detail={"compartments": granted},
        )
    return granted
