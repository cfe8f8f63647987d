"""Forms of the field pages: one per action a cell member can take."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

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
