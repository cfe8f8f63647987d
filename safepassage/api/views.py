"""The JSON API, version 1.

Each view: check who may call it (``permissions``), read through one of the
selectors (which decide access inside the query, so a record the member may
not see is the same 404 as a missing one), narrow by the credential's scope,
resolve the keys the answer needs in one go, serialise. Writes call one
service; a refusal (``ServiceError``) becomes a 400 in ``exceptions``.
"""

from __future__ import annotations

import contextlib
import uuid

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safepassage.cases import selectors as cases
from safepassage.cases.models import Case
from safepassage.journeys import selectors as journeys
from safepassage.journeys import services as journey_services
from safepassage.journeys.models import Handoff, Leg

from .permissions import IsCoordinator, IsMember, Scope, scope_of
from .serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    ErrorSerializer,
    HandoffSerializer,
    LegSerializer,
)

NOT_SIGNED_IN = OpenApiResponse(ErrorSerializer, description="Not signed in.")
NOT_FOUND = OpenApiResponse(
    ErrorSerializer,
    description="No such record, or not one this member may see (the same answer for both).",
)
TAMPERED = OpenApiResponse(
    ErrorSerializer, description="A stored value failed its integrity check (tampering)."
)
REFUSED = OpenApiResponse(
    ErrorSerializer, description="The action was refused; nothing changed. `detail` says why."
)
READ_ERRORS = {401: NOT_SIGNED_IN, 404: NOT_FOUND, 409: TAMPERED}


class ApiView(APIView):
    # Base for every endpoint: answers are never stored by the client's cache.
    # (A comment, not a docstring: view docstrings become operation descriptions.)

    permission_classes = [IsMember]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # decrypted records: no-store, private
        return response


# --- reading helpers ----------------------------------------------------------------------


def _ends(member, scope: Scope) -> list[Prefetch]:
    """The handoffs at both ends of each leg, read through the handoffs selector
    (photos stay unread: ``has_photo`` comes from the photo's type)."""
    handoffs = scope.handoffs(journeys.handoffs_for(member)).defer("photo")
    return [
        Prefetch("start_handoff", queryset=handoffs),
        Prefetch("end_handoff", queryset=handoffs),
    ]


def _handoffs_of(legs: list[Leg]) -> list[Handoff]:
    found = []
    for leg in legs:
        for name in ("start_handoff", "end_handoff"):
            with contextlib.suppress(Handoff.DoesNotExist):
                found.append(getattr(leg, name))
    return found


def _load_keys(request: Request, records, *, extra=()) -> None:
    """Resolve the keys of every record in the answer with a few queries."""
    ring = getattr(request, "keyring", None)
    if ring is not None:
        ring.load({record.compartment_id for record in records} | set(extra))


def _legs_with_ends(request: Request, legs: QuerySet[Leg]) -> list[Leg]:
    member, scope = request.user, scope_of(request)
    found = list(scope.legs(legs).prefetch_related(*_ends(member, scope)))
    _load_keys(request, [*found, *_handoffs_of(found)])
    return found


def _leg_answer(request: Request, leg_id: uuid.UUID) -> dict:
    """One leg with its ends, after access to it was established by ``get_leg``."""
    (leg,) = _legs_with_ends(request, journeys.legs_for(request.user).filter(pk=leg_id))
    return LegSerializer(leg, context={"request": request}).data


def _get_leg(request: Request, leg_id: uuid.UUID) -> Leg:
    leg = journeys.get_leg(request.user, leg_id)
    scope_of(request).check_leg(leg)
    return leg


# --- legs ---------------------------------------------------------------------------------


class LegList(ApiView):
    @extend_schema(
        operation_id="legs_list",
        summary="Legs the member may see",
        description=(
            "A cell member: the legs of their cells, each with the two handoffs at its "
            "ends (recognition details and verification phrases). A coordinator: the "
            "legs of the cases they coordinate. Newest journeys first, legs in order."
        ),
        responses={200: LegSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        legs = journeys.legs_for(request.user).order_by(
            "-journey__created_at", "journey_id", "position"
        )
        return Response(
            LegSerializer(
                _legs_with_ends(request, legs), many=True, context={"request": request}
            ).data
        )


class LegDetail(ApiView):
    @extend_schema(
        operation_id="legs_retrieve",
        summary="One leg with the handoffs at its ends",
        description=(
            "For a member of the leg's cell, or a coordinator of its case. Anyone else "
            "gets 404, as for a leg that does not exist."
        ),
        responses={200: LegSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, leg: uuid.UUID) -> Response:
        record = _get_leg(request, leg)
        return Response(_leg_answer(request, record.pk))


class _LegAction(ApiView):
    # A cell member reports on their own leg; the answer is the leg afterwards.

    def act(self, *, actor, leg: Leg) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def post(self, request: Request, leg: uuid.UUID) -> Response:
        record = _get_leg(request, leg)
        self.act(actor=request.user, leg=record)
        return Response(_leg_answer(request, record.pk))


class LegStart(_LegAction):
    @extend_schema(
        operation_id="legs_start",
        summary="Report that the cell has the traveller: the leg is under way",
        description=(
            "For a member of the leg's cell, once the journey has been started. "
            "A leg starts once: a second start is refused with 400."
        ),
        request=None,
        responses={200: LegSerializer, 400: REFUSED, **READ_ERRORS},
    )
    def post(self, request: Request, leg: uuid.UUID) -> Response:
        return super().post(request, leg)

    def act(self, *, actor, leg: Leg) -> None:
        journey_services.do_mark_leg_started(actor=actor, leg=leg)


class LegHandedOff(_LegAction):
    @extend_schema(
        operation_id="legs_handed_off",
        summary="Report that the cell has handed the traveller on",
        description=(
            "For a member of the leg's cell, after the leg started. Handing off the "
            "last leg completes the journey."
        ),
        request=None,
        responses={200: LegSerializer, 400: REFUSED, **READ_ERRORS},
    )
    def post(self, request: Request, leg: uuid.UUID) -> Response:
        return super().post(request, leg)

    def act(self, *, actor, leg: Leg) -> None:
        journey_services.do_mark_leg_handed_off(actor=actor, leg=leg)


# --- handoffs -----------------------------------------------------------------------------


class HandoffDetail(ApiView):
    @extend_schema(
        operation_id="handoffs_retrieve",
        summary="One handoff: what each side needs to recognise the other",
        description=(
            "For a member of either cell the handoff joins, or a coordinator of its "
            "case. The photo itself is not part of the answer; `has_photo` says "
            "whether there is one."
        ),
        responses={200: HandoffSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, handoff: uuid.UUID) -> Response:
        record = journeys.get_handoff(request.user, handoff)
        scope_of(request).check_handoff(record)
        _load_keys(request, [record])
        return Response(HandoffSerializer(record, context={"request": request}).data)


# --- cases (coordinators) ---------------------------------------------------------------------


class CaseList(ApiView):
    permission_classes = [IsCoordinator]

    @extend_schema(
        operation_id="cases_list",
        summary="The cases the coordinator coordinates",
        description="Coordinators only: anyone else gets 404.",
        responses={200: CaseSerializer(many=True), 401: NOT_SIGNED_IN, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        found = list(cases.cases_with_traveller_counts(request.user))
        _load_keys(request, found)
        return Response(CaseSerializer(found, many=True).data)


class CaseDetail(ApiView):
    permission_classes = [IsCoordinator]

    @extend_schema(
        operation_id="cases_retrieve",
        summary="One case: travellers, and journeys with their legs and handoffs",
        description=(
            "For a coordinator of the case. Anyone else, including the organisation's "
            "other coordinators, gets 404."
        ),
        responses={200: CaseDetailSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, case: uuid.UUID) -> Response:
        member, scope = request.user, scope_of(request)
        record: Case = cases.get_case(member, case)
        legs = (
            scope.legs(journeys.legs_for(member))
            .select_related("cell__organisation")
            .prefetch_related(*_ends(member, scope))
            .order_by("position")
        )
        prefetch_related_objects(
            [record],
            Prefetch("travellers", queryset=cases.travellers_for(member).order_by("created_at")),
            Prefetch("journeys", queryset=journeys.journeys_for(member).order_by("created_at")),
            Prefetch("journeys__legs", queryset=legs),
        )
        all_legs = [leg for journey in record.journeys.all() for leg in journey.legs.all()]
        _load_keys(
            request,
            [
                record,
                *record.travellers.all(),
                *record.journeys.all(),
                *all_legs,
                *_handoffs_of(all_legs),
            ],
            # Cell code names are sealed to the organisation's coordinators.
            extra={
                leg.cell.organisation.coordinators_compartment_id
                for leg in all_legs
                if leg.cell is not None
            },
        )
        return Response(CaseDetailSerializer(record, context={"request": request}).data)
