"""Members: invitations, approval, cell membership, login, password change and preferences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.roles import Role
from safepassage.vault import crypto, session
from safepassage.vault import services as vault
from safepassage.vault.checks import kdf_params
from safepassage.vault.keyring import Keyring, require

from . import preferences
from .models import Invitation, Member, MemberStatus

INVITATION_LIFETIME = timedelta(days=3)


def new_member_key_fields(password: str) -> tuple[dict[str, Any], bytes]:
    """A fresh key pair for a member: (model fields, private key).

    The private key is returned so the caller can put it in force for the
    rest of the request; it is never stored unsealed.
    """
    params = kdf_params()
    public_key, private_key = crypto.new_keypair()
    sealed, salt = crypto.seal_private_key_with_password(private_key, password, params)
    return (
        {
            "public_key": public_key,
            "sealed_private_key": sealed,
            "kdf_salt": salt,
            "kdf_opslimit": params.opslimit,
            "kdf_memlimit": params.memlimit,
        },
        private_key,
    )


def unlock_private_key(member: Member, password: str) -> bytes:
    """The member's private key from their password, or crypto.WrongPassword."""
    return crypto.open_private_key_with_password(
        bytes(member.sealed_private_key),
        password,
        bytes(member.kdf_salt),
        crypto.KdfParams(opslimit=member.kdf_opslimit, memlimit=member.kdf_memlimit),
    )


# --- login ------------------------------------------------------------------------


def log_in(request: HttpRequest, *, handle: str, password: str) -> Member | None:
    """Authenticate, unlock the member's keys into the session, and return them.

    Returns None for a wrong handle or password without touching any key
    material. Coordinators also complete grants and rotations waiting on them.
    """
    member = authenticate(request, username=handle, password=password)
    if member is None or not isinstance(member, Member):
        return None
    try:
        private_key = unlock_private_key(member, password)
    except crypto.WrongPassword:
        return None
    login(request, member)
    keyring = session.open_session(request, member_id=member.pk, private_key=private_key)
    with transaction.atomic():
        audit.record(
            organisation=member.organisation, actor=member, verb="member.login", target=member
        )
    if member.is_approved:
        catch_up_keys(member=member, keyring=keyring)
    return member


def catch_up_keys(*, member: Member, keyring: Keyring) -> None:
    """Wrap keys for members waiting on compartments this keyring opens, and
    rotate compartments whose former holders were removed."""
    vault.fulfil_pending_grants(keyring=keyring, organisation_id=member.organisation_id)
    vault.rotate_due(keyring=keyring, organisation_id=member.organisation_id)


def log_out(request: HttpRequest) -> None:
    session.close_session(request)
    logout(request)


def do_change_password(*, actor: Member, current_password: str, new_password: str) -> None:
    """Re-seal the actor's private key under the new password."""
    try:
        private_key = unlock_private_key(actor, current_password)
    except crypto.WrongPassword:
        raise ServiceError(_("The current password is not correct.")) from None
    params = kdf_params()
    sealed, salt = crypto.seal_private_key_with_password(private_key, new_password, params)
    with transaction.atomic():
        actor.sealed_private_key = sealed
        actor.kdf_salt = salt
        actor.kdf_opslimit = params.opslimit
        actor.kdf_memlimit = params.memlimit
        actor.set_password(new_password)
        actor.save(
            update_fields=[
                "sealed_private_key",
                "kdf_salt",
                "kdf_opslimit",
                "kdf_memlimit",
                "password",
            ]
        )
        audit.record(
            organisation=actor.organisation, actor=actor, verb="member.password", target=actor
        )


def do_update_preferences(*, actor: Member, time_zone: str, language: str) -> Member:
    """Set the time zone the actor's pages show times in and the language they speak."""
    if not getattr(actor, "is_authenticated", False):
        raise ServiceError(_("Log in to change your preferences."))
    if time_zone not in preferences.time_zone_names():
        raise ServiceError(
            _("“%(zone)s” is not a time zone. Choose one from the list.") % {"zone": time_zone}
        )
    if not preferences.is_language(language):
        raise ServiceError(
            _("safepassage is not available in that language. Choose one from the list.")
        )
    changed = [
        name
        for name, value in (("time_zone", time_zone), ("language", language))
        if getattr(actor, name) != value
    ]
    with transaction.atomic():
        actor.time_zone = time_zone
        actor.language = language
        actor.save(update_fields=["time_zone", "language"])
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.preferences",
            target=actor,
            detail={"changed": changed},
        )
    return actor


# --- invitations --------------------------------------------------------------------


def do_invite_member(
    *,
    actor: Member,
    role: str,
    display_name: str,
    cell=None,
    lifetime: timedelta = INVITATION_LIFETIME,
) -> tuple[Invitation, str]:
    """An invitation and its one-time token (shown once, only its digest stored)."""
    roles.require_coordinator(actor)
    if role not in Role.values:
        raise ServiceError(_("Unknown role."))
    if role == Role.CELL_MEMBER and cell is None:
        raise ServiceError(_("A cell member must be invited into a cell."))
    if cell is not None and cell.organisation_id != actor.organisation_id:
        raise ServiceError(_("That cell does not exist."))
    token = crypto.random_token()
    with transaction.atomic():
        invitation = Invitation(
            organisation=actor.organisation,
            role=role,
            cell=cell if role == Role.CELL_MEMBER else None,
            token_digest=crypto.token_digest(token),
            created_by=actor,
            expires_at=timezone.now() + lifetime,
        )
        invitation.display_name = display_name
        invitation.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="invitation.create",
            target=invitation,
        )
    return invitation, token


def find_invitation(token: str) -> Invitation | None:
    """The open invitation for ``token``, or None (unknown, used, expired or revoked)."""
    invitation = (
        Invitation.objects.filter(token_digest=crypto.token_digest(token))
        .select_related("organisation")
        .first()
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= timezone.now()
    ):
        return None
    return invitation


def do_accept_invitation(*, token: str, handle: str, password: str) -> tuple[Member, bytes]:
    """Create the invited member with a fresh key pair; they await approval.

    Returns (member, private key) so the caller can log them in at once.
    """
    invitation = find_invitation(token)
    if invitation is None:
        raise ServiceError(_("This invitation link is not valid any more. Ask for a new one."))
    if Member.objects.filter(handle__iexact=handle).exists():
        raise ServiceError(_("That handle is taken. Choose another."))
    key_fields, private_key = new_member_key_fields(password)
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise ServiceError(_("This invitation link is not valid any more. Ask for a new one."))
        member = Member(
            organisation_id=invitation.organisation_id,
            handle=handle,
            role=invitation.role,
            status=MemberStatus.AWAITING_APPROVAL,
            **key_fields,
        )
        member.set_password(password)
        member.save()
        locked.accepted_by = member
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_by", "accepted_at"])
        audit.record(
            organisation=invitation.organisation,
            actor=member,
            verb="invitation.accept",
            target=locked,
        )
    return member, private_key


def do_revoke_invitation(*, actor: Member, invitation: Invitation) -> None:
    roles.require_coordinator(actor)
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="invitation.revoke",
            target=invitation,
        )


def do_approve_member(*, actor: Member, member: Member) -> None:
    """Approve a member who accepted an invitation, after comparing fingerprints.

    Only now are keys wrapped to them: the coordinators' compartment for a
    coordinator; for a cell member, their cell's open legs and handoffs.
    """
    from safepassage.cells.services import add_member_to_cell_keys

    roles.require_coordinator(actor)
    if (
        member.organisation_id != actor.organisation_id
        or member.status != MemberStatus.AWAITING_APPROVAL
    ):
        raise ServiceError(_("This member is not waiting for approval."))
    keyring = require()
    invitation = Invitation.objects.filter(accepted_by=member).first()
    with transaction.atomic():
        member.status = MemberStatus.ACTIVE
        if invitation is not None:
            member.display_name = invitation.display_name
        member.save(update_fields=["status", "display_name"])
        if member.role == Role.COORDINATOR:
            vault.grant_to_member(
                compartment=actor.organisation.coordinators_compartment,
                member=member,
                keyring=keyring,
            )
        elif invitation is not None and invitation.cell is not None:
            add_member_to_cell_keys(actor=actor, member=member, cell=invitation.cell, is_lead=False)
        audit.record(
            organisation=actor.organisation, actor=actor, verb="member.approve", target=member
        )


def do_remove_member(*, actor: Member, member: Member) -> int:
    """Remove a member: every copy of every key they held is destroyed, their
    cell memberships end, and the compartments they held are rotated (now if
    the actor holds them, else at the next login of someone who does).

    Returns the number of compartments rotated now.
    """
    from safepassage.cases.models import CaseCoordinator
    from safepassage.cells.models import CellMembership
    from safepassage.vault.models import Compartment, CompartmentGrant, HolderKind, PendingGrant

    roles.require_coordinator(actor)
    if member.organisation_id != actor.organisation_id:
        raise ServiceError(_("That member does not exist."))
    if member.pk == actor.pk:
        raise ServiceError(_("You cannot remove yourself."))
    keyring = require()
    with transaction.atomic():
        held = list(
            CompartmentGrant.objects.filter(
                member=member, holder_kind=HolderKind.MEMBER
            ).values_list("compartment_id", flat=True)
        )
        for compartment in Compartment.objects.filter(pk__in=held):
            vault.revoke_member(compartment=compartment, member=member)
        PendingGrant.objects.filter(member=member).delete()
        CellMembership.objects.filter(member=member).delete()
        CaseCoordinator.objects.filter(member=member).delete()
        member.status = MemberStatus.REMOVED
        member.is_active = False
        member.save(update_fields=["status", "is_active"])
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.remove",
            target=member,
            detail={"compartments": len(held)},
        )
    return vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)
