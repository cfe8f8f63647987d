"""Helpers for the login-hardening tests: authenticator codes, duress passwords."""

from __future__ import annotations

import re
import time

from django.urls import reverse

from safepassage.members import second_factor
from safepassage.members.models import Member, SecondFactorDevice
from safepassage.members.services import do_set_duress_password
from safepassage.vault.keyring import Keyring, unlocked
from tests.factories import PASSWORD

LOGIN = reverse("members:login")
SECOND_FACTOR = reverse("members:second_factor")
DURESS = "paper lantern under the bridge"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def without_csrf(body: str) -> str:
    """A page with its CSRF token (different on every answer) blanked out."""
    return CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', body)


def device_of(member: Member) -> SecondFactorDevice:
    return SecondFactorDevice.objects.get(user=member)


def secret_of(member: Member, keyring: Keyring) -> str:
    return second_factor.open_secret(device_of(member).sealed_secret, keyring.member_private_key)


def code_for(secret: str, *, after: int = -1, offset: int = 0) -> str:
    """A code the device accepts now: of the current time step (or the next
    one, if the current step's code was used already)."""
    oath = second_factor.totp(secret)
    oath.time = time.time() + offset * second_factor.STEP
    if oath.t() <= after:
        oath.time = oath.time + second_factor.STEP
    assert oath.t() > after, "no fresh code within the tolerance"
    return f"{oath.token():06d}"


def enrol(client, member: Member, keyring: Keyring) -> str:
    """Go through the first-login set-up on ``client`` (logged in with a
    password); returns the secret."""
    page = client.get(SECOND_FACTOR)
    assert page.status_code == 200
    secret = secret_of(member, keyring)
    response = client.post(SECOND_FACTOR, {"code": code_for(secret)})
    assert response.status_code == 302, response.content.decode()[:500]
    return secret


def password_login(client, member: Member, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"handle": member.handle, "password": password, **extra})


def set_duress(member: Member, keyring: Keyring, duress: str = DURESS) -> Member:
    """Give ``member`` a duress password; returns their decoy."""
    with unlocked(keyring):
        do_set_duress_password(actor=member, current_password=PASSWORD, duress_password=duress)
    return Member.objects.get(decoy_of=member, is_active=True)
