"""Contacts: helpers outside the system, with their track record."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from safepassage import roles
from safepassage.audit import services as audit
from safepassage.core.errors import ServiceError
from safepassage.core.validation import clean_phone

from .models import Contact, ContactStatus


def do_create_contact(
    *, actor, name: str, role_description: str = "", phone: str = "", notes: str = ""
) -> Contact:
    roles.require_coordinator(actor)
    if not name.strip():
        raise ServiceError(_("A contact needs a name or alias."))
    phone = clean_phone(phone)
    with transaction.atomic():
        contact = Contact(organisation=actor.organisation)
        contact.name = name.strip()
        contact.role_description = role_description
        contact.phone = phone
        contact.notes = notes
        contact.save()
        audit.record(
            organisation=actor.organisation, actor=actor, verb="contact.create", target=contact
        )
    return contact


def do_update_contact(
    *,
    actor,
    contact: Contact,
    name: str,
    role_description: str,
    phone: str,
    notes: str,
    status: str,
) -> Contact:
    roles.require_coordinator(actor)
    if status not in ContactStatus.values:
        raise ServiceError(_("Unknown status."))
    phone = clean_phone(phone)
    with transaction.atomic():
        contact.name = name.strip()
        contact.role_description = role_description
        contact.phone = phone
        contact.notes = notes
        contact.status = status
        contact.save()
        audit.record(
            organisation=actor.organisation,
            actor=actor,
            verb="contact.update",
            target=contact,
            detail={"status": status},
        )
    return contact
