"""``{% notification_badge %}``: the unread count as a link, for the page header.

Rendered on the server, so it works without JavaScript; the same fragment is
served at ``notifications:badge`` for a page that polls it (htmx
``hx-get`` / ``hx-trigger="every 30s"`` / ``hx-swap="outerHTML"``)."""

from __future__ import annotations

from django import template

from safepassage.notifications.selectors import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_badge.html", takes_context=True)
def notification_badge(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    count = unread_count(user) if user is not None and user.is_authenticated else 0
    return {"unread_notifications": count}
