"""Traveller links: the coordinator's pages and the traveller's one page.

The traveller's page is a field page (tiny, no JavaScript, readable at 360 px,
large buttons, a quick exit) opened with no account: the URL's token is the
only key. It shows the step, the recognition signal, the time with its zone
named, and three buttons; never the case, the traveller's name or any other
leg. Every answer carries ``Cache-Control: no-store``,
``Referrer-Policy: no-referrer`` and ``X-Robots-Tag: noindex``.

Opening happens in two steps: a GET shows an "Open" button and changes
nothing (a messaging app fetching the URL for a preview must not use the
link up); the POST of that button binds the link to this browser.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from safepassage.cases import selectors as case_selectors
from safepassage.core.errors import ServiceError
from safepassage.core.links import absolute_url
from safepassage.dashboard.access import MemberRequest, coordinator_view, posted, refuse
from safepassage.vault import crypto

from . import selectors, services
from .forms import IssueLinkForm
from .models import BUTTONS, LinkState, ReportKind

COOKIE_NAME = "sp_link"


# --- coordinators ----------------------------------------------------------------------------


def case_section(request: MemberRequest, case) -> dict:
    """What the case page's "Traveller links" section needs (the caller has
    chosen the case through ``get_case`` and loaded its key)."""
    can_issue = case.status not in services.ENDED_CASE_STATUSES and case.travellers.exists()
    return {
        "traveller_links": selectors.links_of_case(case),
        "traveller_link_form": (
            IssueLinkForm(case=case, zone=getattr(request.user, "time_zone", "") or "UTC")
            if can_issue
            else None
        ),
    }


@coordinator_view
def issue_view(request: MemberRequest, case) -> HttpResponse:
    """The issue form (also embedded on the case page); after issuing, the URL, once."""
    record = case_selectors.get_case(request.user, case)
    form = IssueLinkForm(
        posted(request), case=record, zone=getattr(request.user, "time_zone", "") or "UTC"
    )
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.do_issue_traveller_link(
                actor=request.user, case=record, **form.service_kwargs()
            )
        except ServiceError as error:
            refuse(form, error)
        else:
            path = reverse("travellers:link", kwargs={"token": issued.token})
            return render(
                request,
                "travellers/issued.html",
                {
                    "case": record,
                    "link": issued.link,
                    "url": absolute_url(path, request=request),
                    "title": _("Traveller link issued"),
                },
            )
    return render(
        request,
        "travellers/issue_form.html",
        {"case": record, "form": form, "title": _("Issue a traveller link")},
    )


@coordinator_view
def revoke_view(request: MemberRequest, traveller_link) -> HttpResponse:
    """Revoke a link (POST); anything else goes back to the case page."""
    link = selectors.get_link(request.user, traveller_link)
    if request.method == "POST":
        try:
            services.do_revoke_traveller_link(actor=request.user, link=link)
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("The link is revoked: it no longer opens."))
    return redirect(reverse("cases:detail", kwargs={"case": link.case_id}) + "#traveller-links")


# --- the traveller ----------------------------------------------------------------------------


def _cookie_name() -> str:
    # The __Secure- prefix makes browsers refuse the cookie unless it was set
    # over HTTPS with Secure (the __Host- prefix needs path "/", and this
    # cookie is scoped to one link's path).
    return f"__Secure-{COOKIE_NAME}" if _cookie_secure() else COOKIE_NAME


def _cookie_secure() -> bool:
    return bool(getattr(settings, "SESSION_COOKIE_SECURE", False))


def _link_path(token: str) -> str:
    return reverse("travellers:link", kwargs={"token": token})


def _guarded(response: HttpResponse) -> HttpResponse:
    """Nothing kept, nothing sent on, nothing indexed."""
    add_never_cache_headers(response)  # includes no-store
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return _guarded(response)


# The closing page's address names the link's language (``?sent=in_car&lang=ko``):
# the link's sealed copy, which holds its language, is wiped when the
# traveller presses "I am in the car", before that page is shown.
LANGUAGE_PARAMETER = "lang"


def _link_language(link, token: str) -> str:
    """The language the coordinator chose for the link, opened with the URL's
    token; "" when none was chosen or the link's copy is gone."""
    try:
        step = selectors.step_for_traveller(link, token)
    except crypto.SealBroken:
        return ""
    return step.language if step is not None else ""


def _known_language(code: str) -> str:
    return code if code in {name for name, _label in settings.LANGUAGES} else ""


def _in_language(language: str):
    """Render in ``language``, or as the request negotiated when there is none."""
    return translation.override(_known_language(language) or translation.get_language())


def _refused(request: HttpRequest, reason: str, *, sent: str = "") -> HttpResponse:
    """The page for a link that cannot be used: one sentence for the reason,
    nothing else. The closing page (the link completed by "I am in the car")
    speaks the link's language, carried by its address."""
    status = 404 if reason == services.UNKNOWN else 410
    in_car = reason == LinkState.COMPLETED and sent == ReportKind.IN_CAR
    language = request.GET.get(LANGUAGE_PARAMETER, "") if in_car else ""
    with _in_language(language):
        response = render(
            request,
            "travellers/refused.html",
            {"reason": reason, "message": services.REFUSALS[reason], "in_car": in_car},
            status=status,
        )
    return _guarded(response)


def _binding(request: HttpRequest) -> str | None:
    return request.COOKIES.get(_cookie_name())


# The traveller's forms post without a CSRF token. A forged cross-site post
# needs the token in the URL, which is the very secret it would need to
# steal, and the binding cookie is SameSite=Strict, so it is never sent with
# one. Exempting them also keeps a CSRF cookie off the traveller's phone.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def link_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the page for the link's state. POST: open (bind) the link."""
    link = selectors.link_by_token(token)
    if link is None:
        return _refused(request, services.UNKNOWN)
    now = timezone.now()
    state = selectors.traveller_state(link, _binding(request), now)
    if request.method == "POST":
        if state == LinkState.OPENED:  # this browser holds it already
            return _see_other(_link_path(token))
        try:
            opened = services.do_open_traveller_link(token=token, now=now)
        except services.LinkRefused as refusal:
            return _refused(request, refusal.reason)
        response = _see_other(_link_path(token))
        response.set_cookie(
            _cookie_name(),
            opened.binding,
            expires=opened.link.expires_at,
            path=_link_path(token),
            secure=_cookie_secure(),
            httponly=True,
            samesite="Strict",
        )
        return response
    if state == LinkState.ISSUED:
        # The first page already speaks the link's language: whoever holds
        # the URL can open its copy anyway by pressing Open.
        with _in_language(_link_language(link, token)):
            response = render(request, "travellers/open.html", {})
        return _guarded(response)
    if state != LinkState.OPENED:
        services.do_refuse_traveller_link(link=link, reason=state, now=now)
        return _refused(request, state, sent=request.GET.get("sent", ""))
    step = selectors.step_for_traveller(link, token)
    if step is None:  # wiped: the link ended between the two reads
        return _refused(request, LinkState.EXPIRED)
    sent = request.GET.get("sent", "")
    with (
        translation.override(step.language or translation.get_language()),
        timezone.override(step.zone or "UTC"),
    ):
        response = render(
            request,
            "travellers/step.html",
            {
                "step": step,
                "buttons": [ReportKind(kind) for kind in BUTTONS],
                "report_url": reverse("travellers:report", kwargs={"token": token}),
                "sent": ReportKind(sent) if sent in BUTTONS else None,
            },
        )
    return _guarded(response)


@csrf_exempt  # see link_view
@require_POST
def report_view(request: HttpRequest, token: str) -> HttpResponse:
    """A button on the traveller's page."""
    kind = request.POST.get("kind", "")
    # Read before the press: "I am in the car" ends the link and wipes its copy.
    link = selectors.link_by_token(token) if kind == ReportKind.IN_CAR else None
    language = _link_language(link, token) if link is not None else ""
    try:
        services.do_traveller_report(token=token, binding=_binding(request), kind=kind)
    except services.LinkRefused as refusal:
        if refusal.reason == LinkState.ISSUED:
            return _see_other(_link_path(token))
        return _refused(request, refusal.reason)
    except ServiceError:
        return _see_other(_link_path(token))
    query = {"sent": kind}
    if language:
        query[LANGUAGE_PARAMETER] = language
    response = _see_other(_link_path(token) + "?" + urlencode(query))
    if kind == ReportKind.IN_CAR:
        # The link has ended: nothing of it stays on the phone.
        response.delete_cookie(_cookie_name(), path=_link_path(token), samesite="Strict")
    return response
