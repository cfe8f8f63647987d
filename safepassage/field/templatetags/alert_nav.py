"""``{% open_alert_count as n %}``: how many open alerts the logged-in member
sees, for the "Alerts (n)" link of the coordinator layout.

One COUNT query on the same selector as the inbox, so the number always
matches what the inbox lists. Kept beside the field pages' helpers for now;
its natural home is the alerts app.
"""

from __future__ import annotations

from django import template

from safepassage.alerts.selectors import open_alert_count as count_open

register = template.Library()


@register.simple_tag(takes_context=True)
def open_alert_count(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return count_open(user)
