"""Coordinators give a code from an authenticator app after their password."""

from __future__ import annotations

from django.urls import reverse

from safepassage.members import second_factor
from safepassage.members.models import SecondFactorDevice
from safepassage.vault import crypto
from tests.dashboard.permissions import assert_matrix

from .support import (
    SECOND_FACTOR,
    code_for,
    device_of,
    enrol,
    password_login,
    secret_of,
)

DASHBOARD = reverse("dashboard:home")


def test_first_login_sets_up_the_app_with_a_qr_code_and_the_secret(client, world):
    response = password_login(client, world.coord)
    assert response["Location"] == SECOND_FACTOR
    page = client.get(SECOND_FACTOR)
    body = page.content.decode()
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "<svg" in body and 'class="qr-code"' in body
    assert "style=" not in body and "<script" not in body
    secret = secret_of(world.coord, world.coord_keyring)
    # The secret is shown in groups of four for typing in by hand.
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in body
    # Nothing of the dashboard (navigation, notification count) before the code.
    assert reverse("cases:list") not in body
    assert 'id="notify-badge"' not in body
    # Reloading shows the same secret (the app may have scanned it already).
    client.get(SECOND_FACTOR)
    assert secret_of(world.coord, world.coord_keyring) == secret
    assert SecondFactorDevice.objects.filter(user=world.coord).count() == 1
    assert device_of(world.coord).confirmed is False

    response = client.post(SECOND_FACTOR, {"code": code_for(secret)})
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert device_of(world.coord).confirmed is True
    assert client.get(DASHBOARD).status_code == 200


def test_the_secret_is_stored_sealed_to_the_member(client, world):
    password_login(client, world.coord)
    client.get(SECOND_FACTOR)
    device = device_of(world.coord)
    secret = secret_of(world.coord, world.coord_keyring)
    stored = bytes(device.sealed_secret)
    assert secret.encode() not in stored
    # Another member's key does not open it.
    other_key = world.coord2_keyring.member_private_key
    try:
        second_factor.open_secret(stored, other_key)
    except crypto.SealBroken:
        pass
    else:
        raise AssertionError("another member's key opened the secret")


def test_nothing_is_reachable_before_the_code(client, world):
    password_login(client, world.coord)
    for url in (DASHBOARD, reverse("cases:list"), reverse("members:list")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(SECOND_FACTOR), url
    response = client.get(reverse("cases:detail", args=[world.case.pk]))
    assert response["Location"] == f"{SECOND_FACTOR}?next=%2Fcases%2F{world.case.pk}%2F"
    assert client.post(reverse("members:list")).status_code == 302
    # The API answers 401 rather than data.
    api = client.get("/api/v1/cases/")
    assert api.status_code == 401
    assert "Camellia" not in api.content.decode()
    # Logging out works.
    assert client.post(reverse("members:logout"))["Location"] == reverse("members:login")
    assert "_auth_user_id" not in client.session


def test_a_wrong_code_is_refused_and_a_used_code_cannot_be_used_again(client, world, settings):
    settings.SECOND_FACTOR_THROTTLE_FACTOR = 0  # the slowing down is tested below
    password_login(client, world.coord)
    secret = enrol(client, world.coord, world.coord_keyring)
    client.post(reverse("members:logout"))

    password_login(client, world.coord)
    right = code_for(secret, after=device_of(world.coord).last_t)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post(SECOND_FACTOR, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right." in response.content.decode()
    assert client.get(DASHBOARD)["Location"].startswith(SECOND_FACTOR)
    for junk in ("", "12345", "abcdef", "1234567"):
        response = client.post(SECOND_FACTOR, {"code": junk})
        assert response.status_code == 200
        assert client.get(DASHBOARD).status_code == 302
    assert client.post(SECOND_FACTOR, {"code": right}).status_code == 302
    assert client.get(DASHBOARD).status_code == 200

    # The same code a second time (someone watching over the shoulder) is refused.
    client.post(reverse("members:logout"))
    password_login(client, world.coord)
    response = client.post(SECOND_FACTOR, {"code": right})
    assert "That code is not right." in response.content.decode()
    assert client.get(DASHBOARD).status_code == 302


def test_wrong_codes_slow_the_next_attempts_down(client, world):
    password_login(client, world.coord)
    secret = enrol(client, world.coord, world.coord_keyring)
    client.post(reverse("members:logout"))
    password_login(client, world.coord)
    right = code_for(secret, after=device_of(world.coord).last_t)
    client.post(SECOND_FACTOR, {"code": f"{(int(right) + 1) % 1_000_000:06d}"})
    # Right away, even the right code is refused: one second must pass first.
    response = client.post(SECOND_FACTOR, {"code": right})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get(DASHBOARD).status_code == 302
    device = device_of(world.coord)
    assert device.throttling_failure_count == 1
    # Once the wait is over (moved back in time here), it is accepted.
    SecondFactorDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp.replace(year=2000)
    )
    assert client.post(SECOND_FACTOR, {"code": right}).status_code == 302
    assert device_of(world.coord).throttling_failure_count == 0


def test_the_flag_belongs_to_the_member_who_gave_the_code(client, world, login):
    password_login(client, world.coord)
    enrol(client, world.coord, world.coord_keyring)
    session = client.session
    session[second_factor.SESSION_KEY] = str(world.coord2.pk)
    session.save()
    assert client.get(DASHBOARD)["Location"].startswith(SECOND_FACTOR)


def test_cell_members_are_not_asked(client, world):
    driver, _ring = world.member(0)
    password_login(client, driver)
    assert client.get(reverse("field:my_legs")).status_code == 200
    assert client.get(SECOND_FACTOR)["Location"] == DASHBOARD
    assert not SecondFactorDevice.objects.filter(user=driver).exists()


def test_another_coordinator_resets_a_lost_app(client, world, login):
    password_login(client, world.coord2)
    enrol(client, world.coord2, world.coord2_keyring)
    other = client.session.session_key

    login(world.coord)
    url = reverse("members:reset_second_factor", args=[world.coord2.pk])
    assert world.coord2.handle in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert not SecondFactorDevice.objects.filter(user=world.coord2).exists()
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=other).exists()
    # Their next login sets up a new app.
    client.post(reverse("members:logout"))
    password_login(client, world.coord2)
    page = client.get(SECOND_FACTOR).content.decode()
    assert "<svg" in page
    # Nobody resets their own, and only coordinators have one.
    login(world.coord)
    refused = client.post(reverse("members:reset_second_factor", args=[world.coord.pk]))
    assert "Ask another coordinator" in refused.content.decode()
    driver, _ring = world.member(0)
    refused = client.post(reverse("members:reset_second_factor", args=[driver.pk]))
    assert "Only a coordinator" in refused.content.decode()


def test_reset_permission_matrix(client, world):
    assert_matrix(
        client,
        world,
        record_urls=[reverse("members:reset_second_factor", args=[world.coord2.pk])],
        secrets=[world.coord2.handle],
    )
