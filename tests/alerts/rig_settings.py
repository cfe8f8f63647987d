"""Settings for worker processes started by the tests and the latency benchmark.

The test suite's own database lives in memory (SQLite) or in a per-run test
database (PostgreSQL), where a subprocess cannot reach it, so these settings
point at a database of the caller's choosing: ``RIG_DATABASE_URL``
(PostgreSQL) or ``RIG_SQLITE_PATH`` (a file).
"""

import os

import dj_database_url

from safepassage.settings.test import *  # noqa: F403
from safepassage.settings.test import DATABASES

if os.environ.get("RIG_DATABASE_URL"):
    DATABASES["default"] = dict(dj_database_url.parse(os.environ["RIG_DATABASE_URL"]))
else:
    DATABASES["default"] = {
        **DATABASES["default"],
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["RIG_SQLITE_PATH"],
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
            ),
        },
    }
