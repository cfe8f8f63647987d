"""Forms for cells and their members."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from safepassage.members.forms import MemberChoiceField

from .models import CellStatus

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class CellForm(forms.Form):
    codename = forms.CharField(
        label=_("Code name"),
        max_length=200,
        help_text=_("The name the cell goes by here. Never a real name or place."),
    )
    specialty = forms.CharField(
        label=_("Specialty"),
        max_length=200,
        required=False,
        help_text=_("For example: driver, guide across the border, safe-house keeper."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=TEXTAREA)


class CellEditForm(CellForm):
    status = forms.ChoiceField(label=_("Status"), choices=CellStatus.choices)


class AddCellMemberForm(forms.Form):
    member = MemberChoiceField(label=_("Member"), queryset=None)
    is_lead = forms.BooleanField(label=_("Lead of this cell"), required=False)

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = candidates


class RemoveCellMemberForm(forms.Form):
    member = MemberChoiceField(label=_("Member to remove from this cell"), queryset=None)

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members


class CellLeadForm(forms.Form):
    """Make a member of the cell its lead, or end their lead role (one button per member)."""

    member = MemberChoiceField(label=_("Member"), queryset=None, widget=forms.HiddenInput)
    is_lead = forms.BooleanField(
        label=_("Lead of this cell"), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members
