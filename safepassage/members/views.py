"""Logging in and out, joining by invitation, and managing members."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from safepassage.cells.models import CellStatus
from safepassage.cells.selectors import cells_for
from safepassage.core.context_processors import COORDINATOR_LAYOUT, FIELD_LAYOUT
from safepassage.core.errors import ServiceError
from safepassage.dashboard.access import (
    MemberRequest,
    coordinator_view,
    is_awaiting_approval,
    member_view,
    posted,
    refuse,
)
from safepassage.dashboard.crud import form_page
from safepassage.roles import Role
from safepassage.vault import crypto
from safepassage.vault.session import open_session

from . import preferences, second_factor, selectors, services
from .forms import (
    ApproveForm,
    ChangePasswordForm,
    ConfirmForm,
    DuressPasswordForm,
    InviteForm,
    JoinForm,
    LoginForm,
    PreferencesForm,
    SecondFactorForm,
)
from .models import MemberStatus

MEMBER_BACKEND = "safepassage.members.backends.HandleBackend"


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _fingerprint(member) -> str:
    return crypto.fingerprint(bytes(member.public_key))


# --- logging in and out ---------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = LoginForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            member = services.log_in(
                request,
                handle=form.cleaned_data["handle"],
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"],
            )
        except services.LoginDelayed as delayed:
            return _wait_response(request, delayed.wait_seconds)
        if member is not None:
            if second_factor.required(member) and not second_factor.is_verified(request):
                return _to_second_factor(request)
            return redirect(_safe_next(request) or "dashboard:home")
        # One message for an unknown handle and a wrong password alike.
        form.add_error(None, _("Handle or password is incorrect"))
    return render(
        request,
        "registration/login.html",
        {"form": form.without_code(), "next": _safe_next(request) or "", "title": _("Log in")},
    )


def _wait_response(request: HttpRequest, seconds: int) -> HttpResponse:
    """The login page saying the handle must wait ``seconds`` (``members.lockout``).

    The same page for every handle, existing or not: the wait is counted for
    what was typed, not for who it names. It offers the code field, with
    which a coordinator gets in at once.
    """
    response = render(
        request,
        "registration/login.html",
        {
            "form": LoginForm(),
            "next": _safe_next(request) or "",
            "wait": ngettext(
                "Too many failed attempts to log in with this handle. "
                "Wait %(seconds)d second, then try again.",
                "Too many failed attempts to log in with this handle. "
                "Wait %(seconds)d seconds, then try again.",
                seconds,
            )
            % {"seconds": seconds},
            "title": _("Log in"),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def _to_second_factor(request: HttpRequest) -> HttpResponse:
    target = reverse("members:second_factor")
    following = _safe_next(request)
    if following:
        target += "?" + urlencode({"next": following})
    return redirect(target)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def second_factor_view(request: HttpRequest) -> HttpResponse:
    """A coordinator's code from their authenticator app, after the password;
    at the first login, setting the app up (QR code and secret) first."""
    member = request.user
    if not member.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not second_factor.required(member) or second_factor.is_verified(request):
        return redirect(_safe_next(request) or "dashboard:home")
    device, _field = second_factor.device_for(member)
    enrolling = device is None or not device.confirmed
    secret = services.do_prepare_second_factor(actor=member) if enrolling else ""
    form = SecondFactorForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.do_check_second_factor(actor=member, code=form.cleaned_data["code"])
        except ServiceError as error:
            refuse(form, error)
        else:
            second_factor.mark_verified(request)
            return redirect(_safe_next(request) or "dashboard:home")
    context = {
        "form": form,
        "enrolling": enrolling,
        "next": _safe_next(request) or "",
        "title": _("Set up your authenticator app") if enrolling else _("Enter your code"),
    }
    if enrolling:
        uri = second_factor.provisioning_uri(secret, member.handle)
        context["secret_groups"] = [secret[i : i + 4] for i in range(0, len(secret), 4)]
        # Markup made by segno from our own link: no script, no style attribute.
        context["qr_code"] = mark_safe(  # noqa: S308
            second_factor.qr_svg(uri, title=_("QR code for your authenticator app"))
        )
    return render(request, "registration/second_factor.html", context)


@never_cache
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.user.is_authenticated:
            services.log_out(request)
            messages.success(request, _("You are logged out."))
        return redirect("members:login")
    if not request.user.is_authenticated:
        return redirect("members:login")
    return render(request, "registration/logout.html", {"title": _("Log out")})


# --- joining by invitation ----------------------------------------------------------------


@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@never_cache
def join_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.find_invitation(token)
    if invitation is None:
        return render(
            request,
            "registration/join_invalid.html",
            {"title": _("This invitation link is not valid")},
            status=404,
        )
    form = JoinForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            member, private_key = services.do_accept_invitation(
                token=token,
                handle=form.cleaned_data["handle"],
                password=form.cleaned_data["new_password1"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            login(request, member, backend=MEMBER_BACKEND)
            open_session(request, member_id=member.pk, private_key=private_key)
            return redirect("members:awaiting")
    # A future cell member opens the link on a phone: a field page, whose
    # title names nothing.
    field = invitation.role == Role.CELL_MEMBER
    return render(
        request,
        "registration/join.html",
        {
            "form": form,
            "invitation": invitation,
            "page_layout": FIELD_LAYOUT if field else COORDINATOR_LAYOUT,
            "title": _("Create your account") if field else _("Join safepassage"),
        },
    )


@member_view
def awaiting_view(request: MemberRequest) -> HttpResponse:
    member = request.user
    if not is_awaiting_approval(member):
        return redirect("dashboard:home")
    return render(
        request,
        "registration/awaiting.html",
        {"fingerprint": _fingerprint(member), "title": _("Waiting for approval")},
    )


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@member_view
def password_view(request: MemberRequest) -> HttpResponse:
    form = ChangePasswordForm(posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.do_change_password(
                actor=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            # The password hash changed: keep this session, end the others.
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been changed."))
            return redirect("dashboard:home")
    return render(
        request, "registration/password.html", {"form": form, "title": _("Change password")}
    )


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@member_view
def security_view(request: MemberRequest) -> HttpResponse:
    """The account's security: log out everywhere, and the duress password."""
    member = request.user
    action = request.POST.get("action") if request.method == "POST" else None
    form = DuressPasswordForm(posted(request) if action == "duress" else None, user=member)
    if action == "everywhere":
        services.do_log_out_everywhere(actor=member, request=request)
        messages.success(request, _("You are logged out everywhere."))
        return redirect("members:login")
    if action == "clear_duress":
        services.do_clear_duress_password(actor=member)
        messages.success(request, _("Your duress password is turned off."))
        return redirect("members:security")
    if action == "duress" and form.is_valid():
        try:
            services.do_set_duress_password(
                actor=member,
                current_password=form.cleaned_data["current_password"],
                duress_password=form.cleaned_data["new_password1"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("Your duress password is set."))
            return redirect("members:security")
    return render(
        request,
        "members/security.html",
        {
            "form": form,
            "uses_second_factor": second_factor.required(member),
            "idle_minutes": settings.SESSION_IDLE_MINUTES,
            "title": _("Security"),
        },
    )


@member_view
def preferences_view(request: MemberRequest) -> HttpResponse:
    """Time zone and language. ``?area=`` adds one part of the world's zones
    to the list (each part is a link), to keep the page small."""
    member = request.user
    area = request.GET.get("area")
    if area not in preferences.AREA_LABELS:
        area = None
    form = PreferencesForm(
        posted(request),
        initial={"time_zone": member.time_zone, "language": member.language},
        area=area,
        current_zone=member.time_zone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.do_update_preferences(actor=member, **form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            # Said in the language just chosen, as the next page will be.
            with translation.override(member.language):
                messages.success(request, _("Your preferences are saved."))
            return redirect("dashboard:home")
    return render(
        request,
        "members/preferences.html",
        {
            "form": form,
            "area": area,
            "areas": list(preferences.AREA_LABELS.items()),
            "title": _("Preferences"),
        },
    )


# --- coordinators managing members ---------------------------------------------------------


@coordinator_view
def list_view(request: MemberRequest) -> HttpResponse:
    member = request.user
    request.keyring.load([member.organisation.coordinators_compartment_id])
    members = list(selectors.member_directory(member))
    return render(
        request,
        "members/list.html",
        {
            "awaiting": [m for m in members if m.status == MemberStatus.AWAITING_APPROVAL],
            "members": [m for m in members if m.status != MemberStatus.AWAITING_APPROVAL],
            "invitations": list(selectors.open_invitations(member)),
            "title": _("Members"),
        },
    )


@coordinator_view
def invite_view(request: MemberRequest) -> HttpResponse:
    actor = request.user
    cells = cells_for(actor).filter(status=CellStatus.ACTIVE).select_related("organisation")
    form = InviteForm(posted(request), cells=cells)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = services.do_invite_member(
                actor=actor,
                role=form.cleaned_data["role"],
                display_name=form.cleaned_data["display_name"],
                cell=form.cleaned_data["cell"],
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            # The link is shown here once; only a digest of the token is stored.
            link = request.build_absolute_uri(reverse("members:join", args=[token]))
            return render(
                request,
                "members/invite_done.html",
                {"invitation": invitation, "link": link, "title": _("Invitation created")},
            )
    return render(request, "members/invite.html", {"form": form, "title": _("Invite a member")})


@coordinator_view
def approve_view(request: MemberRequest, member) -> HttpResponse:
    target = selectors.get_member(request.user, member)
    invitation = getattr(target, "invitation", None)
    form = ApproveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.do_approve_member(actor=request.user, member=target)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, _("The member is approved and can now log in."))
            return redirect("members:list")
    return render(
        request,
        "members/approve.html",
        {
            "target": target,
            "invitation": invitation,
            "awaiting": target.status == MemberStatus.AWAITING_APPROVAL,
            "fingerprint": _fingerprint(target),
            "form": form,
            "title": _("Approve a member"),
        },
    )


def _confirm_member_action(
    request: MemberRequest, member, *, service, saved_message, template: str, title
) -> HttpResponse:
    """A page that asks a coordinator to confirm one action on a member of
    their organisation, then calls ``service(actor=, member=)``."""
    target = selectors.get_member(request.user, member)
    return form_page(
        request,
        ConfirmForm,
        save=functools.partial(service, actor=request.user, member=target),
        saved_message=saved_message,
        success_url="members:list",
        template=template,
        context={"target": target, "title": title},
    )


@coordinator_view
def remove_view(request: MemberRequest, member) -> HttpResponse:
    return _confirm_member_action(
        request,
        member,
        service=services.do_remove_member,
        saved_message=_("The member is removed. Their keys no longer open anything."),
        template="members/remove.html",
        title=_("Remove a member"),
    )


@coordinator_view
def reinstate_view(request: MemberRequest, member) -> HttpResponse:
    return _confirm_member_action(
        request,
        member,
        service=services.do_reinstate_member,
        saved_message=_("The member is reinstated and can log in again."),
        template="members/reinstate.html",
        title=_("Reinstate a member"),
    )


@coordinator_view
def reset_second_factor_view(request: MemberRequest, member) -> HttpResponse:
    return _confirm_member_action(
        request,
        member,
        service=services.do_reset_second_factor,
        saved_message=_(
            "The authenticator app is reset. They set up a new one at their next login."
        ),
        template="members/reset_second_factor.html",
        title=_("Reset an authenticator app"),
    )


@coordinator_view
def revoke_invitation_view(request: MemberRequest, invitation) -> HttpResponse:
    target = selectors.get_invitation(request.user, invitation)
    return form_page(
        request,
        ConfirmForm,
        save=functools.partial(
            services.do_revoke_invitation, actor=request.user, invitation=target
        ),
        saved_message=_("The invitation link no longer works."),
        success_url="members:list",
        template="members/revoke_invitation.html",
        context={"invitation": target, "title": _("Revoke an invitation")},
    )
