"""Reading contacts (coordinators of the organisation only)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from safepassage import roles

from .models import Contact


def contacts_for(member) -> QuerySet[Contact]:
    if not roles.is_coordinator(member):
        return Contact.objects.none()
    return Contact.objects.filter(organisation_id=member.organisation_id).order_by("created_at")


def get_contact(member, contact_id) -> Contact:
    return get_object_or_404(contacts_for(member), pk=contact_id)
