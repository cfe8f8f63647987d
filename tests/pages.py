"""Checks shared by the page tests."""

from __future__ import annotations

import re

# The only script a coordinator page may load: the vendored htmx, from our own
# static files. Field pages load none at all (their own tests check that).
ALLOWED_SCRIPT = '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>'


def no_inline_code(body: str) -> bool:
    """No inline script, style element or style attribute; the one script tag is htmx."""
    scripts = re.findall(r"<script[^>]*>.*?</script>", body, flags=re.S)
    return (
        all(tag == ALLOWED_SCRIPT for tag in scripts)
        and "style=" not in body
        and "<style" not in body
    )
