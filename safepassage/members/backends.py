"""Authentication by handle."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from .models import Member


class HandleBackend(ModelBackend):
    """Django's model backend keyed on the member's handle.

    For an unknown handle it still runs the password hasher once (Django's
    ModelBackend does this), so timing does not reveal which handles exist.
    """

    def user_can_authenticate(self, user) -> bool:
        return bool(getattr(user, "is_active", False)) and user.status != "removed"

    def get_user(self, user_id):
        try:
            member = Member._default_manager.get(pk=user_id)
        except Member.DoesNotExist:
            return None
        return member if self.user_can_authenticate(member) else None
