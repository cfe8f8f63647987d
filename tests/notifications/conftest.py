"""Fixtures of the notification tests (see ``support``)."""

from .support import fake_dns  # noqa: F401 - a fixture, found by pytest by name
