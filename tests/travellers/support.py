"""Issuing traveller links in tests, and the strings a link must never show."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from safepassage.cases.models import Traveller
from safepassage.travellers import services
from safepassage.vault.keyring import unlocked

STEP = "At 03:30 a blue car with its lights on will wait outside the east gate."
SIGNAL = "The driver holds a folded red newspaper."

# Everything the world's case holds that is not the link's one step: its
# code name, the traveller's name and phone, the journey and both legs, the
# handoff between them.
CASE_SECRETS = [
    "Camellia",
    "insulin",
    "Traveller Secret-Name",
    "+86 139 0000 1111",
    "North route",
    "Yanji to Changchun",
    "Changchun to Dandong",
    "Car park behind the Changchun grain market",
    "吉A 7Q219",
    "umbrella in the right hand",
    "Wisteria",
    "Other Hidden-Person",
]


def traveller_of(case) -> Traveller:
    return Traveller.objects.filter(case=case).first()


def issue(world, *, case=None, now: datetime | None = None, **kwargs) -> services.IssuedLink:
    case = case or world.case
    values = {"step": STEP, "signal": SIGNAL, "expires_in_hours": 12}
    values.update(kwargs)
    with unlocked(world.coord_keyring):
        return services.do_issue_traveller_link(
            actor=world.coord, case=case, traveller=traveller_of(case), now=now, **values
        )


def link_url(token: str) -> str:
    return reverse("travellers:link", kwargs={"token": token})


def report_url(token: str) -> str:
    return reverse("travellers:report", kwargs={"token": token})
