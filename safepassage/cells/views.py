"""Coordinator pages for cells and who is in them."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, refuse
from safepassage.dashboard.crud import form_page
from safepassage.journeys.models import OPEN_LEG_STATUSES
from safepassage.journeys.selectors import legs_for_coordinator

from . import selectors, services
from .forms import (
    AddCellMemberForm,
    CellEditForm,
    CellForm,
    CellLeadForm,
    RemoveCellMemberForm,
)


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    cells = list(selectors.cells_with_member_counts(request.user))
    return render(request, "cells/list.html", {"cells": cells, "title": _("Cells")})


@coordinator_view
def new_view(request: MemberRequest) -> HttpResponse:
    return form_page(
        request,
        CellForm,
        save=functools.partial(services.do_create_cell, actor=request.user),
        saved_message=_("The cell is created. Add its members next."),
        success_url=lambda cell: reverse("cells:detail", kwargs={"cell": cell.pk}),
        template="cells/form.html",
        context={"title": _("Create a cell")},
    )


@coordinator_view
def edit_view(request: MemberRequest, cell) -> HttpResponse:
    record = selectors.get_cell(request.user, cell)
    return form_page(
        request,
        CellEditForm,
        initial={
            "codename": record.codename,
            "specialty": record.specialty,
            "notes": record.notes,
            "status": record.status,
        },
        save=functools.partial(services.do_update_cell, actor=request.user, cell=record),
        saved_message=_("The cell is saved."),
        success_url=reverse("cells:detail", kwargs={"cell": record.pk}),
        template="cells/form.html",
        context={"cell": record, "title": _("Edit the cell")},
    )


def _render_cell(request: MemberRequest, cell, *, add_form=None, lead_form=None) -> HttpResponse:
    member = request.user
    links = list(selectors.memberships(cell).select_related("member__organisation"))
    legs = list(
        legs_for_coordinator(member)
        .filter(cell=cell, status__in=OPEN_LEG_STATUSES)
        .select_related("journey__case")
        .order_by("window_start")
    )
    request.keyring.load(
        {member.organisation.coordinators_compartment_id}
        | {leg.journey.case.compartment_id for leg in legs}
    )
    return render(
        request,
        "cells/detail.html",
        {
            "cell": cell,
            "links": links,
            "legs": legs,
            "add_form": add_form
            or AddCellMemberForm(candidates=selectors.cell_member_candidates(member, cell)),
            "lead_form": lead_form,
            "title": cell.codename,
        },
    )


@coordinator_view
def detail_view(request: MemberRequest, cell) -> HttpResponse:
    return _render_cell(request, selectors.get_cell(request.user, cell))


@coordinator_view
def member_add_view(request: MemberRequest, cell) -> HttpResponse:
    record = selectors.get_cell(request.user, cell)
    if request.method != "POST":
        return redirect("cells:detail", cell=record.pk)
    form = AddCellMemberForm(
        request.POST, candidates=selectors.cell_member_candidates(request.user, record)
    )
    if form.is_valid():
        try:
            services.do_add_member_to_cell(
                actor=request.user,
                member=form.cleaned_data["member"],
                cell=record,
                is_lead=form.cleaned_data["is_lead"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(
                request, _("The member is in the cell and holds the keys of its open legs.")
            )
            return redirect("cells:detail", cell=record.pk)
    return _render_cell(request, record, add_form=form)


@coordinator_view
def member_remove_view(request: MemberRequest, cell) -> HttpResponse:
    record = selectors.get_cell(request.user, cell)
    members = selectors.cell_members(record)
    if request.method == "POST":
        form = RemoveCellMemberForm(request.POST, members=members)
        if form.is_valid():
            try:
                services.do_remove_member_from_cell(
                    actor=request.user, member=form.cleaned_data["member"], cell=record
                )
            except ServiceError as error:
                refuse(form, error)
            else:
                messages.success(
                    request,
                    _("The member has left the cell. The cell's legs are sealed under new keys."),
                )
                return redirect("cells:detail", cell=record.pk)
    else:
        chosen = request.GET.get("member")
        form = RemoveCellMemberForm(
            members=members,
            initial={"member": chosen} if chosen else None,
        )
    return render(
        request,
        "cells/member_remove.html",
        {"form": form, "cell": record, "title": _("Remove a member from the cell")},
    )


@coordinator_view
def member_lead_view(request: MemberRequest, cell) -> HttpResponse:
    record = selectors.get_cell(request.user, cell)
    if request.method != "POST":
        return redirect("cells:detail", cell=record.pk)
    form = CellLeadForm(request.POST, members=selectors.cell_members(record))
    if form.is_valid():
        member, is_lead = form.cleaned_data["member"], form.cleaned_data["is_lead"]
        try:
            services.do_set_cell_lead(
                actor=request.user, cell=record, member=member, is_lead=is_lead
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            if is_lead:
                text = _("%(handle)s now leads the cell and is alerted first about its legs.")
            else:
                text = _("%(handle)s no longer leads the cell. The cell has no lead now.")
            messages.success(request, text % {"handle": member.handle})
            return redirect("cells:detail", cell=record.pk)
    return _render_cell(request, record, lead_form=form)
