"""Local development (`make run`): SQLite in var/, debug pages on loopback only."""

from .base import *  # noqa: F403

DEBUG = True
