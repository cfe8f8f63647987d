"""Who may call which endpoint, and how far one credential reaches.

Access to records is decided by the selectors, inside the query: an endpoint
never checks an object after loading it with broader rights. The classes
here only decide who may use an endpoint at all:

- nobody signed in: 401 (``NotAuthenticated``);
- signed in but not entitled (a member awaiting approval, a cell member on a
  coordinators' endpoint): 404, the same answer as a missing record, never a
  403 that confirms the endpoint or a record exists.

``Scope`` is what the request's credential allows on top of what the member
may see. A session carries the whole member. A cell token
(``authentication.TokenCredential``) carries one cell: the legs of that cell
and the handoffs at their ends, no coordinators' endpoints, and no token
management (a token cannot issue or revoke tokens). Views pass every
selector result through the request's scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from rest_framework import exceptions, permissions

from safepassage import roles
from safepassage.journeys.models import Handoff, Leg


@dataclass(frozen=True)
class Scope:
    """How far a credential reaches. ``cell_id`` None means everything its member can see."""

    cell_id: uuid.UUID | None = None

    @property
    def is_whole_member(self) -> bool:
        return self.cell_id is None

    def legs(self, legs: QuerySet[Leg]) -> QuerySet[Leg]:
        if self.cell_id is None:
            return legs
        return legs.filter(cell_id=self.cell_id)

    def handoffs(self, handoffs: QuerySet[Handoff]) -> QuerySet[Handoff]:
        if self.cell_id is None:
            return handoffs
        return handoffs.filter(Q(from_leg__cell_id=self.cell_id) | Q(to_leg__cell_id=self.cell_id))

    def check_leg(self, leg: Leg) -> None:
        """Http404 when the credential does not reach ``leg`` (already one the member sees)."""
        if self.cell_id is not None and leg.cell_id != self.cell_id:
            raise Http404

    def check_handoff(self, handoff: Handoff) -> None:
        if self.cell_id is None:
            return
        cells = {leg.cell_id for leg in (handoff.from_leg, handoff.to_leg) if leg is not None}
        if self.cell_id not in cells:
            raise Http404


def scope_of(request) -> Scope:
    """The scope of the request's credential (``request.auth``; None for a session)."""
    return Scope(cell_id=getattr(request.auth, "cell_id", None))


class _Entitled(permissions.BasePermission):
    """Anonymous: False (DRF answers 401). Signed in but not entitled: 404."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if not self.entitled(request, user):
            raise exceptions.NotFound()
        return True

    def entitled(self, request, user) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError


class IsMember(_Entitled):
    """An approved coordinator or cell member (the legs and handoffs endpoints)."""

    def entitled(self, request, user) -> bool:
        return roles.is_coordinator(user) or roles.is_cell_member(user)


class IsCoordinator(_Entitled):
    """An approved coordinator with a credential reaching their whole account (the cases
    endpoints: a cell-scoped token never reaches a case)."""

    def entitled(self, request, user) -> bool:
        return roles.is_coordinator(user) and scope_of(request).is_whole_member


class IsCellMemberInPerson(_Entitled):
    """An approved cell member with a credential reaching their whole account (the
    token endpoints: a token never issues or revokes tokens)."""

    def entitled(self, request, user) -> bool:
        return roles.is_cell_member(user) and scope_of(request).is_whole_member
