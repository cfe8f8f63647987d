"""Forms for logging in, joining, inviting and managing members."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from safepassage.roles import Role

from . import preferences


class MemberChoiceField(forms.ModelChoiceField):
    """Members shown by handle and (sealed) display name."""

    def label_from_instance(self, obj) -> str:
        name = obj.display_name
        return f"{obj.handle} ({name})" if name else obj.handle


class CellChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.codename or str(_("(unnamed cell)"))


class LoginForm(forms.Form):
    handle = forms.CharField(
        label=_("Handle"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    # Shown only while the handle must wait (members.lockout): a coordinator's
    # code lets them in at once.
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=10,
        help_text=_("Coordinators only: with your password, it logs you in without waiting."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def without_code(self) -> LoginForm:
        """This form without the code field, as it shows outside a wait."""
        del self.fields["code"]
        return self


class NewPasswordMixin(forms.Form):
    """Two password fields that must match and pass Django's password validators."""

    new_password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 12 characters. A few unrelated words are easy to remember and hard to guess."
        ),
    )
    new_password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_new_password2(self) -> str:
        first = self.cleaned_data.get("new_password1")
        second = self.cleaned_data["new_password2"]
        if first and first != second:
            raise forms.ValidationError(_("The two passwords are not the same."))
        return second

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("new_password1")
        if password and not self.has_error("new_password2"):
            try:
                password_validation.validate_password(password, self.user_for_validation())
            except forms.ValidationError as error:
                self.add_error("new_password1", error)
        return cleaned

    def user_for_validation(self):
        return None


class JoinForm(NewPasswordMixin):
    handle = forms.CharField(
        label=_("Handle"),
        max_length=40,
        validators=[UnicodeUsernameValidator()],
        help_text=_(
            "The name you log in with. Other members see it, so choose a nickname, "
            "not your real name. Letters, digits and . @ + - _ only."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )

    field_order = ["handle", "new_password1", "new_password2"]


class ChangePasswordForm(NewPasswordMixin):
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    field_order = ["current_password", "new_password1", "new_password2"]

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("New password")
        self.fields["new_password2"].label = _("New password again")

    def user_for_validation(self):
        return self.user


class SecondFactorForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=10,
        help_text=_("Six digits. A new code shows every 30 seconds."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
    )


class DuressPasswordForm(NewPasswordMixin):
    """The member's current password, and a duress password twice."""

    current_password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    field_order = ["current_password", "new_password1", "new_password2"]

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("Duress password")
        self.fields["new_password1"].help_text = _(
            "At least 12 characters, and not your password. Choose one you can "
            "give up without hesitating."
        )
        self.fields["new_password2"].label = _("Duress password again")

    def user_for_validation(self):
        return self.user


class InviteForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.CELL_MEMBER)
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=200,
        help_text=_("How coordinators will know this person. Stored sealed."),
    )
    cell = CellChoiceField(
        label=_("Cell"),
        queryset=None,
        required=False,
        empty_label=_("(none)"),
        help_text=_("Required for a cell member: the cell they will join."),
    )

    def __init__(self, *args, cells=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cell"].queryset = cells

    def clean(self):
        cleaned = super().clean()
        role, cell = cleaned.get("role"), cleaned.get("cell")
        if role == Role.CELL_MEMBER and cell is None:
            self.add_error("cell", _("Choose the cell this person will join."))
        if role == Role.COORDINATOR and cell is not None:
            self.add_error("cell", _("A coordinator does not join a cell. Leave this empty."))
        return cleaned


class ApproveForm(forms.Form):
    compared = forms.BooleanField(
        label=_("The person read me this exact fingerprint, and I am sure it was them."),
        required=True,
        error_messages={
            "required": _("Compare the fingerprint with the person before approving them.")
        },
    )


class ConfirmForm(forms.Form):
    """An explicit confirmation for an action that cannot be undone."""


def _time_zone_choices(*, area: str | None, current: str):
    network, others = preferences.offered_time_zones(area=area, current=current)
    choices = [(_("Where the network works"), [(name, name) for name in network])]
    if others:
        label = preferences.AREA_LABELS[area] if area else _("Your time zone")
        choices.append((label, [(name, _zone_label(name, area)) for name in others]))
    return choices


def _zone_label(name: str, area: str | None) -> str:
    """A zone as listed under its area's heading: "Argentina/Buenos Aires"
    under the Americas (shorter: the Americas alone list 169 zones)."""
    if area and area != preferences.OTHER_AREA and preferences.area_of(name) == area:
        name = name.split("/", 1)[1]
    return name.replace("_", " ")


def _language_choices():
    # Each language in its own name, so a member can find theirs whatever
    # language the page is in now.
    return [(code, get_language_info(code)["name_local"]) for code in preferences.language_codes()]


class PreferencesForm(forms.Form):
    """A member's time zone and language. The time zones offered are the
    network's, the member's own, and those of ``area`` (a key of
    ``preferences.AREA_LABELS``, or None), which the page chooses by link."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_(
            "Every time on your pages is shown in this time zone. It is stored unsealed, "
            "so it need not be the zone you are in."
        ),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=_language_choices,
        help_text=_("The language of your pages."),
    )

    def __init__(self, *args, area: str | None = None, current_zone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        time_zone = cast(forms.ChoiceField, self.fields["time_zone"])
        time_zone.choices = _time_zone_choices(area=area, current=current_zone)
