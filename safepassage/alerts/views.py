"""The alert inbox for coordinators: the list, one alert (acknowledge, resolve,
notes), and a journey's timeline of check-ins, misses and problems.

A coordinator outside the case sees an alert once it has escalated to every
coordinator; without the case's keys the page shows only its kind and time.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted
from safepassage.dashboard.crud import embedded_form_action
from safepassage.journeys.selectors import get_journey

from . import selectors, services
from .forms import NoteForm, ResolveForm
from .models import Alert


def _opens(request: MemberRequest, compartment_id) -> bool:
    return compartment_id is not None and request.keyring.can_open(compartment_id)


def _names_case(request: MemberRequest, alert: Alert) -> bool:
    """Whether the page may name the alert's case and journey: their code name
    and title are sealed in the case's compartment, so only a holder of its key
    (the case's coordinators) reads them. A coordinator reached by escalation
    alone sees the kind and time, as before."""
    return alert.case is not None and _opens(request, alert.case.compartment_id)


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    alerts = list(selectors.inbox(request.user, include_resolved=show_all))
    request.keyring.load(
        {a.compartment_id for a in alerts if a.compartment_id}
        | {a.case.compartment_id for a in alerts if a.case is not None}
    )
    rows = [
        {
            "alert": a,
            "can_open": _opens(request, a.compartment_id),
            "names_case": _names_case(request, a),
        }
        for a in alerts
    ]
    return render(
        request,
        "alerts/list.html",
        {"rows": rows, "show_all": show_all, "title": _("Alerts")},
    )


def _render_alert(
    request: MemberRequest, alert: Alert, *, status: int = 200, **forms
) -> HttpResponse:
    can_open = _opens(request, alert.compartment_id)
    case_open = _names_case(request, alert)
    notes = list(selectors.notes_of(alert)) if case_open else []
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": alert,
            "can_open": can_open,
            "case_open": case_open,
            "can_handle": services.can_handle(request.user, alert),
            "notes": notes,
            "note_form": forms.get("note_form") or NoteForm(),
            "resolve_form": forms.get("resolve_form") or ResolveForm(),
            "error": forms.get("error", ""),
            "title": alert.get_kind_display(),
        },
        status=status,
    )


@coordinator_view
def detail_view(request: MemberRequest, alert) -> HttpResponse:
    return _render_alert(request, selectors.get_alert(request.user, alert))


@coordinator_view
def acknowledge_view(request: MemberRequest, alert) -> HttpResponse:
    record = selectors.get_alert(request.user, alert)
    if request.method != "POST":
        return redirect("alerts:detail", alert=record.pk)
    try:
        services.do_acknowledge_alert(actor=request.user, alert=record)
    except ServiceError as error:
        return _render_alert(request, record, error=str(error))
    messages.success(request, _("Acknowledged. The alert stops escalating."))
    return redirect("alerts:detail", alert=record.pk)


@coordinator_view
def resolve_view(request: MemberRequest, alert) -> HttpResponse:
    record = selectors.get_alert(request.user, alert)
    return embedded_form_action(
        request,
        ResolveForm(posted(request)),
        save=partial(services.do_resolve_alert, actor=request.user, alert=record),
        saved_message=_("The alert is resolved."),
        back=reverse("alerts:detail", kwargs={"alert": record.pk}),
        rerender=lambda form: _render_alert(request, record, resolve_form=form),
    )


@coordinator_view
def note_view(request: MemberRequest, alert) -> HttpResponse:
    record = selectors.get_alert(request.user, alert)
    return embedded_form_action(
        request,
        NoteForm(posted(request)),
        save=partial(services.do_add_alert_note, actor=request.user, alert=record),
        saved_message=_("Note added."),
        back=reverse("alerts:detail", kwargs={"alert": record.pk}),
        rerender=lambda form: _render_alert(request, record, note_form=form),
    )


@coordinator_view
def timeline_view(request: MemberRequest, journey) -> HttpResponse:
    record = get_journey(request.user, journey)
    entries = selectors.journey_timeline(record)
    expected = list(selectors.expected_checkins(record))
    request.keyring.load({e.compartment_id for e in entries if e.compartment_id})
    return render(
        request,
        "alerts/timeline.html",
        {
            "journey": record,
            "entries": entries,
            "expected": expected,
            "title": _("Journey timeline"),
        },
    )
