"""The journey planner: legs in order, the handoffs between them, and the
details each side of a handoff needs to recognise the other."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from safepassage.cases.selectors import get_case
from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import (
    MemberRequest,
    coordinator_view,
    posted,
    posted_files,
    refuse,
)
from safepassage.dashboard.crud import form_page

from . import selectors, services
from .forms import DeleteHandoffDetailForm, HandoffForm, JourneyForm, LegForm, MoveLegForm
from .models import Journey, JourneyStatus, TransportKind
from .services import MAX_PHOTO_TYPES


def _zone_name() -> str:
    return timezone.get_current_timezone_name()


def _transport_label(value: object) -> str:
    text = str(value or "")
    try:
        return str(TransportKind(text).label)
    except ValueError:
        return text


def _burned_warnings(request: MemberRequest, *, legs=(), handoffs=()) -> dict:
    """{leg or handoff id: [warning]} for what reuses a burned vehicle, place
    or safe house, or a compromised cell or contact (see compromise.selectors)."""
    from safepassage.compromise.selectors import planner_warnings

    return planner_warnings(
        organisation=request.user.organisation,
        keyring=request.keyring,
        legs=legs,
        handoffs=handoffs,
    )


def _warn_after_save(request: MemberRequest, save, kind: str):
    """``save`` (a service call), then a warning message for each burned
    thing the saved leg or handoff uses: the planner sees it on the next page."""

    def saved(**data):
        record = save(**data)
        found = _burned_warnings(request, **{kind: [record]})
        for warning in found.get(record.pk, []):
            messages.warning(request, warning)
        return record

    return saved


def _render_journey(request: MemberRequest, journey: Journey, *, error: str = "", status=200):
    """The planner page. ``error`` is a refusal from one of its buttons."""
    legs = list(selectors.plan_legs(journey))
    handoffs = {h.position: h for h in selectors.plan_handoffs(journey)}
    request.keyring.load(
        {journey.compartment_id, journey.case.compartment_id}
        | {leg.compartment_id for leg in legs}
        | {h.compartment_id for h in handoffs.values()}
        | {request.user.organisation.coordinators_compartment_id}
    )
    burned = _burned_warnings(request, legs=legs, handoffs=handoffs.values())
    steps = []
    for position in range(len(legs) + 1 if legs else 0):
        handoff = handoffs.get(position)
        if handoff is not None:
            kind = "pickup" if position == 0 else "arrival" if position == len(legs) else "handoff"
            steps.append({"handoff": handoff, "kind": kind, "burned": burned.get(handoff.pk, [])})
        if position < len(legs):
            leg = legs[position]
            steps.append(
                {
                    "leg": leg,
                    "transport": _transport_label(leg.transport),
                    "first": position == 0,
                    "last": position == len(legs) - 1,
                    "burned": burned.get(leg.pk, []),
                }
            )
    return render(
        request,
        "journeys/detail.html",
        {
            "journey": journey,
            "case": journey.case,
            "steps": steps,
            "leg_count": len(legs),
            "planning": journey.status == JourneyStatus.PLANNING,
            "editable": journey.status in (JourneyStatus.PLANNING, JourneyStatus.ACTIVE),
            "error": error,
            "title": journey.title,
        },
        status=status,
    )


@coordinator_view
def new_view(request: MemberRequest, case) -> HttpResponse:
    record = get_case(request.user, case)
    return form_page(
        request,
        JourneyForm,
        save=functools.partial(services.do_create_journey, actor=request.user, case=record),
        saved_message=_("The journey is created. Add its legs in order."),
        success_url=lambda journey: reverse("journeys:detail", kwargs={"journey": journey.pk}),
        template="journeys/journey_form.html",
        context={"case": record, "title": _("Plan a journey")},
    )


@coordinator_view
def detail_view(request: MemberRequest, journey) -> HttpResponse:
    return _render_journey(request, selectors.get_journey(request.user, journey))


@coordinator_view
def start_view(request: MemberRequest, journey) -> HttpResponse:
    record = selectors.get_journey(request.user, journey)
    if request.method != "POST":
        return redirect("journeys:detail", journey=record.pk)
    try:
        services.do_start_journey(actor=request.user, journey=record)
    except ServiceError as error:
        return _render_journey(request, record, error=str(error))
    messages.success(request, _("The journey has started. Its cells can now start their legs."))
    return redirect("journeys:detail", journey=record.pk)


def _leg_form_kwargs(request: MemberRequest, leg=None) -> dict[str, object]:
    return {"member": request.user, "leg": leg, "zone_name": _zone_name()}


@coordinator_view
def leg_new_view(request: MemberRequest, journey) -> HttpResponse:
    record = selectors.get_journey(request.user, journey)
    return form_page(
        request,
        LegForm,
        form_kwargs=_leg_form_kwargs(request),
        save=_warn_after_save(
            request,
            functools.partial(services.do_add_leg, actor=request.user, journey=record),
            "legs",
        ),
        saved_message=_("The leg is added at the end of the journey."),
        success_url=reverse("journeys:detail", kwargs={"journey": record.pk}),
        template="journeys/leg_form.html",
        context={"journey": record, "title": _("Add a leg")},
    )


@coordinator_view
def leg_edit_view(request: MemberRequest, leg) -> HttpResponse:
    record = selectors.get_leg(request.user, leg)
    return form_page(
        request,
        LegForm,
        initial={
            "cell": record.cell_id,
            "contact": record.contact_id,
            "safe_house": record.safe_house_id,
            "window_start": record.window_start,
            "window_end": record.window_end,
            "transport": record.transport,
            "route": record.route,
            "vehicle": record.vehicle,
            "notes": record.notes,
        },
        form_kwargs=_leg_form_kwargs(request, leg=record),
        save=_warn_after_save(
            request,
            functools.partial(services.do_update_leg, actor=request.user, leg=record),
            "legs",
        ),
        saved_message=_("The leg is saved."),
        success_url=reverse("journeys:detail", kwargs={"journey": record.journey_id}),
        template="journeys/leg_form.html",
        context={
            "journey": record.journey,
            "leg": record,
            "burned": _burned_warnings(request, legs=[record]).get(record.pk, []),
            "title": _("Edit a leg"),
        },
    )


@coordinator_view
def leg_move_view(request: MemberRequest, leg) -> HttpResponse:
    record = selectors.get_leg(request.user, leg)
    if request.method != "POST":
        return redirect("journeys:detail", journey=record.journey_id)
    form = MoveLegForm(request.POST)
    if not form.is_valid():
        return _render_journey(
            request, record.journey, error=_("Choose whether to move the leg earlier or later.")
        )
    try:
        services.do_move_leg(actor=request.user, leg=record, offset=form.offset())
    except ServiceError as error:
        return _render_journey(request, record.journey, error=str(error))
    messages.success(request, _("The leg is moved. The handoffs follow the new order."))
    return redirect("journeys:detail", journey=record.journey_id)


@coordinator_view
def leg_remove_view(request: MemberRequest, leg) -> HttpResponse:
    record = selectors.get_leg(request.user, leg)
    error = ""
    if request.method == "POST":
        try:
            services.do_remove_leg(actor=request.user, leg=record)
        except ServiceError as exc:
            error = str(exc)
        else:
            messages.success(request, _("The leg is removed and its key destroyed."))
            return redirect("journeys:detail", journey=record.journey_id)
    return render(
        request,
        "journeys/leg_remove.html",
        {
            "leg": record,
            "journey": record.journey,
            "error": error,
            "can_remove": record.journey.status == JourneyStatus.PLANNING,
            "title": _("Remove a leg"),
        },
    )


def _details_present(handoff) -> list[str]:
    """The handoff's recognition details that hold something, in the form's order."""
    return [
        name for name in services.HANDOFF_DETAILS if getattr(handoff, name) not in (None, "", b"")
    ]


@coordinator_view
def handoff_detail_delete_view(request: MemberRequest, handoff) -> HttpResponse:
    """Choose one recorded detail of a handoff and confirm its deletion
    (``?detail=`` preselects one); the POST deletes it."""
    record = selectors.get_handoff(request.user, handoff)
    present = _details_present(record)
    form = DeleteHandoffDetailForm(
        posted(request), present=present, initial={"detail": request.GET.get("detail", "")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.do_delete_handoff_detail(
                actor=request.user, handoff=record, detail=form.cleaned_data["detail"]
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The detail is deleted and the handoff's key replaced."))
            return redirect("journeys:detail", journey=record.journey_id)
    return render(
        request,
        "journeys/handoff_detail_delete.html",
        {
            "form": form,
            "handoff": record,
            "journey": record.journey,
            "present": present,
            "title": _("Delete a handoff detail"),
        },
    )


@coordinator_view
def leg_brief_view(request: MemberRequest, leg) -> HttpResponse:
    """Confirm, then release one leg of a journey being planned to its cell."""
    record = selectors.get_leg(request.user, leg)
    error = ""
    if request.method == "POST":
        try:
            services.do_brief_leg(actor=request.user, leg=record)
        except ServiceError as exc:
            error = str(exc)
        else:
            messages.success(request, _("The cell is briefed: it now sees this leg."))
            return redirect("journeys:detail", journey=record.journey_id)
    return render(
        request,
        "journeys/leg_brief.html",
        {
            "leg": record,
            "journey": record.journey,
            "error": error,
            "can_brief": record.journey.status == JourneyStatus.PLANNING
            and record.cell_id is not None
            and record.released_at is None,
            "title": _("Brief a cell now"),
        },
    )


@coordinator_view
def handoff_edit_view(request: MemberRequest, handoff) -> HttpResponse:
    record = selectors.get_handoff(request.user, handoff)
    too_large = (
        request.method == "POST"
        and int(request.META.get("CONTENT_LENGTH") or 0) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
        and "photo" not in request.FILES
    )
    has_photo = record.photo is not None
    form = HandoffForm(
        posted(request),
        posted_files(request),
        zone_name=_zone_name(),
        upload_refused=too_large,
        has_photo=has_photo,
        initial={
            "place": record.place,
            "window_start": record.window_start,
            "window_end": record.window_end,
            "clothing": record.clothing,
            "vehicle_colour": record.vehicle_colour,
            "vehicle_plate": record.vehicle_plate,
            "signal": record.signal,
            "notes": record.notes,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            _warn_after_save(
                request,
                functools.partial(services.do_update_handoff, actor=request.user, handoff=record),
                "handoffs",
            )(**form.service_arguments())
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The handoff is saved."))
            return redirect("journeys:detail", journey=record.journey_id)
    return render(
        request,
        "journeys/handoff_form.html",
        {
            "form": form,
            "handoff": record,
            "journey": record.journey,
            "has_photo": has_photo,
            "burned": _burned_warnings(request, handoffs=[record]).get(record.pk, []),
            "title": _("Edit a handoff"),
        },
    )


@coordinator_view
def handoff_photo_view(request: MemberRequest, handoff) -> HttpResponse:
    record = selectors.get_handoff(request.user, handoff)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    photo = services.do_clean_stored_photo(actor=request.user, handoff=record)
    if photo is None:
        raise Http404
    content_type = record.photo_type if record.photo_type in MAX_PHOTO_TYPES else None
    response = HttpResponse(photo, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = 'inline; filename="handoff-photo"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@coordinator_view
def handoff_phrases_view(request: MemberRequest, handoff) -> HttpResponse:
    record = selectors.get_handoff(request.user, handoff)
    if request.method != "POST":
        return redirect("journeys:detail", journey=record.journey_id)
    try:
        services.do_new_phrases(actor=request.user, handoff=record)
    except ServiceError as error:
        return _render_journey(request, record.journey, error=str(error))
    messages.success(request, _("New verification phrases are drawn. Tell both sides."))
    return redirect("journeys:detail", journey=record.journey_id)
