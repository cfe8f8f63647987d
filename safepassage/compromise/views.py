"""Coordinator pages for compromises: the declarations, the declare form,
the exposure report with its one-button response, and the whole
organisation's exposure analysis. Anyone but a coordinator of the
organisation gets the same 404 as for a missing record."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted, refuse
from safepassage.dashboard.crud import embedded_form_action
from safepassage.journeys.selectors import get_leg

from . import selectors, services
from .forms import DeclareForm, ReleaseForm, RespondForm
from .models import Compromise

RESPOND_NOW = "respond"


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    return render(
        request,
        "compromise/list.html",
        {
            "rows": selectors.declaration_rows(request.user, request.keyring),
            "title": _("Compromises"),
        },
    )


@coordinator_view
def declare_view(request: MemberRequest) -> HttpResponse:
    choices = selectors.subject_choices(request.user, request.keyring)
    form = DeclareForm(posted(request), choices=choices)
    if request.method == "POST" and form.is_valid():
        declare = (
            services.do_declare_and_respond
            if request.POST.get("action") == RESPOND_NOW
            else services.do_declare_compromise
        )
        try:
            compromise = declare(actor=request.user, **form.service_arguments())
        except ServiceError as error:
            refuse(form, error)
        else:
            if compromise.responded:
                messages.success(request, _("The compromise is declared and the response done."))
            else:
                messages.success(
                    request, _("The compromise is declared. Read the exposure, then respond.")
                )
            return redirect("compromise:detail", compromise=compromise.pk)
    return render(
        request,
        "compromise/declare.html",
        {"form": form, "known": form.known, "title": _("Declare a compromise")},
    )


def _render_report(
    request: MemberRequest,
    compromise: Compromise,
    *,
    respond_form: forms.Form | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    report = selectors.report(request.user, compromise, request.keyring)
    return render(
        request,
        "compromise/detail.html",
        {
            "report": report,
            "compromise": compromise,
            "respond_form": respond_form or RespondForm(),
            "error": error,
            "title": _("Compromise: %(subject)s") % {"subject": report.subject},
        },
        status=status,
    )


@coordinator_view
def detail_view(request: MemberRequest, compromise) -> HttpResponse:
    return _render_report(request, selectors.get_compromise(request.user, compromise))


@coordinator_view
def respond_view(request: MemberRequest, compromise) -> HttpResponse:
    record = selectors.get_compromise(request.user, compromise)
    return embedded_form_action(
        request,
        RespondForm(request.POST),
        save=lambda **data: services.do_respond_to_compromise(
            actor=request.user, compromise=record, **data
        ),
        saved_message=_("The response is done."),
        back=reverse("compromise:detail", kwargs={"compromise": record.pk}),
        rerender=lambda form: _render_report(request, record, respond_form=form, status=400),
    )


@coordinator_view
def release_view(request: MemberRequest, compromise) -> HttpResponse:
    record = selectors.get_compromise(request.user, compromise)
    if request.method != "POST":
        return redirect("compromise:detail", compromise=record.pk)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        return _render_report(request, record, error=_("Choose a leg to release."), status=400)
    leg = get_leg(request.user, form.cleaned_data["leg"])
    try:
        services.do_release_leg(actor=request.user, leg=leg)
    except ServiceError as error:
        return _render_report(request, record, error=str(error), status=400)
    messages.success(
        request,
        _("Leg %(number)s is released. Re-plan it before its cell acts on it.")
        % {"number": leg.position + 1},
    )
    return redirect(reverse("compromise:detail", kwargs={"compromise": record.pk}))


@coordinator_view
def close_view(request: MemberRequest, compromise) -> HttpResponse:
    record = selectors.get_compromise(request.user, compromise)
    if request.method != "POST":
        return redirect("compromise:detail", compromise=record.pk)
    try:
        services.do_close_compromise(actor=request.user, compromise=record)
    except ServiceError as error:
        return _render_report(request, record, error=str(error), status=400)
    messages.success(request, _("The compromise is closed."))
    return redirect("compromise:list")


@coordinator_view
def analysis_view(request: MemberRequest) -> HttpResponse:
    from safepassage.cells.models import CellStatus

    from .analysis import Severity, organisation_analysis
    from .graph import exposure_graph_svg

    organisation = request.user.organisation
    analysis = organisation_analysis(organisation=organisation, keyring=request.keyring)
    labels = selectors.cell_labels(request.user)

    def name(cell_id) -> str:
        return labels.get(uuid.UUID(str(cell_id)), "")

    rows = sorted(
        analysis.cells.values(), key=lambda cell: (-cell.band, name(cell.cell_id).casefold())
    )
    return render(
        request,
        "compromise/analysis.html",
        {
            "analysis": analysis,
            "rows": [
                {
                    "cell": cell,
                    "name": name(cell.cell_id),
                    "status": CellStatus(cell.status).label,
                }
                for cell in rows
            ],
            "warnings": [
                {
                    "warning": warning,
                    "severity": Severity(warning.severity).label,
                    "cells": sorted(name(c) for c in warning.cell_ids),
                }
                for warning in analysis.warnings
            ],
            # Built and escaped server-side by graph.py: labels are escaped there.
            "graph": mark_safe(exposure_graph_svg(analysis, labels=labels)),  # noqa: S308
            "title": _("Exposure across the organisation"),
        },
    )
