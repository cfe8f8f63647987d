"""Checks shared by forms and services for values people type.

Each function returns the value as it is to be stored, or raises
``ServiceError`` with a message the person can act on. Forms call them in
``clean_<field>`` for an error beside the field; services call them again,
since the API and scripts reach the service without a form.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import ServiceError

# The oldest year of birth accepted: no traveller alive was born earlier.
OLDEST_BIRTH_YEAR = 1900


def clean_birth_year(value: str) -> str:
    """Empty, or a four-digit year from 1900 to this year.

    Full-width digits (as Chinese and Japanese input methods type them) are
    read as the digits they are.
    """
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value:
        return ""
    this_year = timezone.now().year
    if not (value.isascii() and value.isdigit() and len(value) == 4) or not (
        OLDEST_BIRTH_YEAR <= int(value) <= this_year
    ):
        raise ServiceError(
            _("Write the year of birth as four digits, from %(oldest)s to %(this_year)s.")
            % {"oldest": OLDEST_BIRTH_YEAR, "this_year": this_year}
        )
    return value


def clean_phone(value: str) -> str:
    """Empty, or a possible phone number, stored in its international form.

    The number must start with + and the country code: a record is read by
    coordinators and cells in several countries, so a national form would be
    ambiguous. "Possible" (length per country) rather than "valid" (the
    number ranges allocated today): numbering plans change faster than this
    library's metadata reaches a server, and a real number must never be
    refused.
    """
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ServiceError(
            _(
                "This is not a phone number. Write it in international form: "
                "+ and the country code, then the number (for example +86 138 0013 8000)."
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
