"""Coordinator pages for contacts."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted, refuse

from . import selectors, services
from .forms import ContactEditForm, ContactForm


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    contacts = list(selectors.contacts_for(request.user).select_related("organisation"))
    return render(request, "contacts/list.html", {"contacts": contacts, "title": _("Contacts")})


@coordinator_view
def new_view(request: MemberRequest) -> HttpResponse:
    form = ContactForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.do_create_contact(actor=request.user, **form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The contact is saved."))
            return redirect("contacts:list")
    return render(request, "contacts/form.html", {"form": form, "title": _("Add a contact")})


@coordinator_view
def edit_view(request: MemberRequest, contact) -> HttpResponse:
    record = selectors.get_contact(request.user, contact)
    form = ContactEditForm(
        posted(request),
        initial={
            "name": record.name,
            "role_description": record.role_description,
            "phone": record.phone,
            "notes": record.notes,
            "status": record.status,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.do_update_contact(actor=request.user, contact=record, **form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The contact is saved."))
            return redirect("contacts:list")
    return render(
        request,
        "contacts/form.html",
        {"form": form, "contact": record, "title": _("Edit a contact")},
    )
