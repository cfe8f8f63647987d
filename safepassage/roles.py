"""Roles, defined once. Every access rule in the selectors starts here."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Coordinator")
    CELL_MEMBER = "cell_member", _("Cell member")


def is_coordinator(member) -> bool:
    return bool(
        getattr(member, "is_authenticated", False)
        and member.role == Role.COORDINATOR
        and member.is_approved
    )


def is_cell_member(member) -> bool:
    return bool(
        getattr(member, "is_authenticated", False)
        and member.role == Role.CELL_MEMBER
        and member.is_approved
    )
