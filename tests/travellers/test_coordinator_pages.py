"""The coordinator's side: issuing from the case page, the address shown
once, the list of links with their state, revoking, and who may do it."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from safepassage.cases.models import CaseStatus
from safepassage.cases.services import set_status
from safepassage.core.errors import ServiceError
from safepassage.travellers import services
from safepassage.travellers.models import LinkStatus, TravellerLink
from safepassage.vault.keyring import unlocked
from tests.dashboard.permissions import assert_matrix
from tests.dashboard.test_layout import _unlabelled_controls
from tests.pages import no_inline_code

from .support import SIGNAL, STEP, issue, link_url, report_url, traveller_of

pytestmark = pytest.mark.django_db

URL_IN_PAGE = re.compile(r"https?://[^\s<\"]+/t/([A-Za-z0-9_-]{43})/")


def _issue_url(case) -> str:
    return reverse("travellers:issue", kwargs={"case": case.pk})


def _revoke_url(link) -> str:
    return reverse("travellers:revoke", kwargs={"traveller_link": link.pk})


def _form(case, **overrides) -> dict:
    data = {
        "traveller": str(traveller_of(case).pk),
        "step": STEP,
        "signal": SIGNAL,
        "at": "",
        "zone": "Asia/Bangkok",
        "expires_in_hours": "12",
        "language": "",
    }
    data.update(overrides)
    return data


def test_permission_matrix(client, world):
    link = issue(world).link
    other_link = issue(world, case=world.other_case).link
    assert_matrix(
        client,
        world,
        record_urls=[_issue_url(world.case), _revoke_url(link)],
        other_case_urls=[_issue_url(world.other_case), _revoke_url(other_link)],
        secrets=["Camellia", "Wisteria", "Traveller Secret-Name", STEP],
    )
    # Nobody in the matrix revoked anything.
    assert TravellerLink.objects.filter(status=LinkStatus.REVOKED).count() == 0


def test_issue_from_the_case_page_then_the_address_works_once(client, world, login):
    login(world.coord)
    case_page = client.get(reverse("cases:detail", kwargs={"case": world.case.pk}))
    body = case_page.content.decode()
    assert "Traveller links" in body
    assert f'action="{_issue_url(world.case)}"' in body
    assert no_inline_code(body) and not _unlabelled_controls(body)
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert len(ids) == len(set(ids))

    response = client.post(
        _issue_url(world.case), _form(world.case, at="2031-05-04T03:30", expires_in_hours="168")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "would expire before the time it gives" in body  # 2031 is past the expiry
    assert not TravellerLink.objects.exists()

    at = (timezone.now() + timedelta(hours=2)).astimezone(zoneinfo.ZoneInfo("Asia/Bangkok"))
    typed = at.strftime("%Y-%m-%dT%H:%M")
    response = client.post(_issue_url(world.case), _form(world.case, at=typed))
    assert response.status_code == 200
    body = response.content.decode()
    assert "it is shown only this once" in body
    match = URL_IN_PAGE.search(body)
    assert match, body
    token = match.group(1)
    link = TravellerLink.objects.get()
    assert link.issued_by_id == world.coord.pk
    assert token not in link.token_digest

    traveller = Client()
    traveller.post(link_url(token))
    page = traveller.get(link_url(token)).content.decode()
    assert STEP in page and SIGNAL in page
    # The time as typed, in the zone chosen (not the coordinator's own).
    assert at.strftime("%H:%M") in page and "Asia/Bangkok" in page

    # The case page lists it, with the coordinator's own copy of the step.
    body = client.get(reverse("cases:detail", kwargs={"case": world.case.pk})).content.decode()
    assert STEP[:40] in body and SIGNAL in body
    assert "Opened" in body
    assert f'action="{_revoke_url(link)}"' in body
    assert token not in body  # the address is never shown again


def test_the_case_page_shows_what_the_traveller_pressed(client, world, login):
    issued = issue(world)
    traveller = Client()
    traveller.post(link_url(issued.token))
    traveller.post(report_url(issued.token), {"kind": "out"})
    traveller.post(report_url(issued.token), {"kind": "wrong"})
    Client().get(link_url(issued.token))
    login(world.coord)
    body = client.get(reverse("cases:detail", kwargs={"case": world.case.pk})).content.decode()
    section = body[body.index('id="traveller-links"') :]
    for label in ("I am out", "Something is wrong", "Opened again from another browser"):
        assert label in section


def test_revoke_from_the_case_page(client, world, login):
    issued = issue(world)
    login(world.coord)
    # A GET changes nothing.
    response = client.get(_revoke_url(issued.link))
    assert response.status_code == 302
    assert TravellerLink.objects.get().status == LinkStatus.ISSUED
    response = client.post(_revoke_url(issued.link))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("cases:detail", kwargs={"case": world.case.pk}))
    link = TravellerLink.objects.get()
    assert link.status == LinkStatus.REVOKED and link.revoked_by_id == world.coord.pk
    body = client.get(response["Location"]).content.decode()
    assert "The link is revoked" in body
    assert "Revoked" in body
    assert f'action="{_revoke_url(link)}"' not in body  # no button on an ended link
    client.post(_revoke_url(issued.link))
    body = client.get(response["Location"]).content.decode()
    assert "This link has already ended." in body
    assert "This link has been withdrawn." in Client().get(link_url(issued.token)).content.decode()


def test_the_issue_form_reports_its_errors(client, world, login):
    login(world.coord)
    response = client.post(_issue_url(world.case), _form(world.case, step="", zone="Mars/Base"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body
    assert not TravellerLink.objects.exists()
    # A traveller of another case is not offered, and not accepted.
    response = client.post(
        _issue_url(world.case),
        _form(world.case, traveller=str(traveller_of(world.other_case).pk)),
    )
    assert "Nothing was saved." in response.content.decode()
    assert not TravellerLink.objects.exists()


def test_the_services_refuse(world):
    traveller = traveller_of(world.case)
    with unlocked(world.coord2_keyring), pytest.raises(ServiceError):
        services.do_issue_traveller_link(
            actor=world.coord2,
            case=world.other_case,  # coord2 does not coordinate it
            traveller=traveller_of(world.other_case),
            step=STEP,
        )
    cell_member, cell_ring = world.member(0)
    with unlocked(cell_ring), pytest.raises(ServiceError):
        services.do_issue_traveller_link(
            actor=cell_member, case=world.case, traveller=traveller, step=STEP
        )
    refusals = [
        {"traveller": traveller_of(world.other_case)},
        {"step": "   "},
        {"step": "x" * (services.MAX_STEP + 1)},
        {"signal": "x" * (services.MAX_SIGNAL + 1)},
        {"expires_in_hours": 0},
        {"expires_in_hours": services.MAX_HOURS + 1},
        {"language": "xx"},
        {"at": timezone.now().replace(tzinfo=None) + timedelta(hours=1), "zone": "UTC"},
        {"at": timezone.now() + timedelta(hours=1), "zone": "Not/AZone"},
        {"at": timezone.now() + timedelta(hours=13), "zone": "UTC"},
    ]
    for change in refusals:
        values = {"traveller": traveller, "step": STEP}
        values.update(change)
        with unlocked(world.coord_keyring), pytest.raises(ServiceError):
            services.do_issue_traveller_link(actor=world.coord, case=world.case, **values)
    set_status(case=world.case, status=CaseStatus.CLOSED)
    with unlocked(world.coord_keyring), pytest.raises(ServiceError):
        services.do_issue_traveller_link(
            actor=world.coord, case=world.case, traveller=traveller, step=STEP
        )
    assert not TravellerLink.objects.exists()
    # A refusal that got past nothing: the same call on an open case works.
    issue(world, case=world.other_case)
    assert TravellerLink.objects.count() == 1


def test_revoking_is_for_the_case_coordinators(world):
    link = issue(world, case=world.other_case).link
    with unlocked(world.coord2_keyring), pytest.raises(ServiceError):
        services.do_revoke_traveller_link(actor=world.coord2, link=link)
    assert TravellerLink.objects.get().status == LinkStatus.ISSUED
