"""The API's JSON parser: DRF's, with a bound on nesting.

Python's decoder recurses once per level of nesting, so a body like
``[[[[...]]]]`` a hundred thousand levels deep ends in ``RecursionError``,
which DRF's parser does not catch (it only turns ``ValueError`` into a 400).
No body the API accepts is more than a few levels deep, so anything nested
deeper than ``MAX_DEPTH`` is refused as a parse error before a serializer
or an error message walks it. Configured as
``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The deepest body the API declares is an object holding strings (depth 1);
# the margin leaves room for future shapes without inviting deep recursion.
MAX_DEPTH = 32


class BoundedJSONParser(JSONParser):
    """Parses JSON like ``JSONParser``; refuses nesting deeper than ``MAX_DEPTH``
    (and nesting that exhausts the decoder's stack) with a ``ParseError``."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("The request body is nested too deeply.")) from exc
        if _too_deep(data, MAX_DEPTH):
            raise ParseError(_("The request body is nested too deeply."))
        return data


def _too_deep(data: Any, limit: int) -> bool:
    """Whether ``data`` nests lists or objects deeper than ``limit``. Iterative,
    so the check itself cannot exhaust the stack."""
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth + 1 > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
