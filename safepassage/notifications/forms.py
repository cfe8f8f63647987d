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
        help_text=_(
            "A messaging bridge that receives a signed POST for each notification: an https "
            "address on the public internet, or a host on your organisation's list of "
            "internal hosts."
        ),
    )
    secret = forms.CharField(
        label=_("Signing secret (optional)"),
        required=False,
        max_length=200,
        help_text=_(
            "Leave empty to have one made for you; it is shown once. Your own must be "
            "whsec_ followed by the base64 of 24 to 64 random bytes."
        ),
    )


class InternalHostsForm(forms.Form):
    hosts = forms.CharField(
        label=_("Internal hosts"),
        required=False,
        max_length=6000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One host name per line, for a bridge on your organisation's own network. "
            "Webhooks to these hosts may use plain http and private addresses. Leave empty "
            "to allow only public https addresses."
        ),
    )


class RemoveForm(forms.Form):
    channel = forms.ChoiceField(choices=[("email", _("Email")), ("webhook", _("Webhook"))])
