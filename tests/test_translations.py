"""The Korean and Simplified Chinese catalogues: complete for the field pages,
placeholders intact, and actually used when a member chooses the language."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from safepassage.core.management.commands.compiletranslations import compile_all
from safepassage.members import services as member_services

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
LANGUAGES = ["ko", "zh_Hans"]

# Source files of the pages a cell member sees in the field (paths as the .po
# occurrences give them, relative to the safepassage package). "field/" holds the
# stand-down page; "travellers/" holds the traveller link pages, their buttons
# (models) and the messages shown when a link does not open (services); the
# account pages (preferences, password, security, notifications) are field
# pages for a cell member, with their forms.
FIELD_SOURCES = (
    "field/",
    "checkins/templates/",
    "templates/registration/login.html",
    "templates/registration/password.html",
    "templates/registration/awaiting.html",
    "templates/registration/join.html",
    "members/templates/members/preferences.html",
    "members/templates/members/security.html",
    "members/preferences.py",
    "members/forms.py",
    "notifications/templates/",
    "notifications/forms.py",
    "travellers/",
)

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{(\w*)\}")


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"))


def is_field_source(path: str) -> bool:
    path = path.replace("\\", "/").removeprefix("./").removeprefix("safepassage/")
    return path.startswith(FIELD_SOURCES)


def placeholders(text: str) -> set[str]:
    return {match.group(0) for match in PLACEHOLDER.finditer(text)}


def field_entries(po: polib.POFile) -> list[polib.POEntry]:
    return [
        entry
        for entry in po
        if not entry.obsolete and any(is_field_source(path) for path, _ in entry.occurrences)
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_field_page_strings_are_all_translated(language):
    entries = field_entries(catalogue(language))
    # The field templates, the PIN page and the login page hold dozens of strings.
    assert len(entries) > 50
    # translated(): a non-empty msgstr (every plural form) and not fuzzy.
    missing = [entry.msgid for entry in entries if not entry.translated()]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_stand_down_and_traveller_link_pages_count_as_field_sources(language):
    msgids = {entry.msgid for entry in field_entries(catalogue(language))}
    # The stand-down page, the traveller's buttons, the page that opens the link
    # and a message shown when it does not open.
    assert {
        "Stand down",
        "I am out",
        "I am in the car",
        "Something is wrong",
        "A message for you",
        "This link has expired.",
    } <= msgids


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_fuzzy_entries(language):
    assert [entry.msgid for entry in catalogue(language).fuzzy_entries()] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    translated = catalogue(language).translated_entries()
    assert translated
    mismatched = []
    for entry in translated:
        if entry.msgid_plural:
            allowed = (placeholders(entry.msgid), placeholders(entry.msgid_plural))
            mismatched.extend(
                (entry.msgid, form)
                for form in entry.msgstr_plural.values()
                if placeholders(form) not in allowed
            )
        elif placeholders(entry.msgid) != placeholders(entry.msgstr):
            mismatched.append((entry.msgid, entry.msgstr))
    assert mismatched == []


def test_placeholder_pattern_sees_every_kind():
    assert placeholders("Leg %(number)s of %s, {name} and %d") == {
        "%(number)s",
        "%s",
        "{name}",
        "%d",
    }


@pytest.fixture
def compiled(settings):
    """Compile the catalogues (a fresh checkout has no .mo) and make Django reload them."""
    written = compile_all()
    assert {path.parent.parent.name for path in written} >= set(LANGUAGES)
    # Changing LOCALE_PATHS fires setting_changed, which drops Django's cached
    # catalogues, so the freshly written .mo files are read.
    settings.LOCALE_PATHS = [*settings.LOCALE_PATHS]
    return written


def test_compiling_writes_a_mo_next_to_each_po(compiled):
    for language in LANGUAGES:
        mo = LOCALE_DIR / language / "LC_MESSAGES" / "django.mo"
        assert mo in compiled
        assert mo.stat().st_size > 0


@pytest.mark.parametrize(
    ("language", "msgid"),
    [("ko", "My legs"), ("zh-hans", "My legs"), ("ko", "Quick exit")],
)
def test_catalogue_is_used_after_compiling(compiled, language, msgid):
    with translation.override(language):
        translated = translation.gettext(msgid)
    assert translated != msgid
    assert translated == catalogue(translation.to_locale(language)).find(msgid).msgstr


def test_my_legs_page_renders_in_korean(compiled, world, login):
    member, keyring = world.member(0, 0)
    member_services.do_update_preferences(actor=member, time_zone="Asia/Seoul", language="ko")
    client = login(member, keyring)
    response = client.get(reverse("field:my_legs"))
    assert response.status_code == 200
    body = response.content.decode()
    korean = catalogue("ko")
    for msgid in ("My legs", "Quick exit", "Preferences"):
        msgstr = korean.find(msgid).msgstr
        assert msgstr
        assert msgstr in body
    assert ">Quick exit<" not in body
    assert 'lang="ko"' in body


@pytest.mark.parametrize(
    ("language", "expected_date", "expected_short"),
    [
        ("en", "3 Mar 2026, 03:30", "Tue 3 Mar, 03:30"),
        ("ko", "2026년 3월 3일 03:30", "3월 3일"),
        ("zh-hans", "2026年3月3日 03:30", "3月3日"),
    ],
)
def test_dates_read_in_the_language_order(language, expected_date, expected_short):
    """Dates follow the reader's language (year first in Korean and Chinese),
    always on a 24-hour clock."""
    from datetime import UTC, datetime

    from django.template.defaultfilters import date

    from safepassage.field.templatetags.field_tags import when

    moment = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)
    with translation.override(language):
        assert date(moment, "DATETIME_FORMAT") == expected_date
        short = str(when(moment))
    assert expected_short in short
    assert "03:30" in short
    assert 'datetime="2026-03-03T03:30:00+00:00"' in short
