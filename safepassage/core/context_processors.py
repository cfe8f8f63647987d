"""Template context shared by every page."""

from safepassage import roles


def member_roles(request):
    user = getattr(request, "user", None)
    return {
        "is_coordinator": roles.is_coordinator(user),
        "is_cell_member": roles.is_cell_member(user),
    }
