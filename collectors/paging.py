"""Pages of long lists read cell by cell: the keyset walks.

A list ordered by a few leading keys (a status, then accounts by name) is
split into cells, one per combination; a page is read through a LATERAL join
that takes at most ``offset + limit`` rows of each cell from an index, over
the first cells only, eight times as many on each retry until the page is
full. A page then costs the rows of the cells before it, not a sort of the
whole list. The scan page's units, and the findings explorer, control and
account lists, read their pages this way.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import islice, product
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

#: Cells read by the first try; eight times more on each retry.
FIRST_CELLS = 8
#: Cells few enough to send in one statement (a status or two × the accounts
#: in scope): PostgreSQL reads them in order and stops once the page is full,
#: so one statement does what the retries would, without their round trips.
ALL_AT_ONCE = 4096


class Cells:
    """The cells of a walk: every combination of the ``axes``' values, the
    first axis outermost, made only as far as the walk reads them. A thousand
    accounts × statuses × severities is tens of thousands of cells; most
    pages read eight."""

    def __init__(self, *axes: Sequence) -> None:
        self.axes = axes

    def __len__(self) -> int:
        return math.prod(len(axis) for axis in self.axes)

    def first(self, size: int) -> list[tuple]:
        return list(islice(product(*self.axes), size))


def walk_ids(
    statement: Callable[[int], tuple[str, list]],
    cells: int,
    limit: int,
    using: str = DEFAULT_DB_ALIAS,
    first: int | None = None,
) -> list[int]:
    """The page's ids: ``statement(size)`` is the SQL (and its parameters) of
    the ids over the first ``size`` of ``cells`` cells, in the page's order;
    the first try reads ``first`` cells (``FIRST_CELLS`` unless given)."""
    size = first or FIRST_CELLS
    while True:
        sql, params = statement(size)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            ids = [pk for (pk,) in cursor.fetchall()]
        if len(ids) == limit or size >= cells:
            return ids
        size *= 8


def array_literal(values: Iterable) -> str:
    """``values`` as one PostgreSQL array literal, for a ``%s::type[]``
    parameter: the driver adapts a list element by element, a microsecond or
    more each, and a walk's cells can number thousands. Each distinct value
    is quoted once: a walk's statuses repeat for every account."""
    values = list(values)
    quoted = {
        v: str(v)
        if isinstance(v, int)
        else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in set(values)
    }
    return "{" + ",".join(map(quoted.__getitem__, values)) + "}"


def in_order(ids: list[int], rows: Iterable[Any]) -> list[Any]:
    """``rows`` (read by ``pk__in=ids``) in the order of ``ids``; a row gone
    since the walk is left out."""
    by_pk = {row.pk: row for row in rows}
    return [by_pk[pk] for pk in ids if pk in by_pk]
