"""What a member may choose for themselves: the time zone times are shown in
and the language of the pages."""

from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings

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


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def is_language(code: str) -> bool:
    return code in language_codes()
