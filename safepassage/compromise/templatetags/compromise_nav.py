"""``{% open_compromise_count as n %}``: how many declared compromises of the
member's organisation are still open, for the "Compromise (n)" link of the
coordinator layout. One COUNT query on the same selector as the list."""

from __future__ import annotations

from django import template

from safepassage.compromise.selectors import open_compromise_count as count_open

register = template.Library()


@register.simple_tag(takes_context=True)
def open_compromise_count(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return count_open(user)
