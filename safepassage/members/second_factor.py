"""Coordinators' second factor: a code from an authenticator app (TOTP).

Who needs it: every approved coordinator, and the decoy of one (a duress
login must ask for a code exactly as a real one does). Cell members are not
asked: they work from cheap phones in the field, and what one of them can
open is bounded by their cell already.

How a session passes: the password logs the member in as usual (their keys
are unlocked into the session), and ``SESSION_KEY`` is then missing from the
session. Until a right code sets it, ``MemberSessionMiddleware`` lets the
session reach only this step and logging out. The flag holds the member's
id, so it never carries over to another member's login.

The secret is sealed to the member's public key (``models.SecondFactorDevice``),
so it is opened with the keys the password unlocked. A decoy checks codes
against its member's device through the copy sealed to the decoy's own key.
"""

from __future__ import annotations

import base64
import io
from urllib.parse import quote

import segno
from django.http import HttpRequest
from django.utils.http import urlencode
from django_otp.oath import TOTP

from safepassage.roles import Role
from safepassage.vault import crypto

from .models import Member, MemberStatus, SecondFactorDevice

SESSION_KEY = "_sp_second_factor"
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
DIGITS = 6
STEP = 30
# Codes one step either side of now are accepted (phones' clocks drift).
TOLERANCE = 1


def required(member) -> bool:
    """True when ``member``'s sessions must pass a code before anything else."""
    return bool(
        getattr(member, "is_authenticated", False)
        and member.role == Role.COORDINATOR
        and member.status == MemberStatus.ACTIVE
        and member.is_active
    )


def is_verified(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return user is not None and request.session.get(SESSION_KEY) == str(user.pk)


def mark_verified(request: HttpRequest) -> None:
    request.session[SESSION_KEY] = str(request.user.pk)


# --- secrets and devices ----------------------------------------------------------------


def new_secret() -> str:
    """A fresh shared secret, base32 as authenticator apps take it."""
    return base64.b32encode(crypto.new_data_key()[:SECRET_BYTES]).decode("ascii")


def seal_secret(secret: str, public_key: bytes) -> bytes:
    return crypto.seal_note_for_member(public_key, secret)


def open_secret(blob: bytes, private_key: bytes) -> str:
    return crypto.open_note_as_member(private_key, bytes(blob))


def device_for(member: Member) -> tuple[SecondFactorDevice | None, str]:
    """(the device ``member``'s codes are checked against, the field holding
    the copy of its secret that ``member``'s key opens).

    A member's own device. A decoy's is its member's device (through the copy
    sealed to the decoy), or, if that member has none, the decoy's own.
    """
    if member.decoy_of_id is not None:
        device = (
            SecondFactorDevice.objects.filter(
                user_id=member.decoy_of_id, confirmed=True, decoy_sealed_secret__isnull=False
            )
            .order_by("-created_at")
            .first()
        )
        if device is not None:
            return device, "decoy_sealed_secret"
    device = SecondFactorDevice.objects.filter(user=member).order_by("-created_at").first()
    return device, "sealed_secret"


def totp(secret: str) -> TOTP:
    return TOTP(base64.b32decode(secret), step=STEP, digits=DIGITS)


def matching_step(secret: str, code: str, *, after: int) -> int | None:
    """The time step whose code is ``code`` (within the tolerance, later than
    ``after``), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    oath = totp(secret)
    if oath.verify(int(code), tolerance=TOLERANCE, min_t=after + 1):
        return oath.t()
    return None


def provisioning_uri(secret: str, label: str) -> str:
    """The ``otpauth://`` link an authenticator app reads from the QR code.

    No issuer is named: an app listing "safepassage" on a phone that is
    searched would say what its owner does. The label is the handle.
    """
    query = urlencode(
        {"secret": secret, "digits": str(DIGITS), "period": str(STEP), "algorithm": "SHA1"}
    )
    return f"otpauth://totp/{quote(label, safe='')}?{query}"


def qr_svg(text: str, title: str) -> str:
    """``text`` as a QR code in inline SVG (no script, no style attribute)."""
    code = segno.make(text, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=5,
        dark="#000",
        light="#fff",
        svgclass="qr-code",
        lineclass=None,
        title=title,
    )
    return out.getvalue().decode("utf-8")
