"""The start page: coordinators see their journeys; cell members go to the field pages."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from safepassage import roles

from . import selectors
from .access import MemberRequest, coordinator_view, is_awaiting_approval


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if is_awaiting_approval(user):
        return redirect("members:awaiting")
    if roles.is_cell_member(user):
        return redirect("field:my_legs")
    return dashboard(request)


@coordinator_view
def dashboard(request: MemberRequest) -> HttpResponse:
    board = selectors.dashboard_for(request.user)
    # Resolve every key the page needs before rendering: a few queries, not one per leg.
    request.keyring.load(board.compartments)
    return render(
        request,
        "dashboard/home.html",
        {
            "under_way": board.under_way,
            "being_planned": board.being_planned,
            "title": _("Dashboard"),
        },
    )
