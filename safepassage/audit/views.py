"""The coordinators' audit log page."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from safepassage.dashboard.access import MemberRequest, coordinator_view

from . import selectors


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of one entry: the records listed apart from the
    other facts, which are small values shown as ``key: value`` (an id the
    reader may not see is None, shown as withheld)."""
    detail = dict(entry.get("detail") or {})
    records = detail.pop("records") if isinstance(detail.get("records"), list) else []
    return {
        **entry,
        "records": records,
        "facts": [
            (key, value, key in entry.get("withheld", ())) for key, value in sorted(detail.items())
        ],
    }


@coordinator_view
def log_view(request: MemberRequest) -> HttpResponse:
    organisation = request.user.organisation
    page, entries = selectors.log_page_for(request.user, page=request.GET.get("page"))
    return render(
        request,
        "audit/log.html",
        {
            "title": _("Audit log"),
            "page": page,
            "rows": [_row(entry) for entry in entries],
            "head": selectors.head_of(organisation=organisation),
            "organisation_id": organisation.pk,
        },
    )
