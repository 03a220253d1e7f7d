"""Percentiles computed in the database: PostgreSQL's percentile_cont, or a portable equivalent.

Both give the same answer, percentile_cont's linear interpolation between the two nearest ranks, so the
SQLite demo and a PostgreSQL production show the same figures. Neither loads the rows into Python: the
portable way counts the rows, then reads at most two of them per percentile by ORDER BY ... OFFSET.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from math import floor

from django.db import connections
from django.db.models import Aggregate, Count, DurationField, Expression, QuerySet


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Expression | str, fraction: float, **extra: object) -> None:
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError(f"A percentile's fraction is between 0 and 1, not {fraction}.")
        # A float literal checked above: safe to put in the SQL text.
        super().__init__(expression, fraction=repr(fraction), **extra)


def duration_percentiles(
    queryset: QuerySet, duration: Expression, fractions: Sequence[float]
) -> tuple[int, list[timedelta | None]]:
    """(row count, the `duration` percentiles of the rows), one value per fraction, None without rows."""
    if connections[queryset.db].vendor == "postgresql":
        names = {f"p{index}": fraction for index, fraction in enumerate(fractions)}
        percentiles = {
            name: PercentileCont(duration, fraction, output_field=DurationField()) for name, fraction in names.items()
        }
        result = queryset.aggregate(rows=Count("pk"), **percentiles)
        return result["rows"], [result[name] for name in names]
    return portable_duration_percentiles(queryset, duration, fractions)


def portable_duration_percentiles(
    queryset: QuerySet, duration: Expression, fractions: Sequence[float]
) -> tuple[int, list[timedelta | None]]:
    """The same as percentile_cont with plain SQL (any database): one count, then one query per fraction."""
    rows = queryset.count()
    if not rows:
        return 0, [None for _ in fractions]
    ordered = queryset.annotate(_duration=duration).order_by("_duration").values_list("_duration", flat=True)
    values = []
    for fraction in fractions:
        position = fraction * (rows - 1)
        below = floor(position)
        nearest = list(ordered[below : below + 2])
        above = nearest[1] if len(nearest) > 1 else nearest[0]
        values.append(nearest[0] + (above - nearest[0]) * (position - below))
    return rows, values
