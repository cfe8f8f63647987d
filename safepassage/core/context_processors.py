"""Template context shared by every page."""

from safepassage import roles

FIELD_LAYOUT = "field/base.html"
COORDINATOR_LAYOUT = "base.html"


def member_roles(request):
    """The member's roles, and ``page_layout``: the layout a page that both
    coordinators and cell members open (preferences, security, ...) extends,
    so that a page a cell member reaches is a field page."""
    user = getattr(request, "user", None)
    return {
        "is_coordinator": roles.is_coordinator(user),
        "is_cell_member": roles.is_cell_member(user),
        "page_layout": FIELD_LAYOUT if roles.uses_field_pages(user) else COORDINATOR_LAYOUT,
    }
