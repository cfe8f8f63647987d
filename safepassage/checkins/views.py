"""Setting one's check-in PINs (cell members, a field page) and a leg's
check-in plan (the case's coordinators, linked from the journey planner)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted, refuse
from safepassage.field.views import field_view
from safepassage.journeys.selectors import get_leg

from . import deadlines, services
from .forms import PinsForm, PlanForm


@require_http_methods(["GET", "POST"])
@field_view()
def pins_view(request: HttpRequest) -> HttpResponse:
    form = PinsForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.do_set_pins(
                actor=request.user,
                checkin_pin=form.cleaned_data["checkin_pin"],
                duress_pin=form.cleaned_data["duress_pin"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Your PINs are set."))
            return redirect("field:my_legs")
    return render(
        request,
        "checkins/pins.html",
        {
            "form": form,
            "has_pins": services.has_pins(request.user),
            "title": _("Check-in PINs"),
        },
    )


@coordinator_view
def plan_view(request: MemberRequest, leg) -> HttpResponse:
    record = get_leg(request.user, leg)
    plan = deadlines.plan_for(record) if request.method == "GET" else None
    initial = (
        {
            "departed_grace": plan.departed_grace,
            "interval": plan.interval,
            "interval_grace": plan.interval_grace,
            "handed_off_grace": plan.handed_off_grace,
        }
        if plan is not None
        else None
    )
    form = PlanForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.do_set_checkin_plan(actor=request.user, leg=record, **form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The check-in plan is saved; its deadlines follow."))
            return redirect("journeys:detail", journey=record.journey_id)
    return render(
        request,
        "checkins/plan.html",
        {
            "form": form,
            "leg": record,
            "expected": list(deadlines.pending_for(record)),
            "title": _("Check-in plan"),
        },
    )
