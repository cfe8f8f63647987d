"""Errors shared by every app's services."""


class ServiceError(Exception):
    """A write refused for a reason the person can act on.

    The message is user-facing and already translated; views show it as a
    form error and change nothing.
    """
