"""Sessions: a short idle expiry that only real activity renews, log out
everywhere, and a removed member's sessions ending at once."""

from __future__ import annotations

import copy
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.vault.models import Compartment, CompartmentGrant, HolderKind

from .support import password_login

MY_LEGS = reverse("field:my_legs")
SECURITY = reverse("members:security")


def _row(client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def _sessions_of(member) -> list[str]:
    return [
        s.session_key
        for s in Session.objects.all()
        if s.get_decoded().get("_auth_user_id") == str(member.pk)
    ]


def test_the_idle_expiry_is_short_named_and_renewed_by_activity(client, world):
    assert settings.SESSION_IDLE_MINUTES == 30
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    driver, _ring = world.member(0)
    response = password_login(client, driver)
    # A browser-session cookie: gone when the browser closes.
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""
    soon = timezone.now() + timedelta(minutes=5)
    Session.objects.filter(pk=_row(client).pk).update(expire_date=soon)
    assert client.get(MY_LEGS).status_code == 200
    renewed = _row(client).expire_date
    assert renewed > timezone.now() + timedelta(minutes=29)


def test_the_badge_polling_does_not_keep_a_session_alive(client, world):
    driver, _ring = world.member(0)
    password_login(client, driver)
    soon = timezone.now() + timedelta(minutes=5)
    Session.objects.filter(pk=_row(client).pk).update(expire_date=soon)
    poll = client.get(reverse("notifications:badge"), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200
    assert abs((_row(client).expire_date - soon).total_seconds()) < 1


def test_an_idle_session_is_over(client, world):
    driver, _ring = world.member(0)
    password_login(client, driver)
    Session.objects.filter(pk=_row(client).pk).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(MY_LEGS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("members:login"))


def test_log_out_everywhere_ends_every_session_of_the_member(world):
    driver, _ring = world.member(0)
    phone, laptop, bystander = Client(), Client(), Client()
    for client in (phone, laptop):
        password_login(client, driver)
        assert client.get(MY_LEGS).status_code == 200
    other, _ring = world.member(1)
    password_login(bystander, other)
    assert len(_sessions_of(driver)) == 2

    page = laptop.get(SECURITY)
    assert page.status_code == 200
    assert "Log out everywhere" in page.content.decode()
    response = laptop.post(SECURITY, {"action": "everywhere"})
    assert response.status_code == 302
    assert response["Location"] == reverse("members:login")
    assert "You are logged out everywhere." in laptop.get(response["Location"]).content.decode()

    assert _sessions_of(driver) == []
    for client in (phone, laptop):
        after = client.get(MY_LEGS)
        assert after.status_code == 302 and after["Location"].startswith(reverse("members:login"))
    # Someone else's session goes on.
    assert bystander.get(MY_LEGS).status_code == 200
    # Even a session row that survived (another session engine, a restored
    # copy) is refused: the member's session generation has moved on.
    password_login(phone, driver)
    stolen = Client()
    stolen.cookies = copy.deepcopy(phone.cookies)
    kept = _row(phone)
    phone.post(SECURITY, {"action": "everywhere"})
    Session.objects.create(
        session_key=kept.session_key, session_data=kept.session_data, expire_date=kept.expire_date
    )
    assert stolen.get(MY_LEGS).status_code == 302
    assert not Session.objects.filter(session_key=kept.session_key).exists()  # flushed


def test_a_removed_member_is_logged_out_at_once(client, world, login):
    driver, _ring = world.member(0, 1)
    phone = Client()
    password_login(phone, driver)
    assert phone.get(MY_LEGS).status_code == 200
    login(world.coord)
    assert client.post(reverse("members:remove", args=[driver.pk])).status_code == 302
    assert _sessions_of(driver) == []
    response = phone.get(MY_LEGS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("members:login"))
    # And cannot log in again.
    assert password_login(phone, driver).status_code == 200
    assert "_auth_user_id" not in phone.session


def test_every_compartment_a_removed_member_held_is_rotated_or_marked_due(client, world, login):
    """coord2 removes coord: what coord2 holds is rotated at once; the case
    only coord coordinated is marked for rotation at a holder's next login."""
    held = set(
        CompartmentGrant.objects.filter(
            member=world.coord, holder_kind=HolderKind.MEMBER
        ).values_list("compartment_id", flat=True)
    )
    before = {c.pk: c.current_version for c in Compartment.objects.filter(pk__in=held)}
    assert world.other_case.compartment_id in held and world.case.compartment_id in held
    victim_session = Client()
    password_login(victim_session, world.coord)

    login(world.coord2)
    assert client.post(reverse("members:remove", args=[world.coord.pk])).status_code == 302

    assert not CompartmentGrant.objects.filter(member=world.coord).exists()
    rotated, due = set(), set()
    for compartment in Compartment.objects.filter(pk__in=held):
        if compartment.current_version > before[compartment.pk]:
            assert not compartment.rotation_due
            rotated.add(compartment.pk)
        else:
            assert compartment.rotation_due, compartment.pk
            due.add(compartment.pk)
    assert rotated | due == held
    assert world.case.compartment_id in rotated
    assert world.other_case.compartment_id in due
    assert _sessions_of(world.coord) == []
    assert victim_session.get(reverse("dashboard:home")).status_code == 302
