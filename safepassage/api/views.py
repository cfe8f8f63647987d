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
from django.http import Http404
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safepassage.cases import selectors as cases
from safepassage.cases.models import Case
from safepassage.checkins import services as checkin_services
from safepassage.journeys import selectors as journeys
from safepassage.journeys import services as journey_services
from safepassage.journeys.models import Handoff, Leg
from safepassage.members.middleware import member_language
from safepassage.vault import keyring

from . import selectors as api_selectors
from . import services as api_services
from .authentication import CellTokenAuthentication, SessionAuthentication, TokenCredential
from .permissions import IsCellMemberInPerson, IsCoordinator, IsMember, Scope, scope_of
from .serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    CheckinReceiptSerializer,
    CheckinRequestSerializer,
    ErrorSerializer,
    HandoffSerializer,
    IssuedTokenSerializer,
    LegSerializer,
    ProblemReceiptSerializer,
    ProblemRequestSerializer,
    TokenIssueSerializer,
    TokenSerializer,
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


VALIDATION = OpenApiResponse(
    ErrorSerializer,
    description="The body is not valid (`detail` says why; `fields` has each field's "
    "errors), or the action was refused; nothing changed.",
)
WRITE_ERRORS = {400: VALIDATION, **READ_ERRORS}


class ApiView(APIView):
    # Base for every endpoint: answers are never stored by the client's cache.
    # A cell token's keyring is put in force from authentication until the
    # answer is built (the vault middleware ran before DRF authenticated).
    # (A comment, not a docstring: view docstrings become operation descriptions.)

    authentication_classes = [CellTokenAuthentication, SessionAuthentication]
    permission_classes = [IsMember]
    # False: a cell token is recognised (to answer 404) but the endpoint is not for it.
    cell_token_reaches = True
    _language: str | None = None

    def dispatch(self, request, *args, **kwargs):
        with contextlib.ExitStack() as stack:
            self._credential_context = stack
            return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        credential = request.auth
        if isinstance(credential, TokenCredential):
            request._request.keyring = credential.keyring  # type: ignore[attr-defined]
            self._credential_context.enter_context(keyring.unlocked(credential.keyring))
            # The member's language, as the pages use it (the middleware that
            # picks it saw no member: DRF had not authenticated yet).
            language = member_language(request.user)
            if language is not None:
                self._credential_context.enter_context(translation.override(language))
                self._language = language

    def get_authenticate_header(self, request: Request) -> str:
        # Both schemes, session first: ``Session realm=..., Bearer realm=...``.
        return ", ".join(
            header
            for auth in reversed(self.get_authenticators())
            if (header := auth.authenticate_header(request))
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # decrypted records: no-store, private
        if self._language is not None:
            response.headers["Content-Language"] = self._language
        return response


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The request body, validated (400 with ``detail`` and ``fields`` otherwise)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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


def _reachable_leg(request: Request, leg_id: uuid.UUID, *, refused_verb: str) -> Leg:
    """The leg, for a check-in or a report; a leg out of reach is the common 404,
    and the attempt is written to the audit log (nothing dropped silently)."""
    try:
        return _get_leg(request, leg_id)
    except Http404:
        api_services.record_unreachable_leg(
            actor=request.user,
            verb=refused_verb,
            leg_id=leg_id,
            token_id=getattr(request.auth, "token_id", None),
        )
        raise


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


# --- check-ins and problem reports ------------------------------------------------------


class LegCheckin(ApiView):
    @extend_schema(
        operation_id="legs_checkin",
        summary="Check in: a sign of life from the leg's cell",
        description=(
            "For a member of the leg's cell (a bridge uses a token of that cell), while "
            "the leg runs. The PIN is the member's check-in PIN. Sent with the member's "
            "duress PIN, the check-in is recorded the same way and the answer is the "
            "same in every byte (status, headers, body shape, message), while a critical "
            "alert silently goes to the case's coordinators. A wrong PIN, a finished "
            "leg or a journey not yet started is a 400 whose `detail` says why; every "
            "refusal is written to the audit log."
        ),
        request=CheckinRequestSerializer,
        responses={201: CheckinReceiptSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, leg: uuid.UUID) -> Response:
        record = _reachable_leg(request, leg, refused_verb="checkin.refused")
        data = _valid(CheckinRequestSerializer, request)
        receipt = checkin_services.do_check_in(
            actor=request.user, leg=record, pin=data["pin"], note=data["note"]
        )
        return Response(CheckinReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)


class LegProblem(ApiView):
    @extend_schema(
        operation_id="legs_report_problem",
        summary="Report a problem on the leg: it alerts the coordinators",
        description=(
            "For a member of the leg's cell, while the leg runs. Each kind is its own "
            "alert, recorded against the leg; `details` are sealed. The answer only "
            "confirms the report was received."
        ),
        request=ProblemRequestSerializer,
        responses={201: ProblemReceiptSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, leg: uuid.UUID) -> Response:
        record = _reachable_leg(request, leg, refused_verb="alert.report_refused")
        data = _valid(ProblemRequestSerializer, request)
        alert = checkin_services.do_report_problem(
            actor=request.user, leg=record, kind=data["kind"], details=data["details"]
        )
        answer = {"at": alert.raised_at, "message": _("Your coordinators have been alerted.")}
        return Response(ProblemReceiptSerializer(answer).data, status=status.HTTP_201_CREATED)


# --- cell tokens (for bridges) -----------------------------------------------------------


class TokenList(ApiView):
    permission_classes = [IsCellMemberInPerson]
    cell_token_reaches = False

    @extend_schema(
        operation_id="tokens_list",
        summary="The member's own cell tokens",
        description=(
            "Cell members, signed in with their session (a token does not list tokens). "
            "Newest first, with revoked and expired ones. Never the token itself."
        ),
        responses={200: TokenSerializer(many=True), 401: NOT_SIGNED_IN, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        found = api_selectors.tokens_for(request.user).order_by("-created_at")
        return Response(TokenSerializer(found, many=True).data)

    @extend_schema(
        operation_id="tokens_create",
        summary="Issue a token scoped to one of the member's cells, for a bridge",
        description=(
            "Cell members, signed in with their session. The token acts as the member "
            "on that cell's legs only, until it expires (90 days unless fewer are asked "
            "for) or is revoked. It is in this answer once: the server keeps a digest "
            "of it and the member's private key sealed under it, never the token."
        ),
        request=TokenIssueSerializer,
        responses={201: IssuedTokenSerializer, 400: VALIDATION, 401: NOT_SIGNED_IN, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        data = _valid(TokenIssueSerializer, request)
        issued = api_services.do_issue_cell_token(
            actor=request.user,
            cell=data["cell"],
            label=data["label"],
            days=data["expires_in_days"],
        )
        return Response(
            IssuedTokenSerializer(issued.record, context={"token": issued.token}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenRevoke(ApiView):
    permission_classes = [IsCellMemberInPerson]
    cell_token_reaches = False

    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke one of the member's tokens, at once",
        description=(
            "Cell members, signed in with their session, for their own tokens; anyone "
            "else gets 404. Revoking a revoked token changes nothing."
        ),
        request=None,
        responses={200: TokenSerializer, 401: NOT_SIGNED_IN, 404: NOT_FOUND},
    )
    def post(self, request: Request, token: uuid.UUID) -> Response:
        record = api_selectors.get_token(request.user, token)
        api_services.do_revoke_cell_token(actor=request.user, token=record)
        return Response(TokenSerializer(record).data)


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
    cell_token_reaches = False

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
    cell_token_reaches = False

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


# --- anything else under /api/ ------------------------------------------------------------


class NoSuchEndpoint(ApiView):
    # Any other path under /api/ (an id that is not a uuid, a mistyped path):
    # the JSON 404 of a missing record (401 when not signed in, as for a real
    # endpoint), never the HTML page the rest of the site shows. Not part of
    # the description (``schema = None``).

    schema = None
    permission_classes = [IsMember]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401
        raise exceptions.NotFound()  # whatever the method
