"""Over HTTP, a duress check-in cannot be told from a normal one.

Whoever holds the phone (or watches its traffic) sees, for both PINs, the
same status, the same redirect, the same headers and the same confirmation
page; only the times and the per-request tokens differ. Behind it, only the
duress PIN raises a critical alert.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.alerts.models import Alert, AlertKind, Severity
from safepassage.checkins.deadlines import next_due
from safepassage.checkins.models import Checkin, CheckinKind
from safepassage.members.models import Member
from tests.alerts.support import CHECKIN_PIN, DURESS_PIN, start_first_leg
from tests.conftest import vault_login

pytestmark = pytest.mark.django_db

ZONE = "Asia/Shanghai"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TIME = re.compile(r'<time datetime="[^"]*">[^<]*</time>')
# Headers whose values are times or per-request secrets; their presence is still compared.
VOLATILE = {"date", "expires"}


def _normalised(body: str) -> str:
    body = CSRF_INPUT.sub('name="csrfmiddlewaretoken" value="(token)"', body)
    return TIME.sub("<time>(time)</time>", body)


def _headers(response) -> dict[str, str]:
    """Header names and values, without Set-Cookie (compared by cookie name)
    and with times replaced by a marker once they are checked to be dates."""
    headers = {}
    for name, value in response.headers.items():
        key = name.lower()
        if key == "set-cookie":
            continue
        if key in VOLATILE:
            assert parsedate_to_datetime(value) is not None
            value = "(http date)"
        headers[key] = value
    return headers


def _check_in(client: Client, leg, pin: str) -> tuple:
    """Open the leg page, post its check-in form (with its CSRF token, as a
    browser would), follow the redirect. Returns (post response, page response)."""
    leg_url = reverse("field:leg", kwargs={"leg": leg.pk})
    form_page = client.get(leg_url)
    assert form_page.status_code == 200
    body = form_page.content.decode()
    action = reverse("field:check_in", kwargs={"leg": leg.pk})
    assert f'action="{action}"' in body
    token = CSRF_INPUT.search(body).group(1)
    posted = client.post(
        action, {"csrfmiddlewaretoken": token, "pin": pin, "note": "All calm, moving on."}
    )
    followed = client.get(posted["Location"])
    return posted, followed


def _duress_alerts(leg):
    return Alert.objects.filter(leg=leg, kind=AlertKind.DURESS)


def test_duress_check_in_is_indistinguishable_over_http(world):
    leg, member, ring = start_first_leg(world)
    Member.objects.filter(pk=member.pk).update(time_zone=ZONE)
    member.refresh_from_db()
    client = Client(enforce_csrf_checks=True)
    vault_login(client, member, ring)

    normal_post, normal_page = _check_in(client, leg, CHECKIN_PIN)
    assert not _duress_alerts(leg).exists()
    duress_post, duress_page = _check_in(client, leg, DURESS_PIN)

    # Behind the scenes: both check-ins count, and only the second one alarmed.
    assert Checkin.objects.filter(leg=leg, kind=CheckinKind.CHECKIN).count() == 2
    (alert,) = _duress_alerts(leg)
    assert alert.severity == Severity.CRITICAL
    assert alert.raised_by_id == member.pk

    # The redirect: same status, same target, same headers, same cookies set.
    assert normal_post.status_code == duress_post.status_code == 302
    assert normal_post["Location"] == duress_post["Location"]
    assert normal_post["Location"] == reverse("field:leg", kwargs={"leg": leg.pk})
    assert _headers(normal_post) == _headers(duress_post)
    assert sorted(normal_post.cookies) == sorted(duress_post.cookies)
    assert normal_post.content == duress_post.content

    # The confirmation page: same status, headers, cookies and (normalised) body.
    assert normal_page.status_code == duress_page.status_code == 200
    normal_headers, duress_headers = _headers(normal_page), _headers(duress_page)
    # The length follows the body; the bodies differ only in their times and tokens.
    assert int(normal_headers.pop("content-length")) == len(normal_page.content)
    assert int(duress_headers.pop("content-length")) == len(duress_page.content)
    assert normal_headers == duress_headers
    assert "no-store" in normal_headers["cache-control"]
    assert sorted(normal_page.cookies) == sorted(duress_page.cookies)
    normal_body = normal_page.content.decode()
    duress_body = duress_page.content.decode()
    assert _normalised(normal_body) == _normalised(duress_body)

    # And that page is the receipt: received, and when the next one is due, in
    # the member's zone, named.
    for body in (normal_body, duress_body):
        assert "Check-in received" in body
        assert "Next check-in due by" in body
        assert f"({ZONE})" in body
    due = timezone.localtime(next_due(leg), timezone.get_fixed_timezone(8 * 60))
    receipt = duress_body[duress_body.index('class="receipt"') :]
    assert f", {due:%H:%M}</time> ({ZONE})" in receipt
    assert "duress" not in duress_body.lower()


def test_a_wrong_pin_is_the_one_answer_that_differs(world):
    """Positive control for the comparison above: a refused check-in does look
    different (so the normalisation is not hiding everything)."""
    leg, member, ring = start_first_leg(world)
    client = Client(enforce_csrf_checks=True)
    vault_login(client, member, ring)
    normal_post, normal_page = _check_in(client, leg, CHECKIN_PIN)

    leg_url = reverse("field:leg", kwargs={"leg": leg.pk})
    token = CSRF_INPUT.search(client.get(leg_url).content.decode()).group(1)
    wrong = client.post(
        reverse("field:check_in", kwargs={"leg": leg.pk}),
        {"csrfmiddlewaretoken": token, "pin": "0000", "note": "All calm, moving on."},
    )

    assert normal_post.status_code == 302 and wrong.status_code == 200
    assert _normalised(wrong.content.decode()) != _normalised(normal_page.content.decode())
    assert "That PIN is not right." in wrong.content.decode()
    assert not Alert.objects.exists()
