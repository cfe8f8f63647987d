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


def uses_field_pages(member) -> bool:
    """True when ``member``'s pages are field pages (the small layout with the
    quick exit, no script): a cell member's role, approved or still waiting.
    Everyone else gets the coordinator layout."""
    return bool(getattr(member, "is_authenticated", False) and member.role == Role.CELL_MEMBER)


def require_coordinator(actor) -> None:
    """Refuse (ServiceError) unless ``actor`` is an approved coordinator."""
    from django.utils.translation import gettext as _

    from safepassage.core.errors import ServiceError

    if not is_coordinator(actor):
        raise ServiceError(_("Only a coordinator can do this."))


def coordinates_case(actor, case) -> bool:
    """True when ``actor`` is an approved coordinator linked to ``case``."""
    from safepassage.cases.models import CaseCoordinator

    return (
        is_coordinator(actor) and CaseCoordinator.objects.filter(case=case, member=actor).exists()
    )


def require_case_coordinator(actor, case) -> None:
    """Refuse (ServiceError) unless ``actor`` coordinates ``case``."""
    from django.utils.translation import gettext as _

    from safepassage.core.errors import ServiceError

    if not coordinates_case(actor, case):
        raise ServiceError(_("Only a coordinator of this case can do this."))
