"""Forms for PINs and check-in plans."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import MAX_GRACE_MINUTES

PIN_WIDGET = forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"})


class PinsForm(forms.Form):
    checkin_pin = forms.CharField(
        label=_("Check-in PIN"),
        min_length=4,
        max_length=12,
        widget=PIN_WIDGET,
        help_text=_("4 to 12 digits. You type it each time you check in."),
    )
    duress_pin = forms.CharField(
        label=_("Duress PIN"),
        min_length=4,
        max_length=12,
        widget=PIN_WIDGET,
        help_text=_(
            "If someone forces you to check in, type this one instead. The check-in looks "
            "exactly normal on your phone, and your coordinators are warned at once."
        ),
    )


def _minutes(label, help_text=""):
    return forms.IntegerField(
        label=label, min_value=0, max_value=MAX_GRACE_MINUTES, help_text=help_text
    )


class PlanForm(forms.Form):
    departed_grace = _minutes(
        _("Minutes of grace after the window opens"),
        _("An alert is raised if the leg has not started by then."),
    )
    interval = _minutes(
        _("Check in every (minutes) while under way"), _("0 for no check-ins in transit.")
    )
    interval_grace = _minutes(_("Minutes of grace for each check-in"))
    handed_off_grace = _minutes(
        _("Minutes of grace after the window closes"),
        _("An alert is raised if the traveller has not been handed off by then."),
    )
