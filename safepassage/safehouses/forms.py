"""Forms for safe houses."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SafeHouseStatus

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class SafeHouseForm(forms.Form):
    codename = forms.CharField(label=_("Code name"), max_length=200)
    place = forms.CharField(
        label=_("Place"),
        widget=TEXTAREA,
        help_text=_("Where it is and how to get in. Only coordinators can read this."),
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=500,
        initial=1,
        help_text=_("How many people it can hold at once."),
    )
    keeper_notes = forms.CharField(label=_("Notes on the keeper"), required=False, widget=TEXTAREA)


class SafeHouseEditForm(SafeHouseForm):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=SafeHouseStatus.choices,
        help_text=_("“Burned” means it may be known to the authorities: never use it again."),
    )
