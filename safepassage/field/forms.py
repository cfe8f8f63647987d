"""Forms of the field pages: one per action a cell member can take."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from safepassage.alerts.models import PROBLEM_KINDS
from safepassage.checkins.forms import PIN_WIDGET

# The services' own limit, so the browser stops the typing where they would refuse.
from safepassage.checkins.services import MAX_NOTE

START = "start"
HANDED_OFF = "handed_off"


class LegActionForm(forms.Form):
    """The button a cell member pressed on their leg's page."""

    action = forms.ChoiceField(
        choices=[
            (START, _("I have the traveller — leg started")),
            (HANDED_OFF, _("Handed off")),
        ],
        error_messages={
            "required": _("Choose what happened."),
            "invalid_choice": _("Choose what happened."),
        },
    )


class CheckinForm(forms.Form):
    """A sign of life: the member's PIN and an optional short note. The duress
    PIN goes through this same form; nothing here tells the two apart."""

    pin = forms.CharField(
        label=_("Your check-in PIN"),
        max_length=12,
        widget=PIN_WIDGET,
        error_messages={"required": _("Type your check-in PIN.")},
    )
    note = forms.CharField(
        label=_("Short note (optional)"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _problem_choices():
    return [(kind.value, kind.label) for kind in PROBLEM_KINDS]


class ProblemForm(forms.Form):
    """Something off the plan: the kind (each its own alert) and what happened."""

    kind = forms.ChoiceField(
        label=_("What happened?"),
        choices=_problem_choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose what kind of problem this is."),
            "invalid_choice": _("Choose what kind of problem this is."),
        },
    )
    details = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for “Other problem”. Your coordinators read this."),
    )


class AcknowledgeForm(forms.Form):
    """A cell lead says they are on an alert of their leg."""

    alert = forms.UUIDField(widget=forms.HiddenInput)
