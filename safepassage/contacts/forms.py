"""Forms for contacts (helpers outside safepassage)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from safepassage.core.errors import ServiceError
from safepassage.core.validation import clean_phone

from .models import ContactStatus

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name or alias"), max_length=200)
    role_description = forms.CharField(
        label=_("Role"),
        max_length=200,
        required=False,
        help_text=_("For example: broker in Shenyang, driver hired per job."),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("With + and the country code, for example +86 138 0013 8000."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=2000,
        widget=TEXTAREA,
        help_text=_(
            "Track record: payments, demands, delays, anything the next coordinator should know."
        ),
    )

    def clean_phone(self) -> str:
        try:
            return clean_phone(self.cleaned_data["phone"])
        except ServiceError as error:
            raise forms.ValidationError(str(error)) from error


class ContactEditForm(ContactForm):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=ContactStatus.choices,
        help_text=_(
            "“Do not use” keeps them off new legs. “Compromised” means they may be working "
            "against the network."
        ),
    )
