"""A member's notifications: the list, the unread badge (an HTML fragment for
polling, which works as a plain link without JavaScript), and where to be told."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from safepassage.alerts.selectors import alerts_for
from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import (
    MemberRequest,
    coordinator_view,
    member_view,
    posted,
    refuse,
)

from . import selectors, services
from .forms import EmailForm, InternalHostsForm, RemoveForm, WebhookForm


@member_view
def list_view(request: MemberRequest) -> HttpResponse:
    notifications = list(selectors.notifications_for(request.user)[:100])
    visible = set(
        alerts_for(request.user)
        .filter(pk__in=[n.alert_id for n in notifications if n.alert_id])
        .values_list("pk", flat=True)
    )
    rows = [{"notification": n, "alert_visible": n.alert_id in visible} for n in notifications]
    return render(
        request,
        "notifications/list.html",
        {
            "rows": rows,
            "unread": sum(1 for n in notifications if n.read_at is None),
            "title": _("Notifications"),
        },
    )


@member_view
def badge_view(request: MemberRequest) -> HttpResponse:
    return render(
        request,
        "notifications/_badge.html",
        {"unread_notifications": selectors.unread_count(request.user)},
    )


@member_view
def read_view(request: MemberRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            services.do_mark_notifications_read(actor=request.user)
        except ServiceError as error:
            messages.error(request, str(error))
    return redirect("notifications:list")


@member_view
def settings_view(request: MemberRequest) -> HttpResponse:
    action = request.POST.get("action") if request.method == "POST" else None
    email_form = EmailForm(posted(request) if action == "email" else None)
    webhook_form = WebhookForm(posted(request) if action == "webhook" else None)
    new_secret = ""
    if action == "email" and email_form.is_valid():
        try:
            services.do_set_email_address(
                actor=request.user, email=email_form.cleaned_data["email"]
            )
        except ServiceError as error:
            refuse(email_form, error)
        else:
            messages.success(request, _("Email notifications are on."))
            return redirect("notifications:settings")
    elif action == "webhook" and webhook_form.is_valid():
        try:
            new_secret = services.do_set_webhook(
                actor=request.user,
                url=webhook_form.cleaned_data["url"],
                secret=webhook_form.cleaned_data["secret"] or None,
            )
        except ServiceError as error:
            refuse(webhook_form, error)
        else:
            webhook_form = WebhookForm()
    elif action == "remove":
        form = RemoveForm(posted(request))
        if form.is_valid():
            try:
                services.do_remove_address(actor=request.user, channel=form.cleaned_data["channel"])
            except ServiceError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("That channel is off."))
        return redirect("notifications:settings")
    return render(
        request,
        "notifications/settings.html",
        {
            "channels": selectors.channels_set(request.user),
            "email_form": email_form,
            "webhook_form": webhook_form,
            "new_secret": new_secret,
            "title": _("Where to be told"),
        },
    )


@coordinator_view
def internal_hosts_view(request: MemberRequest) -> HttpResponse:
    """The organisation's internal webhook hosts (coordinators only; a cell
    member gets the common 404)."""
    current = sorted(selectors.internal_webhook_hosts(request.user))
    form = InternalHostsForm(posted(request), initial={"hosts": "\n".join(current)})
    if request.method == "POST" and form.is_valid():
        try:
            services.do_set_internal_webhook_hosts(
                actor=request.user, hosts=form.cleaned_data["hosts"].splitlines()
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The list of internal hosts is saved."))
            return redirect("notifications:internal_hosts")
    return render(
        request,
        "notifications/internal_hosts.html",
        {"form": form, "hosts": current, "title": _("Internal webhook hosts")},
    )
