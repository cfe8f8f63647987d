"""Coordinator pages for safe houses."""

from __future__ import annotations

import functools

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from safepassage.dashboard.access import MemberRequest, coordinator_view
from safepassage.dashboard.crud import form_page

from . import selectors, services
from .forms import SafeHouseEditForm, SafeHouseForm


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    houses = list(selectors.safe_houses_for(request.user).select_related("organisation"))
    return render(request, "safehouses/list.html", {"houses": houses, "title": _("Safe houses")})


@coordinator_view
def new_view(request: MemberRequest) -> HttpResponse:
    return form_page(
        request,
        SafeHouseForm,
        save=functools.partial(services.do_create_safe_house, actor=request.user),
        saved_message=_("The safe house is saved."),
        success_url="safehouses:list",
        template="safehouses/form.html",
        context={"title": _("Add a safe house")},
    )


@coordinator_view
def edit_view(request: MemberRequest, house) -> HttpResponse:
    record = selectors.get_safe_house(request.user, house)
    return form_page(
        request,
        SafeHouseEditForm,
        initial={
            "codename": record.codename,
            "place": record.place,
            "capacity": record.capacity,
            "keeper_notes": record.keeper_notes,
            "status": record.status,
        },
        save=functools.partial(services.do_update_safe_house, actor=request.user, house=record),
        saved_message=_("The safe house is saved."),
        success_url="safehouses:list",
        template="safehouses/form.html",
        context={"house": record, "title": _("Edit a safe house")},
    )
