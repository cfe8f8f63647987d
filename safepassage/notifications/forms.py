"""Forms for a member's notification addresses."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_(
            "A mailbox under a pseudonym is best. The email says only that something needs you."
        ),
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        assume_scheme="https",
        label=_("Webhook address"),
        help_text=_("A messaging bridge that receives a signed POST for each notification."),
    )
    secret = forms.CharField(
        label=_("Signing secret (optional)"),
        required=False,
        min_length=16,
        max_length=200,
        help_text=_("Leave empty to have one made for you; it is shown once."),
    )


class RemoveForm(forms.Form):
    channel = forms.ChoiceField(choices=[("email", _("Email")), ("webhook", _("Webhook"))])
