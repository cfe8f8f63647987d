"""Members: invitations, approval, cell membership, login (with its second
factor and duress password), sessions, password change and preferences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import SESSION_KEY, authenticate, login, logout
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.roles import Role
from safepassage.vault import crypto, session
from safepassage.vault import services as vault
from safepassage.vault.checks import kdf_params
from safepassage.vault.keyring import Keyring, Locked, require

from . import lockout, preferences, second_factor
from .backends import UNLOCKED_KEY_ATTRIBUTE
from .models import Invitation, Member, MemberStatus, SecondFactorDevice

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


class LoginDelayed(Exception):
    """The handle is inside its wait (``lockout``): the attempt was refused
    without its password deciding anything. ``wait_seconds`` is the time left."""

    def __init__(self, wait_seconds: int):
        super().__init__(wait_seconds)
        self.wait_seconds = wait_seconds


def log_in(request: HttpRequest, *, handle: str, password: str, code: str = "") -> Member | None:
    """Authenticate, unlock the member's keys into the session, and return them.

    Returns None for a wrong handle or password without touching any key
    material. Raises ``LoginDelayed`` for an attempt inside the handle's wait
    (``lockout``): its password is not checked, unless ``code`` is given
    (below). Coordinators also complete grants and rotations waiting on them.
    A coordinator's session still has to pass their second factor
    (``second_factor``) before reaching anything.

    Inside a wait, a coordinator's right password with a right ``code`` from
    their authenticator app logs them in at once, second factor passed; the
    wait stays in force for everyone else. Any other attempt with a code
    (wrong password, wrong code, a cell member, an unknown handle) gets the
    same ``LoginDelayed`` as one without, after the same password work, so
    it reveals nothing about the password and does not lengthen the wait.

    With the member's duress password the member returned is their decoy: the
    session is the decoy's plausible account (``cover``), and a critical duress
    alert is raised for the member, silently. Nothing in the answer differs.
    """
    now = timezone.now()
    admission = lockout.claim(handle, now=now)
    if not admission.admitted:
        if not code:
            raise LoginDelayed(admission.wait_seconds)
        member = _past_the_wait(request, handle=handle, password=password, code=code)
        if member is None:
            lockout.failed(handle, now=now)  # a password was tried: it counts for the alert
            raise LoginDelayed(admission.wait_seconds)
        return member
    member = authenticate(request, username=handle, password=password)
    if member is None or not isinstance(member, Member):
        lockout.failed(handle, now=now)
        return None
    private_key = member.__dict__.pop(UNLOCKED_KEY_ATTRIBUTE, None)
    if private_key is None:  # authenticated by a backend that unlocked no key
        lockout.failed(handle, now=now)
        return None
    lockout.succeeded(handle)
    _start_session(request, member, private_key)
    return member


def _past_the_wait(request: HttpRequest, *, handle: str, password: str, code: str) -> Member | None:
    """A coordinator inside their handle's wait, with their password and a right
    code: logged in, second factor passed. None for anything else."""
    # The same Argon2id work as any attempt, whatever the handle and password.
    member = authenticate(request, username=handle, password=password)
    if member is None or not isinstance(member, Member):
        return None
    private_key = member.__dict__.pop(UNLOCKED_KEY_ATTRIBUTE, None)
    if private_key is None or not second_factor.required(member):
        return None
    outcome, _device = _verify_code(
        actor=member, private_key=private_key, code=code, confirmed_only=True
    )
    if outcome != "ok":
        return None
    _start_session(request, member, private_key)
    second_factor.mark_verified(request)
    return member


def _start_session(request: HttpRequest, member: Member, private_key: bytes) -> None:
    login(request, member)
    keyring = session.open_session(request, member_id=member.pk, private_key=private_key)
    with transaction.atomic():
        audit.record(
            organisation=member.organisation, actor=member, verb="member.login", target=member
        )
        if member.decoy_of_id is not None:
            _raise_duress(member)
    if member.is_approved:
        catch_up_keys(member=member, keyring=keyring)


def _raise_duress(decoy: Member) -> None:
    """The decoy's member is logging in under duress: a critical alert to the
    coordinators of their organisation (never to the member, whose phone may
    be in other hands), in their organisation's audit log as ``member.duress``.

    Nothing of it is in the decoy's organisation, so the decoy session
    cannot see it."""
    from safepassage.alerts.escalation import raise_alert
    from safepassage.alerts.models import AlertKind

    member = Member.objects.select_related("organisation").get(decoys=decoy)
    alert = raise_alert(
        organisation_id=member.organisation_id,
        kind=AlertKind.DURESS,
        now=timezone.now(),
        raised_by=member,
    )
    audit.record(
        organisation=member.organisation,
        actor=member,
        verb="member.duress",
        target=member,
        detail={"alert": str(alert.pk)},
    )


def catch_up_keys(*, member: Member, keyring: Keyring) -> None:
    """Wrap keys for members waiting on compartments this keyring opens, and
    rotate compartments whose former holders were removed."""
    vault.fulfil_pending_grants(keyring=keyring, organisation_id=member.organisation_id)
    vault.rotate_due(keyring=keyring, organisation_id=member.organisation_id)


def log_out(request: HttpRequest) -> None:
    session.close_session(request)
    logout(request)


def end_sessions(member_ids) -> int:
    """End every session of the given members at once; returns how many rows went.

    Raising their session generation makes Django refuse each of their
    sessions on its next request, whatever the session engine. The database
    rows (with the key material sealed in them) are also deleted now; sessions
    are short, so the live ones are few enough to read through.
    """
    wanted = {str(member_id) for member_id in member_ids}
    if not wanted:
        return 0
    Member.objects.filter(pk__in=wanted).update(session_generation=F("session_generation") + 1)
    doomed = [
        row.session_key
        for row in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(row.get_decoded().get(SESSION_KEY)) in wanted
    ]
    deleted, _rows = Session.objects.filter(session_key__in=doomed).delete()
    return deleted


def _with_decoys(member: Member) -> list:
    return [member.pk, *Member.objects.filter(decoy_of=member).values_list("pk", flat=True)]


def do_log_out_everywhere(*, actor: Member, request: HttpRequest) -> int:
    """End every session of the actor (and of their decoy), this one included.

    Returns the number of session rows deleted (this one among them).
    """
    if not getattr(actor, "is_authenticated", False):
        raise ServiceError(_("Log in first."))
    with transaction.atomic():
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.logout_everywhere",
            target=actor,
        )
        ended = end_sessions(_with_decoys(actor))
    log_out(request)
    return ended


def do_change_password(*, actor: Member, current_password: str, new_password: str) -> None:
    """Re-seal the actor's private key under the new password."""
    try:
        private_key = unlock_private_key(actor, current_password)
    except crypto.WrongPassword:
        raise ServiceError(_("The current password is not correct.")) from None
    decoy = active_decoy(actor)
    if decoy is not None and _opens(decoy, new_password):
        raise ServiceError(_("Your password must differ from your duress password."))
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


# Handles the join page refuses before its invitation link stops working.
MAX_REFUSED_HANDLES = 5


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
        or invitation.refused_handles >= MAX_REFUSED_HANDLES
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
        # Handles are unique across the server, so this refusal would tell
        # whoever holds the link that a handle exists somewhere: it says no
        # more than "not this one", and the link closes after a few.
        Invitation.objects.filter(pk=invitation.pk).update(refused_handles=F("refused_handles") + 1)
        left = MAX_REFUSED_HANDLES - invitation.refused_handles - 1
        if left <= 0:
            raise ServiceError(_("This invitation link is not valid any more. Ask for a new one."))
        raise ServiceError(
            ngettext(
                "That handle cannot be used. Choose another one (%(left)s more try).",
                "That handle cannot be used. Choose another one (%(left)s more tries).",
                left,
            )
            % {"left": left}
        )
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
        # Their duress password stops working too, and every session ends now.
        Member.objects.filter(decoy_of=member).update(status=MemberStatus.REMOVED, is_active=False)
        end_sessions(_with_decoys(member))
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.remove",
            target=member,
            detail={"compartments": len(held)},
        )
    return vault.rotate_due(keyring=keyring, organisation_id=actor.organisation_id)


def do_reinstate_member(*, actor: Member, member: Member) -> int:
    """Let a member disabled pending review log in again: the coordinators have
    decided they can be trusted (their cell was declared compromised, see
    ``compromise.services``).

    Their memberships of compromised cells end: those cells' keys were
    replaced and the cells are not used again. In any other cell they still
    belong to, the keys of its open legs and handoffs are wrapped to them
    again (deferred where the actor cannot open them). Their old sessions
    stay ended; they log in with their own password. Returns the number of
    compromised cells they left.
    """
    from safepassage.cells.models import Cell, CellMembership, CellStatus
    from safepassage.journeys.services import sync_cell_grants

    roles.require_coordinator(actor)
    if (
        member.organisation_id != actor.organisation_id
        or member.decoy_of_id is not None
        or not member.is_disabled
    ):
        raise ServiceError(_("This member is not disabled."))
    keyring = require()
    with transaction.atomic():
        burned = CellMembership.objects.filter(member=member, cell__status=CellStatus.COMPROMISED)
        left = burned.count()
        burned.delete()
        member.is_active = True
        member.save(update_fields=["is_active"])
        for cell in Cell.objects.filter(memberships__member=member).distinct():
            sync_cell_grants(cell=cell, keyring=keyring)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.reinstate",
            target=member,
            detail={"compromised_cells_left": left},
        )
    return left


# --- duress password -----------------------------------------------------------------------


def active_decoy(member: Member) -> Member | None:
    """The decoy the member's duress password opens now, if they set one."""
    return Member.objects.filter(decoy_of=member, is_active=True).first()


def _opens(member: Member, password: str) -> bool:
    try:
        unlock_private_key(member, password)
    except crypto.WrongPassword:
        return False
    return True


def _readable(read, default: str) -> str:
    try:
        return read() or default
    except Locked:
        return default


def do_set_duress_password(*, actor: Member, current_password: str, duress_password: str) -> None:
    """Set (or replace) the actor's duress password.

    Logging in with it opens a decoy: an account with the actor's handle and
    role in an organisation of its own, an innocuous one with members, cells,
    cases and a history that predate this moment (``cover``), and raises a
    duress alert for the actor. A
    replaced duress password retires the old decoy with its sessions. The
    copy of the actor's authenticator secret the decoy needs (a duress login
    asks for the same code) is sealed to the new decoy's key.

    In a decoy's own session the form answers as it would for anyone and
    changes nothing (a decoy has no duress password of its own).
    """
    from . import cover

    if not roles.is_coordinator(actor) and not roles.is_cell_member(actor):
        raise ServiceError(_("Only an approved member can set a duress password."))
    try:
        private_key = unlock_private_key(actor, current_password)
    except crypto.WrongPassword:
        raise ServiceError(_("The current password is not correct.")) from None
    if duress_password == current_password:
        raise ServiceError(_("The duress password must differ from your password."))
    if actor.decoy_of_id is not None:
        with transaction.atomic():
            audit.record(
                organisation=actor.organisation,
                actor=actor,
                verb="member.duress_password",
                target=actor,
            )
        return
    name = _readable(lambda: actor.organisation.name, "")
    display_name = _readable(lambda: actor.display_name, actor.handle)
    with transaction.atomic():
        old = list(Member.objects.filter(decoy_of=actor, is_active=True))
        if old:
            Member.objects.filter(pk__in=[m.pk for m in old]).update(
                status=MemberStatus.REMOVED, is_active=False
            )
            end_sessions([m.pk for m in old])
        decoy = cover.build_cover(
            actor=actor, duress_password=duress_password, name=name, display_name=display_name
        )
        for device in SecondFactorDevice.objects.filter(user=actor, confirmed=True):
            secret = second_factor.open_secret(device.sealed_secret, private_key)
            device.decoy_sealed_secret = second_factor.seal_secret(secret, bytes(decoy.public_key))
            device.save(update_fields=["decoy_sealed_secret"])
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.duress_password",
            target=actor,
            detail={"replaced": bool(old)},
        )


def do_clear_duress_password(*, actor: Member) -> bool:
    """Turn the actor's duress password off (its decoy is retired). Returns
    whether there was one. In a decoy's session it changes nothing."""
    if not getattr(actor, "is_authenticated", False):
        raise ServiceError(_("Log in first."))
    with transaction.atomic():
        decoys = (
            [] if actor.decoy_of_id else list(Member.objects.filter(decoy_of=actor, is_active=True))
        )
        if decoys:
            Member.objects.filter(pk__in=[m.pk for m in decoys]).update(
                status=MemberStatus.REMOVED, is_active=False
            )
            end_sessions([m.pk for m in decoys])
            SecondFactorDevice.objects.filter(user=actor).update(decoy_sealed_secret=None)
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.duress_password_clear",
            target=actor,
        )
    return bool(decoys)


# --- second factor (coordinators) ------------------------------------------------------


def _private_key(keyring: Keyring) -> bytes:
    if keyring.member_private_key is None:
        raise Locked("no member key in force")
    return keyring.member_private_key


def do_prepare_second_factor(*, actor: Member) -> str:
    """The secret for the actor to add to their authenticator app.

    Made once and kept (sealed, unconfirmed) until a code from it confirms
    it, so reloading the page shows the same QR code. Refused once the actor
    has a working device.
    """
    if not second_factor.required(actor):
        raise ServiceError(_("Your account does not use an authenticator app."))
    keyring = require()
    device, field = second_factor.device_for(actor)
    if device is not None and device.confirmed:
        raise ServiceError(_("Your authenticator app is already set up."))
    if device is not None:
        return second_factor.open_secret(getattr(device, field), _private_key(keyring))
    secret = second_factor.new_secret()
    decoy = None if actor.decoy_of_id else active_decoy(actor)
    with transaction.atomic():
        SecondFactorDevice.objects.create(
            user=actor,
            name="authenticator",
            confirmed=False,
            sealed_secret=second_factor.seal_secret(secret, bytes(actor.public_key)),
            decoy_sealed_secret=(
                second_factor.seal_secret(secret, bytes(decoy.public_key)) if decoy else None
            ),
        )
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.second_factor_prepare",
            target=actor,
        )
    return secret


def do_check_second_factor(*, actor: Member, code: str) -> SecondFactorDevice:
    """Check a code from the actor's authenticator app; a right one confirms a
    new device. Refusals (wrong, reused, or too soon after wrong ones) raise
    ServiceError and slow the next attempts down."""
    if not second_factor.required(actor):
        raise ServiceError(_("Your account does not use an authenticator app."))
    keyring = require()
    outcome, device = _verify_code(actor=actor, private_key=_private_key(keyring), code=code)
    if device is None:
        raise ServiceError(_("Set up your authenticator app first."))
    if outcome == "throttled":
        raise ServiceError(_("Too many wrong codes. Wait a minute, then try again."))
    if outcome == "wrong":
        raise ServiceError(_("That code is not right. Enter the code your app shows now."))
    return device


def _verify_code(
    *, actor: Member, private_key: bytes, code: str, confirmed_only: bool = False
) -> tuple[str, SecondFactorDevice | None]:
    """Check ``code`` against the actor's device, opened with ``private_key``.

    Returns (outcome, device): "ok" (the device is now confirmed and the code
    used up), "wrong" (counted by the device's throttle), "throttled" or
    "no_device". ``confirmed_only`` treats a device still being set up as
    none. A checked code is audited, in the same transaction."""
    with transaction.atomic():
        device, field = second_factor.device_for(actor)
        if device is None or (confirmed_only and not device.confirmed):
            return "no_device", None
        device = SecondFactorDevice.objects.select_for_update().get(pk=device.pk)
        allowed, _why = device.verify_is_allowed()
        if not allowed:
            return "throttled", device
        secret = second_factor.open_secret(getattr(device, field), private_key)
        step = second_factor.matching_step(secret, code, after=device.last_t)
        if step is None:
            device.throttle_increment()
        else:
            device.throttle_reset(commit=False)
            device.last_t = step
            device.confirmed = True
            device.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.second_factor_refused" if step is None else "member.second_factor",
            target=actor,
        )
    return ("wrong" if step is None else "ok"), device


def do_reset_second_factor(*, actor: Member, member: Member) -> None:
    """Forget a coordinator's authenticator app (a lost phone): they set up a
    new one at their next login. Their sessions end now."""
    roles.require_coordinator(actor)
    if member.organisation_id != actor.organisation_id or member.role != Role.COORDINATOR:
        raise ServiceError(_("Only a coordinator's authenticator app can be reset."))
    if member.pk == actor.pk:
        raise ServiceError(_("Ask another coordinator to reset your authenticator app."))
    with transaction.atomic():
        SecondFactorDevice.objects.filter(user=member).delete()
        end_sessions(_with_decoys(member))
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="member.second_factor_reset",
            target=member,
        )
