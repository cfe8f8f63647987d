"""What a member may choose for themselves: the time zone times are shown in
and the language of the pages."""

from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

# The zones the network works in, offered first (in this order).
NETWORK_TIME_ZONES = (
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Vientiane",
    "Asia/Bangkok",
    "Asia/Ho_Chi_Minh",
    "Asia/Phnom_Penh",
    "Asia/Yangon",
    "Asia/Ulaanbaatar",
    "Europe/London",
    "America/New_York",
    "UTC",
)

# Names the time zone database answers to that are not places: the server's own
# zone and tzdata's placeholder.
NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name this server knows (read once: it walks the disk)."""
    return frozenset(zoneinfo.available_timezones() - NOT_A_PLACE)


def time_zone_choices() -> list[str]:
    """The network's zones first, then every other zone in alphabetical order."""
    known = time_zone_names()
    first = [name for name in NETWORK_TIME_ZONES if name in known]
    return first + sorted(known - set(first))


# The parts of the world a member picks from before their zone, so that a page
# offers one part's zones and not all six hundred (35 KB: over the field
# pages' budget). Names outside these areas (legacy names such as "ROK",
# "Etc/GMT+9", "US/Eastern") are listed together under OTHER_AREA.
AREAS = {
    "Africa": _("Africa"),
    "America": _("The Americas"),
    "Antarctica": _("Antarctica"),
    "Arctic": _("Arctic"),
    "Asia": _("Asia"),
    "Atlantic": _("Atlantic Ocean"),
    "Australia": _("Australia"),
    "Europe": _("Europe"),
    "Indian": _("Indian Ocean"),
    "Pacific": _("Pacific Ocean"),
}
OTHER_AREA = "Other"
AREA_LABELS = {**AREAS, OTHER_AREA: _("Other names")}


def area_of(name: str) -> str:
    """The area a zone name is listed under (``OTHER_AREA`` for names outside them)."""
    head = name.split("/", 1)[0] if "/" in name else ""
    return head if head in AREAS else OTHER_AREA


def offered_time_zones(*, area: str | None, current: str) -> tuple[list[str], list[str]]:
    """What the preferences page offers: the network's zones, then the other
    zones of ``area`` (none when no area is chosen) with the member's
    ``current`` zone among them wherever it is, so it is always shown selected."""
    network = [name for name in time_zone_choices() if name in NETWORK_TIME_ZONES]
    known = time_zone_names()
    others = {name for name in known if area is not None and area_of(name) == area}
    if current in known:
        others.add(current)
    return network, sorted(others - set(network))


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def is_language(code: str) -> bool:
    return code in language_codes()
