"""Reading cell tokens: a member sees their own, and nobody else's."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles

from .models import CellToken


def tokens_for(member) -> QuerySet[CellToken]:
    if not roles.is_cell_member(member):
        return CellToken.objects.none()
    return CellToken.objects.filter(member=member, organisation_id=member.organisation_id)


def get_token(member, token_id) -> CellToken:
    return get_object_or_404(tokens_for(member), pk=token_id)
