"""Template helpers of the field pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

WHEN_FORMAT = "SHORT_DATETIME_FORMAT"  # per language: safepassage/formats/


@register.filter
def when(value: datetime | None) -> str:
    """``value`` in the active time zone (the member's, on field pages) as a
    ``<time>`` element: short enough for a small screen, exact in its
    ``datetime`` attribute."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}">{}</time>', local.isoformat(), date_filter(local, WHEN_FORMAT)
    )
