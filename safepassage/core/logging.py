"""Log hygiene: no line carries a link's secret.

A traveller link (``/t/<token>/``) and an invitation (``/join/<token>/``)
are keys: whoever reads them in a log can open the link. Query strings may
carry search terms a coordinator typed. Every handler in ``LOGGING`` runs
this filter, so the development server's access log, Django's request
warnings and the application's own lines all print the path with the secret
replaced.
"""

from __future__ import annotations

import logging
import re

# The path segment after /t/ or /join/ (any prefix: a proxy may mount the
# site below a path), and any query string up to the end of the request line.
_SECRET_PATH = re.compile(r"(/(?:t|join)/)[^/\s\"'?#]+")
_QUERY = re.compile(r"\?[^\s\"']*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every link token and query string replaced."""
    return _QUERY.sub("?" + REDACTED, _SECRET_PATH.sub(r"\1" + REDACTED, text))


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        # The request object Django attaches is not printed by our formatter;
        # drop it anyway so no handler added later can print its path.
        if hasattr(record, "request"):
            record.request = None
        return True
