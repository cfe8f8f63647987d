"""Coordinator pages for safe houses."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted, refuse

from . import selectors, services
from .forms import SafeHouseEditForm, SafeHouseForm


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    houses = list(selectors.safe_houses_for(request.user).select_related("organisation"))
    return render(request, "safehouses/list.html", {"houses": houses, "title": _("Safe houses")})


@coordinator_view
def new_view(request: MemberRequest) -> HttpResponse:
    form = SafeHouseForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.do_create_safe_house(actor=request.user, **form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The safe house is saved."))
            return redirect("safehouses:list")
    return render(request, "safehouses/form.html", {"form": form, "title": _("Add a safe house")})


@coordinator_view
def edit_view(request: MemberRequest, house) -> HttpResponse:
    record = selectors.get_safe_house(request.user, house)
    form = SafeHouseEditForm(
        posted(request),
        initial={
            "codename": record.codename,
            "place": record.place,
            "capacity": record.capacity,
            "keeper_notes": record.keeper_notes,
            "status": record.status,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.do_update_safe_house(actor=request.user, house=record, **form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The safe house is saved."))
            return redirect("safehouses:list")
    return render(
        request,
        "safehouses/form.html",
        {"form": form, "house": record, "title": _("Edit a safe house")},
    )
