"""Reading traveller links.

Coordinators: a link exists for a member only if they coordinate its case
(``links_for``), so an outsider gets the same 404 as for a missing link.

Travellers: nobody is logged in. A link is found by the digest of the token
in its URL (``link_by_token``); what it says is opened with that token
(``step_for_traveller``), and only while the link is live for the browser
that holds it (``browser_holds``).
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from safepassage.cases.models import Case
from safepassage.cases.selectors import cases_for
from safepassage.vault import crypto

from .models import LIVE_STATES, LinkState, TravellerLink, TravellerReport

# Tokens are 43 characters of URL-safe base64; anything far from that is not one.
MAX_TOKEN_LENGTH = 100


def links_for(member) -> QuerySet[TravellerLink]:
    """The traveller links of the cases ``member`` coordinates (none for anyone else)."""
    return TravellerLink.objects.filter(case__in=cases_for(member))


def get_link(member, link_id) -> TravellerLink:
    """The link, or Http404 for a missing link and an inaccessible one alike."""
    return get_object_or_404(links_for(member).select_related("case"), pk=link_id)


# The badge each state wears on the case page (the coordinator stylesheet's colours).
STATE_BADGES = {
    LinkState.ISSUED: "pending",
    LinkState.OPENED: "active",
    LinkState.COMPLETED: "completed",
    LinkState.REVOKED: "cancelled",
    LinkState.EXPIRED: "closed",
}


@dataclass(frozen=True)
class LinkRow:
    """One link as the case page lists it (the plan opened with the case's key)."""

    link: TravellerLink
    step: Step
    state: str

    @property
    def state_label(self) -> str:
        return str(LinkState(self.state).label)

    @property
    def badge(self) -> str:
        return STATE_BADGES[LinkState(self.state)]

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


def links_of_case(case: Case, now: datetime | None = None) -> list[LinkRow]:
    """The case's links, newest first, with their traveller, reports and plan.
    The caller decides access (``cases.selectors.get_case``) and holds the
    case's key."""
    now = now or timezone.now()
    links = case.traveller_links.select_related("traveller").prefetch_related(
        Prefetch("reports", queryset=TravellerReport.objects.order_by("at"))
    )
    return [
        LinkRow(link, plan_to_step(cast(dict, link.plan or {})), link.state_at(now))
        for link in links
    ]


# --- the traveller's side (nobody logged in) ---------------------------------------------


def link_by_token(token: str) -> TravellerLink | None:
    """The link whose URL carries ``token``, or None (unknown, malformed or purged)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        TravellerLink.objects.select_related("case")
        .filter(token_digest=crypto.token_digest(token))
        .first()
    )


def browser_holds(link: TravellerLink, binding: str | None) -> bool:
    """True when ``binding`` (the browser's link cookie) is the one the link was bound to."""
    if not binding or not link.binding_digest or len(binding) > MAX_TOKEN_LENGTH:
        return False
    return crypto.constant_time_equal(
        crypto.token_digest(binding).encode("ascii"), link.binding_digest.encode("ascii")
    )


def traveller_state(link: TravellerLink, binding: str | None, now: datetime) -> str:
    """What the traveller's page shows: the link's state, except that an opened
    link is "used" for any browser but the one holding it."""
    state = link.state_at(now)
    if state == LinkState.OPENED and not browser_holds(link, binding):
        return USED
    return state


# A state of the traveller's page only (an opened link seen from another browser).
USED = "used"


@dataclass(frozen=True)
class Step:
    """What the traveller is shown: nothing else about the case or the journey."""

    step: str
    signal: str
    at: datetime | None
    zone: str
    language: str


def plan_to_step(plan: dict) -> Step:
    """A ``Step`` from a plan as sealed (the coordinators' copy or the traveller's)."""
    zone = plan.get("zone") or ""
    at = None
    if plan.get("at"):
        at = datetime.fromisoformat(plan["at"])
        if zone:
            at = at.astimezone(zoneinfo.ZoneInfo(zone))
    return Step(
        step=plan.get("step", ""),
        signal=plan.get("signal", ""),
        at=at,
        zone=zone,
        language=plan.get("language") or "",
    )


def step_for_traveller(link: TravellerLink, token: str) -> Step | None:
    """The step, opened with the token from the URL; None once it has been wiped
    (the link ended). Raises ``crypto.SealBroken`` if the ciphertext was altered."""
    if not link.sealed_for_traveller:
        return None
    data = crypto.open_as_link_holder(token, bytes(link.sealed_for_traveller), link.aad)
    return plan_to_step(json.loads(data))
