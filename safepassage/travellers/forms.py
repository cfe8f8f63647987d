"""The coordinator's form for issuing a traveller link.

The time is read from a ``datetime-local`` input in the time zone chosen
next to it (where the traveller will be), not in the coordinator's own.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from safepassage.cases.models import Case, Traveller
from safepassage.journeys.forms import LocalDateTimeField
from safepassage.members import preferences

from .services import DEFAULT_HOURS, MAX_HOURS, MAX_SIGNAL, MAX_STEP


def _time_zone_choices() -> list:
    names = preferences.time_zone_choices()
    first = len([name for name in preferences.NETWORK_TIME_ZONES if name in names])
    return [
        (_("Where the network works"), [(name, name) for name in names[:first]]),
        (_("Every other time zone"), [(name, name) for name in names[first:]]),
    ]


def _language_choices() -> list[tuple[str, Any]]:
    # Each language in its own name: the coordinator picks the traveller's.
    return [("", _("The phone's own language"))] + [
        (code, get_language_info(code)["name_local"]) for code in preferences.language_codes()
    ]


class WallClockField(LocalDateTimeField):
    """A time as typed, with no zone yet (the form applies the zone chosen,
    which need not be the coordinator's own)."""

    def to_python(self, value):
        with timezone.override(dt.UTC):
            result = super().to_python(value)
        return result.replace(tzinfo=None) if result is not None else None


class TravellerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name or str(_("(unnamed)"))


class IssueLinkForm(forms.Form):
    traveller = TravellerChoiceField(
        label=_("Traveller"), queryset=Traveller.objects.none(), empty_label=None
    )
    step = forms.CharField(
        label=_("The next step, written for the traveller"),
        max_length=MAX_STEP,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Only this is shown, with the signal and the time: no names, no other legs. "
            "For example: “At 03:30 a blue car with its lights on will wait outside.”"
        ),
    )
    signal = forms.CharField(
        label=_("Recognition signal"),
        max_length=MAX_SIGNAL,
        required=False,
        help_text=_(
            "How the traveller will recognise the helper, e.g. “an umbrella in the right hand”."
        ),
    )
    at = WallClockField(label=_("Time (optional)"), required=False)
    zone = forms.ChoiceField(
        label=_("Time zone of that time"),
        choices=_time_zone_choices,
        help_text=_("Where the traveller will be. The page names the zone next to the time."),
    )
    expires_in_hours = forms.IntegerField(
        label=_("Expires after (hours)"),
        min_value=1,
        max_value=MAX_HOURS,
        initial=DEFAULT_HOURS,
    )
    language = forms.ChoiceField(
        label=_("Language of the traveller's page"), choices=_language_choices, required=False
    )

    def __init__(self, *args, case: Case, zone: str = "UTC", **kwargs):
        kwargs.setdefault("auto_id", "link-%s")
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["traveller"]).queryset = case.travellers.all()
        self.fields["zone"].initial = zone

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned data as ``do_issue_traveller_link`` takes it: the time
        made aware in the zone chosen."""
        data = dict(self.cleaned_data)
        at: dt.datetime | None = data.pop("at")
        data["at"] = at.replace(tzinfo=zoneinfo.ZoneInfo(data["zone"])) if at else None
        return data
