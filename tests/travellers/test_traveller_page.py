"""The traveller's side of a link: open once, on one browser; three buttons;
a clear, distinct message for every link that cannot be used, and nothing
beyond the one step ever shown."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone, translation

from safepassage.alerts.models import Alert, AlertStatus, EscalationLevel, Severity
from safepassage.cases.models import CaseCoordinator
from safepassage.core.management.commands.compiletranslations import compile_all
from safepassage.notifications.models import Notification
from safepassage.travellers import services, tasks
from safepassage.travellers.models import LinkStatus, ReportKind, TravellerLink, TravellerReport
from safepassage.vault.keyring import unlocked

from .support import CASE_SECRETS, SIGNAL, STEP, issue, link_url, report_url

pytestmark = pytest.mark.django_db

TRAVELLER_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _guarded(response) -> None:
    assert "no-store" in response["Cache-Control"], response.status_code
    for name, value in TRAVELLER_HEADERS.items():
        assert response[name] == value, (name, response.status_code)


def _open(client: Client, token: str):
    """GET the link, press Open, follow to the step page."""
    first = client.get(link_url(token))
    assert first.status_code == 200
    opened = client.post(link_url(token))
    assert opened.status_code == 303, opened.status_code
    assert opened["Location"] == link_url(token)
    _guarded(opened)
    page = client.get(link_url(token))
    _guarded(page)
    return page


def _body(response) -> str:
    return response.content.decode()


def _link(issued) -> TravellerLink:
    return TravellerLink.objects.get(pk=issued.link.pk)


def test_open_then_the_three_buttons(world):
    issued = issue(world)
    client = Client()

    first = client.get(link_url(issued.token))
    _guarded(first)
    assert STEP not in _body(first) and SIGNAL not in _body(first)
    assert _link(issued).status == LinkStatus.ISSUED  # looking is not opening

    page = _open(client, issued.token)
    body = _body(page)
    assert page.status_code == 200
    assert STEP in body and SIGNAL in body
    for label in ("I am out", "I am in the car", "Something is wrong"):
        assert label in body
    link = _link(issued)
    assert link.status == LinkStatus.OPENED and link.opened_at is not None

    response = client.post(report_url(issued.token), {"kind": "out"})
    assert response.status_code == 303
    assert response["Location"] == link_url(issued.token) + "?sent=out"
    _guarded(response)
    receipt = client.get(response["Location"])
    assert "Sent: “I am out”" in _body(receipt)
    assert STEP in _body(receipt)

    assert Alert.objects.filter(case=world.case).count() == 0
    response = client.post(report_url(issued.token), {"kind": "wrong"})
    assert response.status_code == 303
    alert = Alert.objects.get(case=world.case)
    assert alert.severity == Severity.CRITICAL
    assert alert.status == AlertStatus.OPEN
    assert alert.escalation_level == EscalationLevel.CASE_COORDINATORS
    assert alert.leg_id is None and alert.compartment_id == world.case.compartment_id
    coordinators = set(
        CaseCoordinator.objects.filter(case=world.case).values_list("member_id", flat=True)
    )
    told = set(Notification.objects.filter(alert=alert).values_list("member_id", flat=True))
    assert told == coordinators and len(told) == 2
    # Pressed again while that alert is open: recorded, and added to the same alert.
    client.post(report_url(issued.token), {"kind": "wrong"})
    assert Alert.objects.filter(case=world.case).count() == 1
    assert TravellerReport.objects.filter(link_id=issued.link.pk, alert=alert).count() == 2

    response = client.post(report_url(issued.token), {"kind": "in_car"})
    assert response.status_code == 303
    cookie = response.cookies[next(iter(response.cookies))]
    assert cookie.value == "" and cookie["max-age"] == 0  # the phone keeps nothing
    link = _link(issued)
    assert link.status == LinkStatus.COMPLETED and link.completed_at is not None
    assert link.sealed_for_traveller is None and link.binding_digest == ""
    done = client.get(response["Location"])
    assert done.status_code == 410
    assert "This link has been completed and no longer works." in _body(done)
    assert "you are in the car" in _body(done)
    assert STEP not in _body(done) and SIGNAL not in _body(done)

    kinds = list(
        TravellerReport.objects.filter(link_id=issued.link.pk)
        .order_by("at")
        .values_list("kind", flat=True)
    )
    assert kinds == ["out", "wrong", "wrong", "in_car"]


def test_the_binding_cookie_is_scoped_to_the_link(world):
    issued = issue(world)
    client = Client()
    client.get(link_url(issued.token))
    response = client.post(link_url(issued.token))
    (name,) = response.cookies.keys()
    cookie = response.cookies[name]
    assert name == "sp_link"
    assert cookie["path"] == link_url(issued.token)
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP in development
    # Only a digest of the cookie is stored.
    assert cookie.value not in _link(issued).binding_digest
    assert len(cookie.value) >= 43


@override_settings(SESSION_COOKIE_SECURE=True)
def test_the_cookie_is_secure_when_sessions_are(world):
    issued = issue(world)
    client = Client()
    response = client.post(link_url(issued.token))
    (name,) = response.cookies.keys()
    assert name == "__Secure-sp_link"
    assert response.cookies[name]["secure"] is True
    page = client.get(link_url(issued.token))
    assert STEP in _body(page)


def test_a_second_browser_is_refused_and_the_coordinators_warned(world):
    issued = issue(world)
    _open(Client(), issued.token)

    other = Client()
    response = other.get(link_url(issued.token))
    _guarded(response)
    assert response.status_code == 410
    body = _body(response)
    assert "This link has already been used." in body
    assert STEP not in body and SIGNAL not in body
    alert = Alert.objects.get(case=world.case)
    assert alert.severity == Severity.WARNING
    assert Notification.objects.filter(alert=alert).count() == 2

    # Pressing Open, or a button, from that browser changes nothing.
    response = other.post(link_url(issued.token))
    assert response.status_code == 410
    assert "This link has already been used." in _body(response)
    response = other.post(report_url(issued.token), {"kind": "in_car"})
    assert response.status_code == 410
    assert not TravellerReport.objects.filter(link_id=issued.link.pk, kind="in_car").exists()
    link = _link(issued)
    assert link.status == LinkStatus.OPENED
    assert link.refused_openings == 3
    assert Alert.objects.filter(case=world.case).count() == 1  # warned once, not per try
    assert (
        TravellerReport.objects.filter(
            link_id=issued.link.pk, kind=ReportKind.REFUSED_OPENING
        ).count()
        == 3
    )


def test_refused_openings_are_recorded_up_to_a_cap(world):
    issued = issue(world)
    _open(Client(), issued.token)
    other = Client()
    for _ in range(services.MAX_RECORDED_REFUSALS + 5):
        assert other.get(link_url(issued.token)).status_code == 410
    link = _link(issued)
    assert link.refused_openings == services.MAX_RECORDED_REFUSALS + 5
    assert link.reports.count() == services.MAX_RECORDED_REFUSALS


def test_an_expired_link_is_refused_and_wiped(world):
    issued = issue(world, now=timezone.now() - timedelta(hours=13))
    response = Client().get(link_url(issued.token))
    _guarded(response)
    assert response.status_code == 410
    assert "This link has expired." in _body(response)
    assert STEP not in _body(response)
    assert _link(issued).sealed_for_traveller is None
    assert Client().post(link_url(issued.token)).status_code == 410


def test_a_link_expires_for_the_browser_holding_it_too(world):
    issued = issue(world, now=timezone.now() - timedelta(hours=11, minutes=59), expires_in_hours=12)
    client = Client()
    _open(client, issued.token)
    TravellerLink.objects.filter(pk=issued.link.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(link_url(issued.token))
    assert response.status_code == 410
    assert "This link has expired." in _body(response)
    response = client.post(report_url(issued.token), {"kind": "out"})
    assert response.status_code == 410
    assert not TravellerReport.objects.filter(link_id=issued.link.pk).exists()


def test_a_revoked_link_is_refused(world):
    issued = issue(world)
    client = Client()
    _open(client, issued.token)
    with unlocked(world.coord_keyring):
        services.do_revoke_traveller_link(actor=world.coord, link=_link(issued))
    for browser in (client, Client()):
        response = browser.get(link_url(issued.token))
        _guarded(response)
        assert response.status_code == 410
        assert "This link has been withdrawn." in _body(response)
        assert STEP not in _body(response)
    assert client.post(report_url(issued.token), {"kind": "wrong"}).status_code == 410
    assert not Alert.objects.filter(case=world.case).exists()
    link = _link(issued)
    assert link.sealed_for_traveller is None and link.binding_digest == ""
    assert link.refused_openings == 3  # counted (and audited), but no alert
    assert not link.reports.exists()


def test_a_completed_link_is_refused_to_everyone(world):
    issued = issue(world)
    client = Client()
    _open(client, issued.token)
    client.post(report_url(issued.token), {"kind": "in_car"})
    for browser in (client, Client()):
        response = browser.get(link_url(issued.token))
        assert response.status_code == 410
        assert "This link has been completed and no longer works." in _body(response)
        assert "you are in the car" not in _body(response)
    assert client.post(report_url(issued.token), {"kind": "out"}).status_code == 410


def test_an_unknown_token_gets_the_generic_page(world):
    issue(world)
    for token in ("x" * 43, "not-a-token", "case", "a" * 500):
        response = Client().get(link_url(token))
        _guarded(response)
        assert response.status_code == 404
        assert "This link is not valid." in _body(response)
        assert Client().post(link_url(token)).status_code == 404
        assert Client().post(report_url(token), {"kind": "out"}).status_code == 404


def test_each_refusal_has_its_own_message():
    messages = [str(m) for m in services.REFUSALS.values()]
    assert len(set(messages)) == len(messages)


def test_a_button_before_opening_goes_back_to_the_open_page(world):
    issued = issue(world)
    response = Client().post(report_url(issued.token), {"kind": "out"})
    assert response.status_code == 303
    assert response["Location"] == link_url(issued.token)
    assert _link(issued).status == LinkStatus.ISSUED
    assert not TravellerReport.objects.exists()


def test_an_unknown_button_changes_nothing(world):
    issued = issue(world)
    client = Client()
    _open(client, issued.token)
    response = client.post(report_url(issued.token), {"kind": "refused_opening"})
    assert response.status_code == 303
    assert not TravellerReport.objects.exists()


def test_the_page_shows_only_its_one_step(world):
    """Every page a link can show holds none of the case's other strings: no
    code name, no traveller name or phone, no journey, leg or handoff."""
    issued = issue(world)
    link = issued.link
    secrets = [*CASE_SECRETS, str(world.case.pk), str(link.traveller_id), str(link.pk)]
    client = Client()
    pages = [client.get(link_url(issued.token))]
    pages.append(_open(client, issued.token))
    response = client.post(report_url(issued.token), {"kind": "out"})
    pages.append(client.get(response["Location"]))
    pages.append(Client().get(link_url(issued.token)))  # used
    response = client.post(report_url(issued.token), {"kind": "in_car"})
    pages.append(client.get(response["Location"]))  # completed
    pages.append(Client().get(link_url("z" * 43)))  # unknown
    for page in pages:
        body = _body(page)
        for secret in secrets:
            assert secret not in body, (page.status_code, secret)
    assert STEP in _body(pages[1])


def test_the_time_is_shown_with_its_zone_named(world):
    bangkok = zoneinfo.ZoneInfo("Asia/Bangkok")
    at = (timezone.now() + timedelta(hours=3)).astimezone(bangkok).replace(second=0, microsecond=0)
    issued = issue(world, at=at, zone="Asia/Bangkok")
    body = _body(_open(Client(), issued.token))
    assert "Asia/Bangkok" in body
    assert f'datetime="{at.isoformat()}"' in body
    assert at.strftime("%H:%M") in body


def test_the_page_speaks_the_language_chosen(world):
    issued = issue(world, language="ko")
    body = _body(_open(Client(), issued.token))
    assert '<html lang="ko">' in body


@pytest.fixture
def compiled(settings):
    """Compiled catalogues (a fresh checkout has none), freshly loaded."""
    compile_all()
    settings.LOCALE_PATHS = [*settings.LOCALE_PATHS]


def test_the_first_page_speaks_the_links_language(world, compiled):
    issued = issue(world, language="ko")
    # A browser that asks for English still gets the link's language.
    body = _body(Client(HTTP_ACCEPT_LANGUAGE="en").get(link_url(issued.token)))
    assert '<html lang="ko">' in body
    assert "당신에게 온 메시지" in body and "A message for you" not in body


def test_the_closing_page_speaks_the_links_language(world, compiled):
    issued = issue(world, language="zh-hans")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    _open(client, issued.token)
    response = client.post(report_url(issued.token), {"kind": "in_car"})
    assert response.status_code == 303
    closing = client.get(response["Location"])
    assert closing.status_code == 410
    body = _body(closing)
    assert '<html lang="zh-hans">' in body
    with translation.override("zh-hans"):
        thanks = translation.gettext("Sent: you are in the car. Thank you.")
    assert "已上车" in thanks and thanks in body and "Thank you" not in body
    # Only the language travels in the address, and only a known one is used.
    assert TravellerLink.objects.get(pk=issued.link.pk).sealed_for_traveller is None
    forged = client.get(link_url(issued.token) + "?sent=in_car&lang=xx")
    assert '<html lang="en">' in _body(forged)


def test_exactly_one_opening_wins(world):
    issued = issue(world)
    opened = services.do_open_traveller_link(token=issued.token)
    with pytest.raises(services.LinkRefused) as refused:
        services.do_open_traveller_link(token=issued.token)
    assert refused.value.reason == services.USED
    assert _link(issued).binding_digest
    assert opened.binding


def test_wiping_ended_links(world):
    live = issue(world)
    past = issue(world, now=timezone.now() - timedelta(hours=13))
    assert tasks.wipe_ended_links() == 1
    assert _link(past).sealed_for_traveller is None
    assert _link(live).sealed_for_traveller is not None
    assert tasks.wipe_ended_links() == 0


def test_a_moved_ciphertext_does_not_open(world):
    """The traveller's copy is bound to its row: copied onto another link it fails."""
    first = issue(world)
    second = issue(world, step="Another step")
    TravellerLink.objects.filter(pk=second.link.pk).update(
        sealed_for_traveller=_link(first).sealed_for_traveller
    )
    from safepassage.vault.crypto import SealBroken

    with pytest.raises(SealBroken):
        from safepassage.travellers.selectors import step_for_traveller

        step_for_traveller(_link(second), first.token)


def test_audit_entries_for_the_travellers_actions(world):
    """The traveller's actions are on record with no actor and the link as target."""
    from safepassage.audit.selectors import read_entries
    from safepassage.organisations.models import Organisation
    from tests.vault.support import fresh_keyring

    issued = issue(world)
    client = Client()
    _open(client, issued.token)
    client.post(report_url(issued.token), {"kind": "out"})
    Client().get(link_url(issued.token))  # refused: used by another browser
    with unlocked(fresh_keyring(world.coord_keyring)):
        entries = read_entries(organisation=Organisation.objects.get(pk=world.org.pk), limit=50)
    on_link = [e for e in entries if e["target_id"] == str(issued.link.pk)]
    by_verb = {e["verb"]: e for e in on_link}
    assert set(by_verb) == {
        "traveller_link.issue",
        "traveller_link.open",
        "traveller_link.report",
        "traveller_link.refused",
    }
    assert by_verb["traveller_link.issue"]["actor"] == str(world.coord.pk)
    for verb in ("traveller_link.open", "traveller_link.report", "traveller_link.refused"):
        assert by_verb[verb]["actor"] is None
    assert by_verb["traveller_link.report"]["detail"] == {"kind": "out"}
    assert by_verb["traveller_link.refused"]["detail"] == {"reason": "used"}
    raised = [e for e in entries if e["verb"] == "alert.raise"]
    assert raised and raised[0]["detail"]["traveller_link"] == str(issued.link.pk)
    for entry in on_link:
        assert STEP not in str(entry) and SIGNAL not in str(entry)


def test_purging_the_case_takes_its_links(world):
    """A purge deletes the links with the case: the URL then leads nowhere."""
    from safepassage.cases.services import do_purge_case

    issued = issue(world)
    client = Client()
    _open(client, issued.token)
    client.post(report_url(issued.token), {"kind": "wrong"})
    with unlocked(world.coord_keyring):
        do_purge_case(actor=world.coord, case=world.case)
    assert not TravellerLink.objects.exists()
    assert not TravellerReport.objects.exists()
    response = client.get(link_url(issued.token))
    assert response.status_code == 404
    assert "This link is not valid." in _body(response)


def test_the_quick_exit_works_with_no_account_and_clears_the_link_cookie(world):
    from django.urls import reverse

    issued = issue(world)
    client = Client()
    body = _body(_open(client, issued.token))
    exit_url = reverse("field:exit")
    assert f'action="{exit_url}"' in body
    response = client.post(exit_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("field:weather")
    assert "cookies" in response["Clear-Site-Data"]


def test_the_worker_wipes_an_expired_link_nobody_opened(world):
    """The worker's tick wipes an expired link's sealed copy without anyone
    opening it; a live link is left alone."""
    from safepassage.alerts.worker import tick

    expired = issue(world, now=timezone.now() - timedelta(hours=13))
    live = issue(world)
    assert _link(expired).sealed_for_traveller is not None
    assert tick()["links_wiped"] == 1
    assert _link(expired).sealed_for_traveller is None
    assert _link(live).sealed_for_traveller is not None
    assert Client().get(link_url(expired.token)).status_code == 410
