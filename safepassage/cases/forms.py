"""Forms for cases, travellers, notes and status changes."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safepassage.core.errors import ServiceError
from safepassage.core.validation import clean_birth_year, clean_phone
from safepassage.members.forms import MemberChoiceField

from .models import CASE_TRANSITIONS, CaseStatus

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class MemberMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        name = obj.display_name
        return f"{obj.handle} ({name})" if name else obj.handle


class CaseForm(forms.Form):
    codename = forms.CharField(
        label=_("Code name"),
        max_length=200,
        help_text=_(
            "A name that says nothing about the person, used everywhere instead of theirs."
        ),
    )
    needs = forms.CharField(
        label=_("Needs"),
        required=False,
        max_length=2000,
        widget=TEXTAREA,
        help_text=_("Medical, language, children, anything the journey must allow for."),
    )
    consent_given = forms.BooleanField(
        label=_("The traveller has given consent to be helped and recorded"), required=False
    )
    consent_scope = forms.CharField(
        label=_("What the consent covers"),
        required=False,
        max_length=1000,
        widget=TEXTAREA,
        help_text=_("For example: the journey to the embassy; sharing a photo with the cells."),
    )
    summary = forms.CharField(
        label=_("Summary"), required=False, max_length=10000, widget=forms.Textarea
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("consent_given") and not (cleaned.get("consent_scope") or "").strip():
            self.add_error("consent_scope", _("Say what the traveller agreed to."))
        return cleaned

    def consent(self, *, actor, previous: dict | None = None) -> dict:
        """The consent record: when it changes, who recorded it and when is updated."""
        given = bool(self.cleaned_data["consent_given"])
        scope = self.cleaned_data["consent_scope"].strip()
        previous = previous or {}
        if previous.get("given") == given and (previous.get("scope") or "") == scope:
            return previous
        return {
            "given": given,
            "scope": scope,
            "recorded_at": timezone.localdate().isoformat(),
            "by": actor.handle,
        }


class OpenCaseForm(CaseForm):
    coordinators = MemberMultipleChoiceField(
        label=_("Other coordinators of this case"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("They will hold this case's key. You always do."),
    )

    def __init__(self, *args, coordinators=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coordinators"].queryset = coordinators


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=TEXTAREA, max_length=10000)


class StatusForm(forms.Form):
    """Offers only the transitions allowed from the current status; the service
    has the last word on any other value posted."""

    status = forms.ChoiceField(label=_("New status"), choices=CaseStatus.choices)
    note = forms.CharField(
        label=_("Why (optional)"), required=False, max_length=2000, widget=TEXTAREA
    )

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = CASE_TRANSITIONS.get(current, set())
        self.fields["status"].widget.choices = [("", _("Choose the new status"))] + [
            (value, label) for value, label in CaseStatus.choices if value in allowed
        ]
        self.offers_any = bool(allowed)


class TravellerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    alias = forms.CharField(label=_("Alias"), max_length=200, required=False)
    birth_year = forms.CharField(
        label=_("Year of birth"), max_length=4, required=False, help_text=_("For example 1994.")
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("With + and the country code, for example +86 138 0013 8000."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        widget=TEXTAREA,
        help_text=_("What helps a cell recognise them at a handoff."),
    )
    needs = forms.CharField(label=_("Needs"), required=False, max_length=2000, widget=TEXTAREA)

    def clean_birth_year(self) -> str:
        return _checked(clean_birth_year, self.cleaned_data["birth_year"])

    def clean_phone(self) -> str:
        return _checked(clean_phone, self.cleaned_data["phone"])


def _checked(check, value: str) -> str:
    """``check(value)``, its ServiceError as the field's validation error."""
    try:
        return check(value)
    except ServiceError as error:
        raise forms.ValidationError(str(error)) from error


class AddCoordinatorForm(forms.Form):
    member = MemberChoiceField(label=_("Coordinator"), queryset=None)

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = candidates


class PurgeCaseForm(forms.Form):
    """The confirmation a purge needs: without it a POST destroys nothing."""

    confirm = forms.BooleanField(
        label=_(
            "I understand that purging destroys this case's keys and records "
            "everywhere, at once, and cannot be undone."
        ),
        error_messages={"required": _("Tick the box to confirm the purge.")},
    )
