"""JSON shapes of the API. Records are read-only: writes go through the
services, and the few request bodies (check-ins, problem reports, tokens) are
validated here and handed to one service each.

Sealed fields are plain strings here: reading them opens them with the
keyring in force. A record whose key has not reached the member yet (a grant
waiting for a coordinator to log in) is listed with ``readable: false`` and
its sealed fields ``null``, as the field pages show it "not yet available".
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from safepassage.cases.models import CaseStatus
from safepassage.journeys import phrases
from safepassage.journeys.models import (
    HandoffStatus,
    JourneyStatus,
    LegStatus,
    TransportKind,
)
from safepassage.journeys.selectors import legs_for
from safepassage.roles import is_coordinator
from safepassage.vault import keyring

from .permissions import scope_of

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
HANDOFF_KINDS = (
    ("pickup", "where the journey starts (no leg before it)"),
    ("handoff", "between two legs"),
    ("arrival", "where the journey ends (no leg after it)"),
)


def can_open(record) -> bool:
    """True when the keyring in force opens ``record``'s compartment."""
    ring = keyring.current()
    return ring is not None and ring.can_open(record.compartment_id)


class SealedCharField(serializers.CharField):
    """A sealed text field, opened with the keyring in force; ``null`` when the
    keys do not reach the record that holds it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        *path, name = self.source_attrs
        owner = instance
        for attr in path:
            owner = getattr(owner, attr, None)
            if owner is None:
                return None
        field = owner._meta.get_field(name)
        ring = keyring.current()
        if ring is None or not ring.can_open(field.compartment_id_for(owner)):
            return None
        return getattr(owner, name)


class SpokenPhraseField(SealedCharField):
    """A verification phrase as it is said aloud, in its speaker's language
    (the stored form is language-neutral: ``journeys.phrases``)."""

    def to_representation(self, value):
        said = phrases.spoken(value)
        return said.text if said is not None else None


class PhraseLanguageField(SealedCharField):
    """The language code a verification phrase is said in."""

    def to_representation(self, value):
        said = phrases.spoken(value)
        return said.language if said is not None else None


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


def withhold_if_frozen(serializer, record, data: dict, names: tuple[str, ...]) -> dict:
    """A frozen leg or handoff tells a cell only to stand down: ``names`` are
    withheld (null) unless the caller is a coordinator, who plans what
    replaces it. The field pages do the same."""
    request = serializer.context.get("request")
    if record.status == "frozen" and not (request is not None and is_coordinator(request.user)):
        for name in names:
            data[name] = None
    return data


class HandoffSerializer(serializers.Serializer):
    """What each side of a handoff needs to recognise the other.

    The side arriving with the traveller (the cell of `from_leg`) says
    `phrase_challenge`; the side receiving them (the cell of `to_leg`)
    answers with `phrase_response`.
    """

    id = serializers.UUIDField(read_only=True)
    journey = serializers.UUIDField(source="journey_id", read_only=True)
    position = serializers.IntegerField(read_only=True)
    kind = serializers.SerializerMethodField()
    from_leg = serializers.SerializerMethodField(
        help_text="The leg arriving with the traveller; null for the pickup, and for a "
        "leg the caller may not see (another cell's leg is not theirs to know)."
    )
    to_leg = serializers.SerializerMethodField(
        help_text="The leg receiving the traveller; null for the arrival, and for a leg "
        "the caller may not see."
    )
    status = serializers.ChoiceField(
        choices=HandoffStatus.choices,
        read_only=True,
        help_text="`frozen`: stand down; a cell is then told nothing else about it.",
    )
    window_start = serializers.DateTimeField(read_only=True, allow_null=True)
    window_end = serializers.DateTimeField(read_only=True, allow_null=True)
    done_at = serializers.DateTimeField(read_only=True, allow_null=True)
    readable = serializers.SerializerMethodField()
    place = SealedCharField()
    clothing = SealedCharField()
    vehicle_colour = SealedCharField()
    vehicle_plate = SealedCharField()
    signal = SealedCharField()
    notes = SealedCharField()
    phrase_challenge = SpokenPhraseField(
        help_text="Said by the side arriving with the traveller, in its language."
    )
    phrase_challenge_language = PhraseLanguageField(
        source="phrase_challenge",
        help_text="The language `phrase_challenge` is said in (`en`, `ko`, `zh-hans`).",
    )
    phrase_response = SpokenPhraseField(
        help_text="Answered by the side receiving the traveller, in its language."
    )
    phrase_response_language = PhraseLanguageField(
        source="phrase_response",
        help_text="The language `phrase_response` is said in (`en`, `ko`, `zh-hans`).",
    )
    has_photo = serializers.SerializerMethodField()

    def _visible_leg(self, leg_id):
        """``leg_id`` if the caller may see that leg, else None (one query per response)."""
        if leg_id is None:
            return None
        visible = self.context.get("_visible_leg_ids")
        if visible is None:
            request = self.context["request"]
            visible = set(
                scope_of(request).legs(legs_for(request.user)).values_list("pk", flat=True)
            )
            self.context["_visible_leg_ids"] = visible
        return leg_id if leg_id in visible else None

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_from_leg(self, handoff):
        return self._visible_leg(handoff.from_leg_id)

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_to_leg(self, handoff):
        return self._visible_leg(handoff.to_leg_id)

    @extend_schema_field(serializers.ChoiceField(choices=HANDOFF_KINDS))
    def get_kind(self, handoff) -> str:
        if handoff.from_leg_id is None:
            return "pickup"
        if handoff.to_leg_id is None:
            return "arrival"
        return "handoff"

    def get_readable(self, handoff) -> bool:
        return can_open(handoff)

    def get_has_photo(self, handoff) -> bool:
        return can_open(handoff) and handoff.photo_type in PHOTO_TYPES

    WITHHELD_WHEN_FROZEN = (
        "place",
        "clothing",
        "vehicle_colour",
        "vehicle_plate",
        "signal",
        "notes",
        "phrase_challenge",
        "phrase_challenge_language",
        "phrase_response",
        "phrase_response_language",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("has_photo") and instance.status == "frozen":
            data["has_photo"] = is_coordinator(self.context["request"].user)
        return withhold_if_frozen(self, instance, data, self.WITHHELD_WHEN_FROZEN)


class LegSerializer(serializers.Serializer):
    """A leg and the handoffs at its two ends: `start_handoff` is where its cell
    receives the traveller, `end_handoff` where it hands them on."""

    id = serializers.UUIDField(read_only=True)
    journey = serializers.UUIDField(source="journey_id", read_only=True)
    position = serializers.IntegerField(read_only=True, help_text="0 for the first leg.")
    cell = serializers.UUIDField(source="cell_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(
        choices=LegStatus.choices,
        read_only=True,
        help_text=(
            "`frozen`: a compromise response stopped this leg; stand down and wait. "
            "Its cell is then told nothing else about it (route, vehicle and "
            "handoffs are null)."
        ),
    )
    window_start = serializers.DateTimeField(read_only=True, allow_null=True)
    window_end = serializers.DateTimeField(read_only=True, allow_null=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    handed_off_at = serializers.DateTimeField(read_only=True, allow_null=True)
    readable = serializers.SerializerMethodField()
    transport = SealedCharField(help_text=f"One of: {', '.join(TransportKind.values)}.")
    route = SealedCharField()
    vehicle = SealedCharField()
    notes = SealedCharField()
    start_handoff = HandoffSerializer(read_only=True, allow_null=True)
    end_handoff = HandoffSerializer(read_only=True, allow_null=True)

    # What a cell stops seeing once its leg is frozen by a compromise response.
    WITHHELD_WHEN_FROZEN = (
        "transport",
        "route",
        "vehicle",
        "notes",
        "start_handoff",
        "end_handoff",
    )

    def get_readable(self, leg) -> bool:
        return can_open(leg)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return withhold_if_frozen(self, instance, data, self.WITHHELD_WHEN_FROZEN)


class CaseLegSerializer(LegSerializer):
    """A leg as its case's coordinators see it: with its cell's code name."""

    cell_codename = SealedCharField(source="cell.codename")


class JourneySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    title = SealedCharField()
    status = serializers.ChoiceField(choices=JourneyStatus.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    legs = CaseLegSerializer(many=True, read_only=True)


class TravellerSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = SealedCharField()
    alias = SealedCharField()
    birth_year = SealedCharField()
    phone = SealedCharField()
    description = SealedCharField()
    needs = SealedCharField()


class CaseSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    codename = SealedCharField()
    status = serializers.ChoiceField(choices=CaseStatus.choices, read_only=True)
    opened_at = serializers.DateTimeField(read_only=True)
    status_changed_at = serializers.DateTimeField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    traveller_count = serializers.SerializerMethodField()

    def get_traveller_count(self, case) -> int:
        # Annotated by ``cases_with_traveller_counts`` on lists; counted from the
        # prefetched travellers on a case's own page.
        count = getattr(case, "traveller_count", None)
        return count if count is not None else len(case.travellers.all())


class CaseDetailSerializer(CaseSerializer):
    travellers = TravellerSerializer(many=True, read_only=True)
    journeys = JourneySerializer(many=True, read_only=True)


# --- check-ins and problem reports (bridges and field scripts) ---------------------------


class SecondsDateTimeField(serializers.DateTimeField):
    """A time to the second, always the same shape (``2025-05-01T08:30:00Z``): a
    receipt's length never depends on its microseconds."""

    def to_representation(self, value):
        if value is None:
            return None
        return super().to_representation(value.replace(microsecond=0))


class CheckinRequestSerializer(serializers.Serializer):
    pin = serializers.CharField(
        max_length=64,
        trim_whitespace=True,
        help_text="The member's check-in PIN (or, under duress, their duress PIN: the "
        "answer is the same).",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=True,
        help_text="Optional, sealed in the leg's compartment (at most 2000 characters).",
    )


class CheckinReceiptSerializer(serializers.Serializer):
    """What the sender is told. The same for a check-in with the duress PIN."""

    at = SecondsDateTimeField(read_only=True, help_text="When the check-in was recorded.")
    next_due_at = SecondsDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the cell is next expected to check in; null when nothing is due.",
    )
    message = serializers.CharField(read_only=True)


def _problem_choices() -> list[tuple[str, object]]:
    from safepassage.alerts.models import PROBLEM_KINDS

    return [(kind.value, kind.label) for kind in PROBLEM_KINDS]


class ProblemRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=_problem_choices())
    details = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=True,
        help_text="What happened, sealed in the leg's compartment (at most 2000 "
        "characters). Required for `other`.",
    )


class ProblemReceiptSerializer(serializers.Serializer):
    at = SecondsDateTimeField(read_only=True, help_text="When the report was recorded.")
    message = serializers.CharField(read_only=True)


# --- cell tokens ---------------------------------------------------------------------------

TOKEN_STATES = (
    ("active", "usable until `expires_at`"),
    ("expired", "past `expires_at`"),
    ("revoked", "revoked by its member"),
)


class TokenIssueSerializer(serializers.Serializer):
    cell = serializers.UUIDField(help_text="One of the member's cells: the token reaches only it.")
    # ``label`` shadows Field.label only for type checkers: DRF takes declared fields off the class.
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=80,
        help_text="A name to recognise the token by. Sealed: only its member reads it.",
    )
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=90, default=90, required=False
    )


class TokenSerializer(serializers.Serializer):
    """A token as its member sees it: never the token itself."""

    id = serializers.UUIDField(read_only=True)
    cell = serializers.UUIDField(source="cell_id", read_only=True)
    label = serializers.SerializerMethodField()  # type: ignore[assignment]
    state = serializers.ChoiceField(source="status", choices=TOKEN_STATES, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Within a minute."
    )
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_label(self, token) -> str | None:
        return token.label_for(keyring.current())


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.SerializerMethodField(
        help_text="The token. Shown this once: the server keeps only a digest of it."
    )

    def get_token(self, issued) -> str:
        return self.context["token"]
