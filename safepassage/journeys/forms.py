"""Forms for the journey planner. Times are read in the member's time zone
(the view activates it), from ``datetime-local`` inputs."""

from __future__ import annotations

from typing import cast

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from safepassage.journeys.models import TransportKind

TEXTAREA = forms.Textarea(attrs={"rows": 3})
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"

# What a photo's first bytes look like: we trust the bytes, not the browser's label.
PHOTO_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff_image_type(data: bytes) -> str | None:
    for prefix, content_type in PHOTO_SIGNATURES:
        if data.startswith(prefix):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class LocalDateTimeField(forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


class NamedChoiceField(forms.ModelChoiceField):
    """Cells, contacts and safe houses by their (sealed) code name, with any
    status other than the usual one spelled out."""

    name_attr = "codename"
    usual_status = "active"

    def label_from_instance(self, obj) -> str:
        name = getattr(obj, self.name_attr) or str(_("(unnamed)"))
        if obj.status != self.usual_status:
            return f"{name} ({obj.get_status_display()})"
        return name


class ContactChoiceField(NamedChoiceField):
    name_attr = "name"


class SafeHouseChoiceField(NamedChoiceField):
    usual_status = "available"

    def label_from_instance(self, obj) -> str:
        label = super().label_from_instance(obj)
        return str(_("%(name)s, sleeps %(capacity)s")) % {"name": label, "capacity": obj.capacity}


class JourneyForm(forms.Form):
    title = forms.CharField(
        label=_("Journey title"),
        max_length=200,
        help_text=_("For example: North route, second attempt."),
    )


class WindowForm(forms.Form):
    """A form with ``window_start`` and ``window_end``."""

    def check_window(self, cleaned) -> None:
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        if start and end and end <= start:
            self.add_error("window_end", _("The window must end after it starts."))


class LegForm(WindowForm):
    cell = NamedChoiceField(
        label=_("Cell"),
        queryset=None,
        required=False,
        empty_label=_("(no cell yet)"),
        help_text=_("The cell that runs this leg. Its members get this leg and its two handoffs."),
    )
    transport = forms.ChoiceField(label=_("Transport"), choices=TransportKind.choices)
    safe_house = SafeHouseChoiceField(
        label=_("Safe house"),
        queryset=None,
        required=False,
        empty_label=_("(none)"),
        help_text=_("Only for a safe-house stay."),
    )
    contact = ContactChoiceField(
        label=_("Contact"),
        queryset=None,
        required=False,
        empty_label=_("(none)"),
        help_text=_("A helper outside safepassage who works on this leg, such as a broker."),
    )
    window_start = LocalDateTimeField(label=_("Window starts"), required=False)
    window_end = LocalDateTimeField(label=_("Window ends"), required=False)
    route = forms.CharField(label=_("Route"), required=False, widget=TEXTAREA)
    vehicle = forms.CharField(label=_("Vehicle"), max_length=200, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=TEXTAREA)

    def __init__(self, *args, member, leg=None, zone_name: str = "UTC", **kwargs):
        from safepassage.cells.models import CellStatus
        from safepassage.cells.selectors import cells_for
        from safepassage.contacts.models import ContactStatus
        from safepassage.contacts.selectors import contacts_for
        from safepassage.safehouses.models import SafeHouseStatus
        from safepassage.safehouses.selectors import safe_houses_for

        super().__init__(*args, **kwargs)

        def usable(current_id, status: str) -> Q:
            condition = Q(status=status)
            return condition | Q(pk=current_id) if current_id else condition

        self._choices("cell").queryset = (
            cells_for(member)
            .filter(usable(getattr(leg, "cell_id", None), CellStatus.ACTIVE))
            .select_related("organisation")
        )
        self._choices("contact").queryset = (
            contacts_for(member)
            .filter(usable(getattr(leg, "contact_id", None), ContactStatus.ACTIVE))
            .select_related("organisation")
        )
        self._choices("safe_house").queryset = (
            safe_houses_for(member)
            .filter(usable(getattr(leg, "safe_house_id", None), SafeHouseStatus.AVAILABLE))
            .select_related("organisation")
        )
        for name in ("window_start", "window_end"):
            self.fields[name].help_text = _("In %(zone)s time.") % {"zone": zone_name}

    def _choices(self, name: str) -> forms.ModelChoiceField:
        return cast(forms.ModelChoiceField, self.fields[name])

    def clean(self):
        cleaned = super().clean()
        self.check_window(cleaned)
        transport, house = cleaned.get("transport"), cleaned.get("safe_house")
        if transport == TransportKind.STAY and house is None:
            self.add_error("safe_house", _("Choose the safe house for this stay."))
        if transport and transport != TransportKind.STAY and house is not None:
            self.add_error("safe_house", _("A safe house goes with a safe-house stay only."))
        return cleaned


class HandoffForm(WindowForm):
    place = forms.CharField(label=_("Place"), required=False, widget=TEXTAREA)
    window_start = LocalDateTimeField(label=_("Window starts"), required=False)
    window_end = LocalDateTimeField(label=_("Window ends"), required=False)
    clothing = forms.CharField(
        label=_("Clothing"),
        required=False,
        widget=TEXTAREA,
        help_text=_("What each side will wear, so the other can recognise them."),
    )
    vehicle_colour = forms.CharField(label=_("Vehicle colour"), max_length=100, required=False)
    vehicle_plate = forms.CharField(label=_("Vehicle plate"), max_length=100, required=False)
    signal = forms.CharField(
        label=_("Signal"),
        max_length=500,
        required=False,
        help_text=_("For example: an umbrella in the right hand."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=TEXTAREA)
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text=_("A JPEG, PNG or WebP image of at most 5 MB. It is stored sealed."),
    )
    remove_photo = forms.BooleanField(label=_("Remove the current photo"), required=False)

    def __init__(
        self,
        *args,
        zone_name: str = "UTC",
        upload_refused: bool = False,
        has_photo: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if not has_photo:
            del self.fields["remove_photo"]
        self.upload_refused = upload_refused
        self.photo_bytes: bytes | None = None
        self.photo_type: str | None = None
        for name in ("window_start", "window_end"):
            self.fields[name].help_text = _("In %(zone)s time.") % {"zone": zone_name}

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if self.upload_refused and not upload:
            raise forms.ValidationError(_("The photo is too large (5 MB at most)."))
        if not upload:
            return None
        if upload.size > settings.VAULT_MAX_PHOTO_BYTES:
            raise forms.ValidationError(_("The photo is too large (5 MB at most)."))
        data = upload.read()
        content_type = sniff_image_type(data)
        if content_type is None:
            raise forms.ValidationError(_("The photo must be a JPEG, PNG or WebP image."))
        self.photo_bytes, self.photo_type = data, content_type
        return upload

    def clean(self):
        cleaned = super().clean()
        self.check_window(cleaned)
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "place": data["place"],
            "window_start": data["window_start"],
            "window_end": data["window_end"],
            "clothing": data["clothing"],
            "vehicle_colour": data["vehicle_colour"],
            "vehicle_plate": data["vehicle_plate"],
            "signal": data["signal"],
            "notes": data["notes"],
            "photo": self.photo_bytes,
            "photo_type": self.photo_type,
            "remove_photo": bool(data.get("remove_photo")) and self.photo_bytes is None,
        }


class MoveLegForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("up", _("Earlier")), ("down", _("Later"))], widget=forms.HiddenInput
    )

    def offset(self) -> int:
        return -1 if self.cleaned_data["direction"] == "up" else 1


# The labels of a handoff's recognition details, as the handoff form names them.
HANDOFF_DETAIL_LABELS = {
    "place": _("Place"),
    "clothing": _("Clothing"),
    "vehicle_colour": _("Vehicle colour"),
    "vehicle_plate": _("Vehicle plate"),
    "signal": _("Signal"),
    "notes": _("Notes"),
    "photo": _("Photo"),
}


class DeleteHandoffDetailForm(forms.Form):
    """Which of the handoff's recorded details to delete (only those it holds)."""

    detail = forms.ChoiceField(label=_("Detail to delete"), widget=forms.RadioSelect)

    def __init__(self, *args, present: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["detail"])
        field.choices = [(name, HANDOFF_DETAIL_LABELS[name]) for name in present]
