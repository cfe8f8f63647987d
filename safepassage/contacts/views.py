"""Coordinator pages for contacts."""

from __future__ import annotations

import functools

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from safepassage.dashboard.access import MemberRequest, coordinator_view
from safepassage.dashboard.crud import form_page

from . import selectors, services
from .forms import ContactEditForm, ContactForm


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    contacts = list(selectors.contacts_for(request.user).select_related("organisation"))
    return render(request, "contacts/list.html", {"contacts": contacts, "title": _("Contacts")})


@coordinator_view
def new_view(request: MemberRequest) -> HttpResponse:
    return form_page(
        request,
        ContactForm,
        save=functools.partial(services.do_create_contact, actor=request.user),
        saved_message=_("The contact is saved."),
        success_url="contacts:list",
        template="contacts/form.html",
        context={"title": _("Add a contact")},
    )


@coordinator_view
def edit_view(request: MemberRequest, contact) -> HttpResponse:
    record = selectors.get_contact(request.user, contact)
    return form_page(
        request,
        ContactEditForm,
        initial={
            "name": record.name,
            "role_description": record.role_description,
            "phone": record.phone,
            "notes": record.notes,
            "status": record.status,
        },
        save=functools.partial(services.do_update_contact, actor=request.user, contact=record),
        saved_message=_("The contact is saved."),
        success_url="contacts:list",
        template="contacts/form.html",
        context={"contact": record, "title": _("Edit a contact")},
    )
