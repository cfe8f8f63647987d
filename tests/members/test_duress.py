"""A duress password opens a plausible account that looks like a normal login,
and silently warns the coordinators."""

from __future__ import annotations

import re

from django.conf import settings
from django.test import Client
from django.urls import reverse

from safepassage.alerts.models import Alert, AlertKind, AlertStatus, Severity
from safepassage.audit.selectors import read_entries
from safepassage.journeys.models import Leg
from safepassage.members.models import Member, MemberStatus
from safepassage.members.services import do_change_password
from safepassage.notifications.models import Notification
from safepassage.roles import Role
from safepassage.vault.keyring import Keyring, unlocked
from tests.factories import PASSWORD

from .support import (
    DURESS,
    SECOND_FACTOR,
    code_for,
    device_of,
    enrol,
    password_login,
    set_duress,
)

MY_LEGS = reverse("field:my_legs")
SECURITY = reverse("members:security")


def _shape(response) -> tuple:
    """What an onlooker can compare between two login answers."""
    return (
        response.status_code,
        response.get("Location"),
        sorted(response.cookies.keys()),
        sorted(k for k in response.headers if k.lower() not in ("date", "content-length")),
    )


def _duress_alerts(world):
    return Alert.objects.filter(organisation=world.org, kind=AlertKind.DURESS)


def test_a_member_sets_a_duress_password_on_the_security_page(client, world, login):
    driver, ring = world.member(0)
    login(driver, ring)
    page = client.get(SECURITY).content.decode()
    assert "Duress password" in page
    response = client.post(
        SECURITY,
        {
            "action": "duress",
            "current_password": PASSWORD,
            "new_password1": DURESS,
            "new_password2": DURESS,
        },
    )
    assert response.status_code == 302
    decoy = Member.objects.get(decoy_of=driver, is_active=True)
    assert decoy.handle == driver.handle and decoy.role == Role.CELL_MEMBER
    assert decoy.status == MemberStatus.ACTIVE
    # An organisation of its own (an innocuous cover, see test_decoy_cover),
    # where the decoy is in one team, which has no legs.
    assert decoy.organisation_id != driver.organisation_id
    assert not Member.objects.filter(organisation=driver.organisation, decoy_of=driver).exists()
    teams = list(decoy.cell_memberships.select_related("cell"))
    assert len(teams) == 1 and teams[0].cell.organisation_id == decoy.organisation_id
    assert not Leg.objects.filter(cell=teams[0].cell).exists()
    # The page never says whether a duress password is set.
    assert client.get(SECURITY).content.decode().count("Duress password") == page.count(
        "Duress password"
    )


def test_the_duress_password_must_differ_and_needs_the_real_one(client, world, login):
    driver, ring = world.member(0)
    login(driver, ring)
    for current, duress, message in (
        (PASSWORD, PASSWORD, "must differ from your password"),
        ("not my password", DURESS, "The current password is not correct."),
    ):
        response = client.post(
            SECURITY,
            {
                "action": "duress",
                "current_password": current,
                "new_password1": duress,
                "new_password2": duress,
            },
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Member.objects.filter(decoy_of=driver).exists()
    # Nor can the password later be changed to the duress password.
    set_duress(driver, ring)
    from safepassage.core.errors import ServiceError

    try:
        do_change_password(actor=driver, current_password=PASSWORD, new_password=DURESS)
    except ServiceError as error:
        assert "differ from your duress password" in str(error)
    else:
        raise AssertionError("the password became the duress password")


def test_a_duress_login_looks_like_a_normal_one_and_opens_an_empty_account(world):
    driver, ring = world.member(0)
    set_duress(driver, ring)
    real, forced = Client(), Client()
    real_answer = password_login(real, driver)
    forced_answer = password_login(forced, driver, DURESS)
    assert _shape(real_answer) == _shape(forced_answer)
    assert forced_answer.cookies[settings.VAULT_COOKIE_NAME].value
    assert real.get(reverse("dashboard:home"))["Location"] == MY_LEGS
    assert forced.get(reverse("dashboard:home"))["Location"] == MY_LEGS

    real_page, forced_page = real.get(MY_LEGS), forced.get(MY_LEGS)
    assert real_page.status_code == forced_page.status_code == 200
    real_body, forced_body = real_page.content.decode(), forced_page.content.decode()
    # The same page: the same title and heading, only the legs differ.
    for tag in ("title", "h1"):
        pattern = re.compile(rf"<{tag}[^>]*>(.*?)</{tag}>", re.S)
        assert pattern.search(real_body).group(1) == pattern.search(forced_body).group(1)
    assert "Yanji to Changchun" in real_body
    assert "Yanji to Changchun" not in forced_body
    # The decoy's pages open nothing of the organisation.
    assert forced.get(reverse("field:leg", args=[world.legs[0].pk])).status_code == 404
    assert forced.get(reverse("cases:detail", args=[world.case.pk])).status_code == 404


def test_a_duress_login_raises_a_critical_alert_only_the_coordinators_see(world):
    driver, ring = world.member(0)
    set_duress(driver, ring)
    assert not _duress_alerts(world).exists()
    forced = Client()
    password_login(forced, driver, DURESS)

    alert = _duress_alerts(world).get()
    assert alert.raised_by_id == driver.pk
    assert alert.severity == Severity.CRITICAL and alert.status == AlertStatus.OPEN
    told = set(Notification.objects.filter(alert=alert).values_list("member_id", flat=True))
    assert told == {world.coord.pk, world.coord2.pk}
    # On the audit log of the member's organisation, sealed as every entry.
    reader = Keyring(
        member_id=world.coord.pk, member_private_key=world.coord_keyring.member_private_key
    )
    with unlocked(reader):
        entries = read_entries(organisation=world.org, limit=50)
    duress = [e for e in entries if e["verb"] == "member.duress"]
    assert len(duress) == 1 and duress[0]["target_id"] == str(driver.pk)

    # Nothing of it in the decoy's session: no alert, no notification.
    for url in (MY_LEGS, reverse("notifications:list"), reverse("notifications:badge")):
        body = forced.get(url).content.decode()
        assert "Duress" not in body and "duress" not in body, url
    assert not Notification.objects.filter(member__decoy_of=driver).exists()
    # A real login raises nothing.
    password_login(Client(), driver)
    assert _duress_alerts(world).count() == 1


def test_the_coordinators_see_the_duress_alert_and_who_it_is_about(world, login, client):
    driver, ring = world.member(0)
    set_duress(driver, ring)
    password_login(Client(), driver, DURESS)
    alert = _duress_alerts(world).get()
    login(world.coord2)
    inbox = client.get(reverse("alerts:list"))
    assert inbox.status_code == 200
    assert "Duress" in inbox.content.decode()
    assert driver.handle in inbox.content.decode()
    detail = client.get(reverse("alerts:detail", args=[alert.pk]))
    assert detail.status_code == 200
    assert "Duress" in detail.content.decode()
    assert "Under duress" in detail.content.decode()
    assert driver.handle in detail.content.decode()


def test_a_coordinators_duress_login_asks_for_the_same_code(world):
    coord = world.coord
    real = Client()
    password_login(real, coord)
    secret = enrol(real, coord, world.coord_keyring)
    set_duress(coord, world.coord_keyring)

    forced = Client()
    real_again = Client()
    forced_answer = password_login(forced, coord, DURESS)
    real_answer = password_login(real_again, coord)
    assert _shape(forced_answer) == _shape(real_answer)
    assert forced_answer["Location"] == SECOND_FACTOR
    forced_page = forced.get(SECOND_FACTOR).content.decode()
    real_page = real_again.get(SECOND_FACTOR).content.decode()
    assert "<svg" not in forced_page and "<svg" not in real_page  # no set-up: the code only
    # A wrong code is refused there as anywhere; the member's own code is accepted.
    right = code_for(secret, after=device_of(coord).last_t)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert "That code is not right." in forced.post(SECOND_FACTOR, {"code": wrong}).content.decode()
    from safepassage.members.models import SecondFactorDevice

    SecondFactorDevice.objects.filter(user=coord).update(throttling_failure_count=0)
    assert forced.post(SECOND_FACTOR, {"code": right}).status_code == 302

    dashboard = forced.get(reverse("dashboard:home"))
    assert dashboard.status_code == 200
    body = dashboard.content.decode()
    assert coord.handle in body and "Camellia" not in body
    cases = forced.get(reverse("cases:list")).content.decode()
    assert "Camellia" not in cases and "Wisteria" not in cases
    members = forced.get(reverse("members:list")).content.decode()
    assert world.coord2.handle not in members and coord.handle in members
    # The alert went to the other coordinator, and is not on the decoy's alert list.
    alert = _duress_alerts(world).get()
    told = set(Notification.objects.filter(alert=alert).values_list("member_id", flat=True))
    assert told == {world.coord2.pk}
    alerts_page = forced.get(reverse("alerts:list")).content.decode()
    assert str(alert.pk) not in alerts_page and "Duress" not in alerts_page


def test_turning_the_duress_password_off(world, login, client):
    driver, ring = world.member(0)
    decoy = set_duress(driver, ring)
    forced = Client()
    password_login(forced, driver, DURESS)
    assert forced.get(MY_LEGS).status_code == 200
    login(driver, ring)
    assert client.post(SECURITY, {"action": "clear_duress"}).status_code == 302
    decoy.refresh_from_db()
    assert not decoy.is_active
    # The decoy's session is over, and the duress password is now just wrong.
    assert forced.get(MY_LEGS).status_code == 302
    answer = password_login(Client(), driver, DURESS)
    assert answer.status_code == 200
    assert "Handle or password is incorrect" in answer.content.decode()


def test_a_removed_members_duress_password_stops_working(world, login, client):
    driver, ring = world.member(0, 1)
    set_duress(driver, ring)
    forced = Client()
    password_login(forced, driver, DURESS)
    login(world.coord)
    client.post(reverse("members:remove", args=[driver.pk]))
    assert forced.get(MY_LEGS).status_code == 302
    assert password_login(Client(), driver, DURESS).status_code == 200
    assert not Member.objects.filter(decoy_of=driver, is_active=True).exists()
