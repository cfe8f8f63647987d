"""Forms for declaring a compromise and responding to it. They work without
JavaScript: every subject list is on the page, and the one matching the
chosen kind is the one read."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from safepassage.journeys.forms import LocalDateTimeField

from .exposure import Subject, SubjectKind
from .models import Reason
from .selectors import SubjectChoices
from .services import MAX_NOTES, MAX_TEXT

TEXTAREA = forms.Textarea(attrs={"rows": 3})
# The field holding the subject of each kind of declaration.
SUBJECT_FIELDS = {
    SubjectKind.MEMBER: "member",
    SubjectKind.CELL: "cell",
    SubjectKind.CONTACT: "contact",
    SubjectKind.SAFE_HOUSE: "safe_house",
    SubjectKind.HANDOFF: "handoff",
    SubjectKind.VEHICLE: "text",
    SubjectKind.PLACE: "text",
}


def _choices(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", "—"), *options]


class DeclareForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What was compromised"),
        choices=SubjectKind.choices,
        widget=forms.RadioSelect,
    )
    member = forms.ChoiceField(label=_("Member"), required=False)
    cell = forms.ChoiceField(label=_("Cell"), required=False)
    contact = forms.ChoiceField(label=_("Contact"), required=False)
    safe_house = forms.ChoiceField(label=_("Safe house"), required=False)
    handoff = forms.ChoiceField(
        label=_("Handoff"),
        required=False,
        help_text=_("Handoffs of the journeys under way or being planned in your cases."),
    )
    text = forms.CharField(
        label=_("Vehicle or place"),
        required=False,
        max_length=MAX_TEXT,
        help_text=_(
            "For a vehicle: its plate, or its colour and make. For a place: as it is written "
            "in the handoffs. Capitals and spacing do not matter."
        ),
        widget=forms.TextInput(attrs={"list": "known-vehicles-and-places", "autocomplete": "off"}),
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=Reason.choices)
    occurred_at = LocalDateTimeField(
        label=_("When it happened"),
        required=False,
        help_text=_("Leave empty for now."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=MAX_NOTES,
        widget=TEXTAREA,
        help_text=_("Sealed: only coordinators can read them."),
    )

    def __init__(self, *args, choices: SubjectChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.known = sorted({*choices.known_vehicles, *choices.known_places}, key=str.casefold)
        for name, options in (
            ("member", choices.members),
            ("cell", choices.cells),
            ("contact", choices.contacts),
            ("safe_house", choices.safe_houses),
            ("handoff", choices.handoffs),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
            field.choices = _choices(options)

    def clean(self):
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        name = SUBJECT_FIELDS[SubjectKind(kind)]
        value = (cleaned.get(name) or "").strip()
        if not value:
            self.add_error(name, _("Choose or describe what was compromised."))
            return cleaned
        if name == "text":
            cleaned["subject"] = Subject(kind=kind, text=value)
        else:
            cleaned["subject"] = Subject(kind=kind, id=uuid.UUID(value))
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "subject": data["subject"],
            "reason": data["reason"],
            "occurred_at": data.get("occurred_at"),
            "notes": data.get("notes") or "",
        }


class RespondForm(forms.Form):
    """The response's steps, all ticked at first."""

    freeze = forms.BooleanField(
        label=_("Freeze the affected legs and handoffs"),
        required=False,
        initial=True,
        help_text=_(
            "Their cells' pages say only “Stand down”; nothing can be started or handed off."
        ),
    )
    notify = forms.BooleanField(
        label=_("Notify the adjacent cells"),
        required=False,
        initial=True,
        help_text=_("They are told only that something needs them in safepassage."),
    )
    revoke = forms.BooleanField(
        label=_("Revoke and rotate keys"),
        required=False,
        initial=True,
        help_text=_(
            "A member is removed; a cell's members lose every key and are disabled pending "
            "review; a contact is marked compromised; every exposed handoff still to come "
            "gets new phrases, and the cells there are told to read them again. Every "
            "exposed key you hold is replaced now, the others at their holders' next login."
        ),
    )
    burn = forms.BooleanField(
        label=_("Mark places and vehicles burned"),
        required=False,
        initial=True,
        help_text=_("The planner warns when a leg or handoff uses one again."),
    )


class ReleaseForm(forms.Form):
    leg = forms.UUIDField(widget=forms.HiddenInput)
