"""Spark SQL literals and predicates built from values: every value the stages put into a predicate
(replaceWhere, MERGE conditions) goes through here, quoted, so no value can break out of its literal.

Example::

    sql_string("it's")                       # "'it\\'s'"
    in_list("video_id", ["b", "a", "a"])     # "`video_id` IN ('a', 'b')"
"""

from __future__ import annotations

from typing import Iterable


def sql_string(value: str) -> str:
    """A Spark SQL string literal for ``value`` (backslash-escaped, single-quoted)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_list(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` with every value quoted; ``false`` for an empty list."""
    values = sorted(set(values))
    if not values:
        return "false"
    return f"`{column}` IN (" + ", ".join(sql_string(v) for v in values) + ")"
