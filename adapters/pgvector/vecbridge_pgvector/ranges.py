"""Key ranges of a keyset scan: what a scan cursor holds and what a partition is, for vecbridge's
tables and native ones alike (both scan in the order of one key column).

A cursor holds either the last key read (a scan of the whole namespace, the form cursors had before
partitions) or ``[lower, until, inclusive]``: keys above ``lower`` (from it when ``inclusive``; ``None``:
from the start) and below ``until`` (``None``: to the end). Partitions are the ranges between the key's
quantiles (``percentile_disc``, in the column's own order and collation, which the scan's
``ORDER BY`` and comparisons share, so the ranges meet exactly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from vecbridge.adapter import decode_cursor, encode_cursor

#: A key value as a cursor holds it (a uuid key as its text).
Key = str | int


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys after ``lower`` (or from it, ``inclusive``) and before ``until``; ``None`` bounds are open."""

    lower: Key | None = None
    until: Key | None = None
    inclusive: bool = False

    def after(self, last: Key) -> str:
        """The cursor resuming this range after the key ``last``."""
        return encode_cursor(last if self.until is None else [last, self.until, False])

    def clause(self, key: sql.Composable, convert: Callable[[Key], Any]) -> tuple[list[sql.Composable], list[Any]]:
        """SQL conditions (to AND with the scan's) and their parameters; ``convert`` makes a column value."""
        parts: list[sql.Composable] = []
        params: list[Any] = []
        if self.lower is not None:
            parts.append(sql.SQL("{} >= %s" if self.inclusive else "{} > %s").format(key))
            params.append(convert(self.lower))
        if self.until is not None:
            parts.append(sql.SQL("{} < %s").format(key))
            params.append(convert(self.until))
        return parts, params


def _is_key(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _valid(state: Any) -> bool:
    if _is_key(state):
        return True
    return (
        isinstance(state, list)
        and len(state) == 3
        and all(bound is None or _is_key(bound) for bound in state[:2])
        and isinstance(state[2], bool)
    )


def decode_range(cursor: str | None) -> KeyRange:
    """The range a scan cursor stands for (``None``: everything)."""
    if cursor is None:
        return KeyRange()
    state = decode_cursor(cursor, "pgvector", _valid)
    if _is_key(state):
        return KeyRange(lower=state)
    return KeyRange(lower=state[0], until=state[1], inclusive=state[2])


def partition_cursors(bounds: list[Key]) -> list[str | None]:
    """The cursors of the ranges between ascending, distinct ``bounds``: ``[start, b0), [b0, b1) ... [bn, end)``."""
    if not bounds:
        return [None]
    lowers: list[Key | None] = [None, *bounds]
    untils: list[Key | None] = [*bounds, None]
    return [encode_cursor([lower, until, lower is not None]) for lower, until in zip(lowers, untils, strict=True)]


async def key_quantiles(
    conn: psycopg.AsyncConnection[Any],
    key: sql.Composable,
    table: sql.Composable,
    where: sql.Composable,
    params: tuple[Any, ...],
    count: int,
) -> list[Key]:
    """The distinct keys at the ``1/count ... (count-1)/count`` quantiles of the rows matching ``where``,
    ascending (one sort of the keys; a uuid key comes back as its text)."""
    statement = sql.SQL("SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY {}) FROM {} AS t WHERE {}").format(
        key, table, where
    )
    fractions = [i / count for i in range(1, count)]
    row = await (await conn.execute(statement, (fractions, *params))).fetchone()
    bounds: list[Key] = []
    for value in row[0] if row and row[0] else []:
        if value is None:
            continue
        bound = value if _is_key(value) else str(value)
        if not bounds or bounds[-1] != bound:
            bounds.append(bound)
    return bounds
