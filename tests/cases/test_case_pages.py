"""Case pages: list, open, the case page, notes, status, travellers, coordinators."""

from __future__ import annotations

import re

from django.urls import reverse

from safepassage.cases.models import Case, CaseCoordinator, CaseEvent, CaseStatus, Traveller
from tests.dashboard.permissions import assert_matrix


def _case_urls(case) -> list[str]:
    traveller = Traveller.objects.filter(case=case).first()
    return [
        reverse("cases:detail", args=[case.pk]),
        reverse("cases:edit", args=[case.pk]),
        reverse("cases:note", args=[case.pk]),
        reverse("cases:status", args=[case.pk]),
        reverse("cases:traveller_new", args=[case.pk]),
        reverse("cases:coordinator_add", args=[case.pk]),
        reverse("cases:traveller_edit", args=[traveller.pk]),
    ]


def test_permission_matrix(client, world):
    assert_matrix(
        client,
        world,
        record_urls=_case_urls(world.case),
        open_urls=[reverse("cases:list"), reverse("cases:new")],
        other_case_urls=_case_urls(world.other_case),
        secrets=["Camellia", "Wisteria", "Traveller Secret-Name"],
    )
    assert CaseEvent.objects.filter(case=world.case, kind="note").count() == 0


def test_list_shows_only_the_cases_one_coordinates(client, world, login):
    login(world.coord2)
    body = client.get(reverse("cases:list")).content.decode()
    assert "Camellia" in body
    assert "Wisteria" not in body


def test_open_a_case_through_the_form_then_see_it_listed(client, world, login):
    login(world.coord)
    response = client.post(
        reverse("cases:new"),
        {
            "codename": "Magnolia",
            "needs": "asthma inhaler",
            "consent_given": "on",
            "consent_scope": "the journey to the embassy",
            "summary": "Mother and daughter, Hyesan.",
            "coordinators": [str(world.coord2.pk)],
        },
    )
    assert response.status_code == 302
    case = Case.objects.exclude(pk__in=[world.case.pk, world.other_case.pk]).get()
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    assert set(CaseCoordinator.objects.filter(case=case).values_list("member", flat=True)) == {
        world.coord.pk,
        world.coord2.pk,
    }
    listing = client.get(reverse("cases:list")).content.decode()
    row = re.search(r"Magnolia</a></th>(.*?)</tr>", listing, re.S)
    assert row, "the new case is not listed"
    assert "Intake" in row.group(1)
    assert re.search(r'<td class="num">0</td>', row.group(1))
    page = client.get(response["Location"]).content.decode()
    assert "asthma inhaler" in page
    assert "the journey to the embassy" in page
    assert "Case opened." in page


def test_invalid_case_form_shows_errors_and_stores_nothing(client, world, login):
    login(world.coord)
    before = Case.objects.count()
    response = client.post(
        reverse("cases:new"), {"codename": "", "consent_given": "on", "consent_scope": ""}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body
    assert "This field is required." in body
    assert "Say what the traveller agreed to." in body
    assert 'aria-invalid="true"' in body
    assert Case.objects.count() == before


def test_case_page_shows_travellers_journeys_and_timeline(client, world, login):
    login(world.coord)
    body = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert "Traveller Secret-Name" in body
    assert "+86 139 0000 1111" in body
    assert "North route" in body
    assert reverse("journeys:detail", args=[world.journey.pk]) in body
    assert "Journey planned." in body
    assert "Given" in body and "journey" in body


def test_add_a_note_and_refuse_an_empty_one(client, world, login):
    login(world.coord)
    url = reverse("cases:note", args=[world.case.pk])
    response = client.post(url, {"text": "Called the pastor in Dandong."})
    assert response.status_code == 302
    page = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert "Called the pastor in Dandong." in page
    count = CaseEvent.objects.filter(case=world.case).count()
    response = client.post(url, {"text": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert CaseEvent.objects.filter(case=world.case).count() == count


def _offered_statuses(body: str) -> set[str]:
    form = re.search(r'<select name="status".*?</select>', body, re.S)
    assert form, "no status choice on the page"
    return set(re.findall(r'<option value="([a-z_]+)"', form.group(0)))


def test_only_allowed_status_transitions_are_offered(client, world, login):
    login(world.coord)
    body = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert world.case.status == CaseStatus.PLANNING
    offered = _offered_statuses(body)
    assert CaseStatus.IN_TRANSIT in offered and CaseStatus.CLOSED in offered
    assert CaseStatus.ARRIVED not in offered and CaseStatus.PLANNING not in offered


def test_change_status_and_refuse_a_bad_transition(client, world, login):
    login(world.coord)
    url = reverse("cases:status", args=[world.case.pk])
    response = client.post(url, {"status": CaseStatus.ARRIVED})
    assert response.status_code == 200
    assert "A case that is Planning cannot become Arrived." in response.content.decode()
    assert Case.objects.get(pk=world.case.pk).status == CaseStatus.PLANNING
    response = client.post(url, {"status": CaseStatus.DETAINED, "note": "Stopped at Tumen."})
    assert response.status_code == 302
    assert Case.objects.get(pk=world.case.pk).status == CaseStatus.DETAINED
    page = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert "Stopped at Tumen." in page


def test_edit_the_case(client, world, login):
    login(world.coord)
    url = reverse("cases:edit", args=[world.case.pk])
    assert 'value="Camellia"' in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "codename": "Camellia II",
            "needs": "insulin, kept cold",
            "consent_given": "on",
            "consent_scope": "journey",
            "summary": "",
        },
    )
    assert response.status_code == 302
    body = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert "Camellia II" in body and "insulin, kept cold" in body


def test_add_and_edit_a_traveller(client, world, login):
    login(world.coord)
    response = client.post(
        reverse("cases:traveller_new", args=[world.case.pk]),
        {"name": "Second Traveller", "alias": "Little Sister", "birth_year": "2012"},
    )
    assert response.status_code == 302
    traveller = Traveller.objects.filter(case=world.case).order_by("created_at").last()
    edit = reverse("cases:traveller_edit", args=[traveller.pk])
    assert 'value="Little Sister"' in client.get(edit).content.decode()
    client.post(edit, {"name": "Second Traveller", "alias": "Sister", "birth_year": "2011"})
    body = client.get(reverse("cases:detail", args=[world.case.pk])).content.decode()
    assert "Sister" in body and "2011" in body and "Little Sister" not in body
    before = Traveller.objects.count()
    response = client.post(reverse("cases:traveller_new", args=[world.case.pk]), {"name": ""})
    assert "This field is required." in response.content.decode()
    assert Traveller.objects.count() == before


def test_add_a_co_coordinator(client, world, login):
    login(world.coord)
    url = reverse("cases:coordinator_add", args=[world.other_case.pk])
    assert "Second Coordinator" in client.get(url).content.decode()
    response = client.post(url, {"member": str(world.coord2.pk)})
    assert response.status_code == 302
    login(world.coord2)
    body = client.get(reverse("cases:detail", args=[world.other_case.pk])).content.decode()
    assert "Wisteria" in body and "Other Hidden-Person" in body


def test_a_co_coordinator_from_elsewhere_is_not_accepted(client, world, login):
    cell_member = world.member(0)[0]
    login(world.coord)
    url = reverse("cases:coordinator_add", args=[world.other_case.pk])
    response = client.post(url, {"member": str(cell_member.pk)})
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not CaseCoordinator.objects.filter(case=world.other_case, member=cell_member).exists()
