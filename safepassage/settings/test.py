"""pytest settings: fixed throwaway secrets, Argon2id at its floor for speed."""

import os

os.environ.setdefault("SAFEPASSAGE_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SAFEPASSAGE_DISPATCH_KEY", "00" * 32)
# The floor itself: tests exercise the real KDF at the lowest accepted cost.
os.environ.setdefault("SAFEPASSAGE_ARGON2_OPSLIMIT", "2")
os.environ.setdefault("SAFEPASSAGE_ARGON2_MEMLIMIT", str(19 * 1024 * 1024))

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # pytest-django runs SQLite tests in memory; this name is only a placeholder.
    DATABASES["default"]["NAME"] = str(VAR_DIR / "test.sqlite3")

MEDIA_ROOT = str(VAR_DIR / "test-media")
