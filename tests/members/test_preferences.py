"""A member's own preferences: time zone and language."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import translation

from safepassage.audit.selectors import read_entries
from safepassage.core.errors import ServiceError
from safepassage.members.middleware import MemberLanguageMiddleware
from safepassage.members.models import Member
from safepassage.members.preferences import (
    AREA_LABELS,
    NETWORK_TIME_ZONES,
    OTHER_AREA,
    time_zone_names,
)
from safepassage.members.services import do_update_preferences
from safepassage.vault.keyring import unlocked
from tests.dashboard.permissions import assert_anonymous_sent_to_login

pytestmark = pytest.mark.django_db

URL = reverse("members:preferences")
MIDDLEWARE = "safepassage.members.middleware.MemberLanguageMiddleware"


@pytest.fixture
def member_language(settings):
    """The language middleware in its place, right after authentication (whether
    or not the project's settings list it yet)."""
    middleware = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    middleware.insert(auth + 1, MIDDLEWARE)
    settings.MIDDLEWARE = middleware


def audit_entries(world, verb):
    with unlocked(world.coord_keyring):
        return [e for e in read_entries(organisation=world.org) if e["verb"] == verb]


def stored(member) -> tuple[str, str]:
    fresh = Member.objects.get(pk=member.pk)
    return fresh.time_zone, fresh.language


# --- the service -----------------------------------------------------------------------


def test_a_member_sets_time_zone_and_language_with_an_audit_event(world):
    member = world.member(0)[0]
    assert stored(member) == ("UTC", "en")
    do_update_preferences(actor=member, time_zone="Asia/Vientiane", language="ko")
    assert stored(member) == ("Asia/Vientiane", "ko")
    [entry] = audit_entries(world, "member.preferences")
    assert entry["actor"] == str(member.pk)
    # Which preferences changed, never their values (a zone hints at a place).
    assert entry["detail"] == {"changed": ["time_zone", "language"]}
    do_update_preferences(actor=member, time_zone="Asia/Vientiane", language="zh-hans")
    assert stored(member) == ("Asia/Vientiane", "zh-hans")
    assert audit_entries(world, "member.preferences")[0]["detail"] == {"changed": ["language"]}


@pytest.mark.parametrize("zone", ["Asia/Atlantis", "", "localtime", "asia/seoul", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused(world, zone):
    with pytest.raises(ServiceError, match="is not a time zone"):
        do_update_preferences(actor=world.coord, time_zone=zone, language="ko")
    assert stored(world.coord) == ("UTC", "en")
    assert audit_entries(world, "member.preferences") == []


@pytest.mark.parametrize("language", ["fr", "", "zh", "KO", "zh-hant"])
def test_a_language_not_offered_is_refused(world, language):
    with pytest.raises(ServiceError, match="not available in that language"):
        do_update_preferences(actor=world.coord, time_zone="Asia/Seoul", language=language)
    assert stored(world.coord) == ("UTC", "en")
    assert audit_entries(world, "member.preferences") == []


def test_nobody_logged_in_changes_nothing(world):
    with pytest.raises(ServiceError, match="Log in"):
        do_update_preferences(actor=AnonymousUser(), time_zone="Asia/Seoul", language="ko")


# --- the page ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, db):
    assert_anonymous_sent_to_login(client, [URL])


def test_the_header_links_to_the_page(client, world, login):
    login(world.coord)
    body = client.get(reverse("dashboard:home")).content.decode()
    assert body.index(f'href="{URL}"') < body.index(f'href="{reverse("members:password")}"')
    member, ring = world.member(0)
    login(member, ring)
    body = client.get(reverse("field:my_legs")).content.decode()
    assert f'href="{URL}"' in body


def test_the_network_zones_come_first(client, world, login):
    login(world.coord)
    response = client.get(URL)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    positions = [body.index(f'<option value="{zone}"') for zone in NETWORK_TIME_ZONES]
    assert positions == sorted(positions)
    assert '<option value="Africa/Abidjan"' not in body  # one part of the world at a time
    assert body.count('<option value="Asia/Seoul"') == 1  # not offered twice
    assert '<option value="localtime"' not in body
    assert '<option value="UTC" selected>' in body
    assert '<option value="en" selected>English</option>' in body
    assert '<option value="ko">한국어</option>' in body
    assert 'href="?area=Africa"' in body

    body = client.get(URL, {"area": "Africa"}).content.decode()
    positions = [body.index(f'<option value="{zone}"') for zone in NETWORK_TIME_ZONES]
    assert positions == sorted(positions)
    assert positions[-1] < body.index('<option value="Africa/Abidjan">Abidjan</option>')
    assert '<option value="Europe/Paris"' not in body


def _offered(body: str) -> set[str]:
    return set(re.findall(r'<option value="([^"]+)"', body)) - {"en", "ko", "zh-hans"}


def test_each_time_zone_is_offered_under_its_part_of_the_world(client, world, login):
    """The parts of the world together offer every zone the server knows,
    each of them under one part only (besides the network's, offered first)."""
    login(world.coord)
    network = _offered(client.get(URL, {"area": "nowhere"}).content.decode())
    assert network == set(NETWORK_TIME_ZONES)  # an unknown part is no part
    seen: dict[str, str] = {}
    for area in AREA_LABELS:
        for zone in _offered(client.get(URL, {"area": area}).content.decode()) - network:
            assert zone not in seen, (zone, area, seen.get(zone))
            seen[zone] = area
    assert set(seen) | network == time_zone_names()
    assert seen["America/Argentina/Buenos_Aires"] == "America"
    assert seen["ROK"] == seen["Etc/GMT+9"] == OTHER_AREA


def test_a_zone_of_another_part_of_the_world_is_saved_and_shown(client, world, login):
    member, ring = world.member(0)
    login(member, ring)
    response = client.post(f"{URL}?area=Europe", {"time_zone": "Europe/Paris", "language": "en"})
    assert response.status_code == 302
    assert stored(member) == ("Europe/Paris", "en")
    # Back on the page with no part chosen, the member's own zone is offered, chosen.
    body = client.get(URL).content.decode()
    assert '<option value="Europe/Paris" selected>Europe/Paris</option>' in body
    assert '<option value="Europe/Berlin"' not in body
    # A zone of a part not chosen is refused, as any choice not offered.
    response = client.post(URL, {"time_zone": "Europe/Berlin", "language": "en"})
    assert response.status_code == 200
    assert stored(member) == ("Europe/Paris", "en")


@pytest.mark.parametrize("who", ["coordinator", "cell member"])
def test_every_member_saves_their_preferences(client, world, login, who):
    member, ring = (world.coord, world.coord_keyring) if who == "coordinator" else world.member(0)
    login(member, ring)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"time_zone": "Asia/Seoul", "language": "zh-hans"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:home")
    assert stored(member) == ("Asia/Seoul", "zh-hans")
    page = client.get(URL).content.decode()
    if who == "cell member":  # the zone is named on the field page of their legs
        page += client.get(reverse("field:my_legs")).content.decode()
    # The page now speaks the chosen language (once the catalogues are compiled).
    with translation.override("zh-hans"):
        saved = translation.gettext("Your preferences are saved.")
        if who == "coordinator":  # in the coordinator layout's header
            times = translation.gettext("Times in %(zone)s") % {"zone": "Asia/Seoul"}
        else:
            times = translation.gettext("Times are in %(zone)s.") % {"zone": "Asia/Seoul"}
    assert saved in page
    assert times in page
    assert '<option value="Asia/Seoul" selected>' in page


def test_invalid_choices_change_nothing(client, world, login):
    login(world.coord)
    response = client.post(URL, {"time_zone": "Asia/Atlantis", "language": "fr"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body
    assert "Select a valid choice. Asia/Atlantis is not one of the available choices." in body
    assert "Select a valid choice. fr is not one of the available choices." in body
    assert stored(world.coord) == ("UTC", "en")
    assert audit_entries(world, "member.preferences") == []


# --- the language takes effect on every page ---------------------------------------------


def test_pages_speak_the_chosen_language(client, world, login, member_language):
    login(world.coord)
    response = client.get(URL)
    assert '<html lang="en">' in response.content.decode()
    client.post(URL, {"time_zone": "Asia/Seoul", "language": "ko"})
    for url in (URL, reverse("dashboard:home"), reverse("cells:list")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="ko">' in response.content.decode(), url
        assert response.context["LANGUAGE_CODE"] == "ko", url
        assert response["Content-Language"] == "ko", url
    # The choice does not stay behind in the thread that served the request.
    assert translation.get_language() != "ko"
    # Logged out, the page goes back to the browser's language.
    client.post(reverse("members:logout"))
    response = client.get(reverse("members:login"))
    assert '<html lang="en">' in response.content.decode()


def test_field_pages_speak_the_chosen_language(client, world, login, member_language):
    member, ring = world.member(0)
    login(member, ring)
    client.post(URL, {"time_zone": "UTC", "language": "zh-hans"})
    response = client.get(reverse("field:my_legs"))
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert response.context["LANGUAGE_CODE"] == "zh-hans"


def test_a_language_no_longer_offered_falls_back_to_the_default(
    client, world, login, member_language
):
    Member.objects.filter(pk=world.coord.pk).update(language="fr")
    login(world.coord)
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    assert '<html lang="en">' in response.content.decode()


def test_the_middleware_leaves_anonymous_requests_alone(rf):
    seen = []

    def view(request):
        seen.append(translation.get_language())
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = rf.get("/")
    request.user = AnonymousUser()
    with translation.override("en"):
        response = MemberLanguageMiddleware(view)(request)
    assert seen == ["en"]
    assert "Content-Language" not in response
