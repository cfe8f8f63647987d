"""Coordinator pages for cases: list, open, the case page, travellers, notes, status."""

from __future__ import annotations

import functools
from functools import partial
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted, refuse
from safepassage.dashboard.crud import embedded_form_action, form_page
from safepassage.journeys.forms import JourneyForm
from safepassage.members.selectors import members_for
from safepassage.travellers.views import case_section as traveller_links_section

from . import retention, selectors, services
from .forms import (
    AddCoordinatorForm,
    CaseForm,
    NoteForm,
    OpenCaseForm,
    PurgeCaseForm,
    StatusForm,
    TravellerForm,
)
from .models import Case, CaseStatus


def _other_coordinators(member):
    from safepassage.members.models import MemberStatus
    from safepassage.roles import Role

    return (
        members_for(member)
        .filter(role=Role.COORDINATOR, status=MemberStatus.ACTIVE)
        .exclude(pk=member.pk)
        .select_related("organisation")
    )


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    cases = list(selectors.cases_with_traveller_counts(request.user))
    request.keyring.load({case.compartment_id for case in cases})
    return render(request, "cases/list.html", {"cases": cases, "title": _("Cases")})


@coordinator_view
def new_view(request: MemberRequest) -> HttpResponse:
    actor = request.user
    form = OpenCaseForm(posted(request), coordinators=_other_coordinators(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = services.do_open_case(
                actor=actor,
                codename=data["codename"],
                needs=data["needs"],
                consent=form.consent(actor=actor),
                summary=data["summary"],
                coordinators=list(data["coordinators"]),
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The case is open."))
            return redirect("cases:detail", case=case.pk)
    return render(request, "cases/form.html", {"form": form, "title": _("Open a case")})


def _render_case(request: MemberRequest, case: Case, **forms) -> HttpResponse:
    """The case page, with any bound form that needs to show its errors."""
    events = list(selectors.timeline(case))
    travellers = list(case.travellers.all())
    journeys = list(case.journeys.all())
    coordinators = list(selectors.case_coordinators(case))
    request.keyring.load(
        {case.compartment_id, request.user.organisation.coordinators_compartment_id}
        | {event.compartment_id for event in events}
    )
    status_form = forms.get("status_form") or StatusForm(current=case.status)
    return render(
        request,
        "cases/detail.html",
        {
            "case": case,
            "consent": case.consent or {},
            "travellers": travellers,
            "journeys": journeys,
            "events": events,
            "coordinators": coordinators,
            "note_form": forms.get("note_form") or NoteForm(),
            "status_form": status_form,
            "journey_form": forms.get("journey_form") or JourneyForm(),
            "retention_days": settings.SAFEPASSAGE_RETENTION_DAYS,
            "purge_due": retention.purge_due(case),
            **traveller_links_section(request, case),
            "title": case.codename,
        },
    )


@coordinator_view
def detail_view(request: MemberRequest, case) -> HttpResponse:
    return _render_case(request, selectors.get_case(request.user, case))


@coordinator_view
def edit_view(request: MemberRequest, case) -> HttpResponse:
    actor = request.user
    record = selectors.get_case(actor, case)
    consent: dict = cast(dict, record.consent) or {}
    form = CaseForm(
        posted(request),
        initial={
            "codename": record.codename,
            "needs": record.needs,
            "consent_given": bool(consent.get("given")),
            "consent_scope": consent.get("scope", ""),
            "summary": record.summary,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.do_update_case(
                actor=actor,
                case=record,
                codename=data["codename"],
                needs=data["needs"],
                consent=form.consent(actor=actor, previous=consent),
                summary=data["summary"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The case is saved."))
            return redirect("cases:detail", case=record.pk)
    return render(
        request, "cases/form.html", {"form": form, "case": record, "title": _("Edit the case")}
    )


@coordinator_view
def note_view(request: MemberRequest, case) -> HttpResponse:
    record = selectors.get_case(request.user, case)
    return embedded_form_action(
        request,
        NoteForm(posted(request)),
        save=partial(services.do_add_case_note, actor=request.user, case=record),
        saved_message=_("The note is added to the timeline."),
        back=reverse("cases:detail", kwargs={"case": record.pk}),
        rerender=lambda form: _render_case(request, record, note_form=form),
    )


@coordinator_view
def status_view(request: MemberRequest, case) -> HttpResponse:
    record = selectors.get_case(request.user, case)

    def save(*, status: str, note: str) -> None:
        services.do_change_case_status(
            actor=request.user, case=record, status=status, note=note.strip()
        )

    return embedded_form_action(
        request,
        StatusForm(posted(request), current=record.status),
        save=save,
        saved_message=_("The case status is changed."),
        back=reverse("cases:detail", kwargs={"case": record.pk}),
        rerender=lambda form: _render_case(request, record, status_form=form),
    )


@coordinator_view
def traveller_new_view(request: MemberRequest, case) -> HttpResponse:
    record = selectors.get_case(request.user, case)
    return form_page(
        request,
        TravellerForm,
        save=functools.partial(services.do_add_traveller, actor=request.user, case=record),
        saved_message=_("The traveller is added."),
        success_url=reverse("cases:detail", kwargs={"case": record.pk}),
        template="cases/traveller_form.html",
        context={"case": record, "title": _("Add a traveller")},
    )


@coordinator_view
def traveller_edit_view(request: MemberRequest, traveller) -> HttpResponse:
    record = selectors.get_traveller(request.user, traveller)
    return form_page(
        request,
        TravellerForm,
        initial={name: getattr(record, name) for name in TravellerForm.base_fields},
        save=functools.partial(services.do_update_traveller, actor=request.user, traveller=record),
        saved_message=_("The traveller is saved."),
        success_url=reverse("cases:detail", kwargs={"case": record.case_id}),
        template="cases/traveller_form.html",
        context={"case": record.case, "traveller": record, "title": _("Edit a traveller")},
    )


def _confirm_deletion(request: MemberRequest, *, delete, done: str, back: str, page: dict):
    """A deletion's confirmation page (GET), and the deletion (POST)."""
    error = ""
    if request.method == "POST":
        try:
            delete()
        except ServiceError as exc:
            error = str(exc)
        else:
            messages.success(request, done)
            return redirect(back)
    return render(request, "cases/delete.html", {"error": error, "back": back, **page})


@coordinator_view
def traveller_delete_view(request: MemberRequest, traveller) -> HttpResponse:
    """Delete a traveller entered by mistake, after confirmation."""
    record = selectors.get_traveller(request.user, traveller)
    return _confirm_deletion(
        request,
        delete=functools.partial(
            services.do_delete_traveller, actor=request.user, traveller=record
        ),
        done=_("The traveller is deleted and the case's key replaced."),
        back=reverse("cases:detail", kwargs={"case": record.case_id}),
        page={
            "case": record.case,
            "item": record.name,
            "links": record.links.count(),
            "button": _("Delete the traveller"),
            "title": _("Delete a traveller"),
        },
    )


@coordinator_view
def note_delete_view(request: MemberRequest, note) -> HttpResponse:
    """Delete a note of the case timeline, after confirmation."""
    record = selectors.get_note(request.user, note)
    return _confirm_deletion(
        request,
        delete=functools.partial(services.do_delete_note, actor=request.user, note=record),
        done=_("The note is deleted and the case's key replaced."),
        back=reverse("cases:detail", kwargs={"case": record.case_id}) + "#timeline-heading",
        page={
            "case": record.case,
            "item": record.sentence,
            "button": _("Delete the note"),
            "title": _("Delete a note"),
        },
    )


@coordinator_view
def coordinator_add_view(request: MemberRequest, case) -> HttpResponse:
    actor = request.user
    record = selectors.get_case(actor, case)
    return form_page(
        request,
        AddCoordinatorForm,
        form_kwargs={"candidates": selectors.coordinators_not_on_case(actor, record)},
        save=functools.partial(services.do_add_case_coordinator, actor=actor, case=record),
        saved_message=_("The coordinator now holds this case's key."),
        success_url=reverse("cases:detail", kwargs={"case": record.pk}),
        template="cases/coordinator_form.html",
        context={"case": record, "title": _("Add a coordinator")},
    )


# What the purge page counts, by model label, in the order it lists them.
PURGED_RECORDS = [
    ("cases.Traveller", _lazy("Travellers")),
    ("cases.CaseEvent", _lazy("Timeline entries")),
    ("journeys.Journey", _lazy("Journeys")),
    ("journeys.Leg", _lazy("Legs")),
    ("journeys.Handoff", _lazy("Handoffs")),
    ("checkins.Checkin", _lazy("Check-ins")),
    ("alerts.Alert", _lazy("Alerts")),
    ("alerts.AlertNote", _lazy("Notes on alerts")),
]


@coordinator_view
def purge_view(request: MemberRequest, case) -> HttpResponse:
    """Confirm, then purge the case at once (POST with the box ticked only)."""
    actor = request.user
    record = selectors.get_case(actor, case)
    form = PurgeCaseForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            report = services.do_purge_case(actor=actor, case=record)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(
                request,
                _(
                    "The case is purged: %(keys)d copies of its keys and %(rows)d records "
                    "were destroyed."
                )
                % {"keys": report.grants, "rows": report.rows},
            )
            return redirect("cases:list")
    plan = retention.purge_plan(record)
    listed = [(name, plan.record_count(label)) for label, name in PURGED_RECORDS]
    return render(
        request,
        "cases/purge.html",
        {
            "case": record,
            "form": form,
            "plan": plan,
            "listed": listed,
            # The case row itself and what hangs on it without a page of its own
            # (coordinators' links, check-in plans, deadlines, notifications...).
            "other_rows": plan.rows - sum(n for _name, n in listed),
            "is_open": record.status not in (CaseStatus.CLOSED, CaseStatus.ARRIVED),
            "title": _("Purge this case"),
        },
    )
