"""The form page most coordinator records use to be created or edited.

A GET shows the form (with ``initial`` values when editing). A POST that the
form accepts goes to ONE service; if the service refuses, its message is shown
on the form and nothing changes; if it succeeds, the member gets a message and
is sent on. Views stay small explicit functions: they pick the record through a
selector, then hand the rest to :func:`form_page`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from safepassage.core.errors import ServiceError

from .access import MemberRequest, posted, refuse

T = TypeVar("T")


def form_page(
    request: MemberRequest,
    form_class: type[forms.Form],
    *,
    save: Callable[..., T],
    saved_message: str,
    success_url: str | Callable[[T], str],
    template: str,
    context: Mapping[str, Any],
    initial: dict[str, Any] | None = None,
    form_kwargs: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """Render ``template`` with ``form_class``; on a valid POST call ``save``.

    - ``save`` is the service call, given the form's cleaned data as keyword
      arguments (bind ``actor`` and the record beforehand, for example with
      ``functools.partial``);
    - ``success_url`` is a URL or URL name to go to after saving, or a function
      of what ``save`` returned that gives one (for a page of the new record);
    - ``context`` is added to the template context next to ``form``;
    - ``form_kwargs`` are further keyword arguments for ``form_class`` (the
      choices a form offers, for example).
    """
    form = form_class(posted(request), initial=initial, **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        try:
            result = save(**form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, saved_message)
            if callable(success_url):
                return redirect(success_url(result))
            return redirect(success_url)
    return render(request, template, {"form": form, **context})


def embedded_form_action(
    request: MemberRequest,
    form: forms.Form,
    *,
    save: Callable[..., Any],
    saved_message: str,
    back: str,
    rerender: Callable[[forms.Form], HttpResponse],
) -> HttpResponse:
    """A form that lives on another record's page (a note on a case, a
    resolution on an alert).

    Only a POST acts; anything else goes ``back`` to that page. A valid form
    goes to ONE service (``save``, given the cleaned data as keyword
    arguments); on success the member gets ``saved_message`` and goes
    ``back``. Invalid input or a refusal re-renders the page through
    ``rerender(form)``, so the form shows its errors and keeps what was typed.
    """
    if request.method != "POST":
        return redirect(back)
    if form.is_valid():
        try:
            save(**form.cleaned_data)
        except ServiceError as error:
            refuse(form, error)
        else:
            messages.success(request, saved_message)
            return redirect(back)
    return rerender(form)
