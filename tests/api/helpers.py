"""Shared helpers for the API tests."""

from __future__ import annotations

from django.urls import reverse

from safepassage.journeys.models import Handoff
from safepassage.journeys.services import do_start_journey
from safepassage.vault.keyring import unlocked

NOT_FOUND = {"detail": "Not found."}


def legs_url() -> str:
    return reverse("api:legs")


def leg_url(leg) -> str:
    return reverse("api:leg", kwargs={"leg": leg.pk if hasattr(leg, "pk") else leg})


def start_url(leg) -> str:
    return reverse("api:leg_start", kwargs={"leg": leg.pk if hasattr(leg, "pk") else leg})


def handed_off_url(leg) -> str:
    return reverse("api:leg_handed_off", kwargs={"leg": leg.pk if hasattr(leg, "pk") else leg})


def handoff_url(handoff) -> str:
    pk = handoff.pk if hasattr(handoff, "pk") else handoff
    return reverse("api:handoff", kwargs={"handoff": pk})


def cases_url() -> str:
    return reverse("api:cases")


def case_url(case) -> str:
    return reverse("api:case", kwargs={"case": case.pk if hasattr(case, "pk") else case})


def handoffs(world) -> tuple[Handoff, Handoff, Handoff]:
    """(pickup, middle, arrival) of the world's two-leg journey."""
    by_position = {h.position: h for h in Handoff.objects.filter(journey=world.journey)}
    return by_position[0], by_position[1], by_position[2]


def phrases(world, handoff: Handoff) -> tuple[str, str]:
    """The handoff's phrase pair as it is said, as its coordinator reads it."""
    with unlocked(world.coord_keyring):
        fresh = Handoff.objects.get(pk=handoff.pk)
        return fresh.spoken_challenge.text, fresh.spoken_response.text


def start_journey(world) -> None:
    with unlocked(world.coord_keyring):
        do_start_journey(actor=world.coord, journey=world.journey)


def checkins_url(leg) -> str:
    return reverse("api:leg_checkins", kwargs={"leg": leg.pk if hasattr(leg, "pk") else leg})


def problems_url(leg) -> str:
    return reverse("api:leg_problems", kwargs={"leg": leg.pk if hasattr(leg, "pk") else leg})


def tokens_url() -> str:
    return reverse("api:tokens")


def revoke_url(token) -> str:
    return reverse(
        "api:token_revoke", kwargs={"token": token.pk if hasattr(token, "pk") else token}
    )


def issue_token(member, keyring, cell, label: str = "bridge") -> tuple[str, object]:
    """(token, its row): issued by ``member`` for ``cell`` with their keys in force."""
    from safepassage.api.services import do_issue_cell_token

    with unlocked(keyring):
        issued = do_issue_cell_token(actor=member, cell=cell.pk, label=label)
    return issued.token, issued.record


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_entries(world, verb: str) -> list[dict]:
    from safepassage.audit.selectors import read_entries

    with unlocked(world.coord_keyring):
        return [e for e in read_entries(organisation=world.org) if e["verb"] == verb]
