"""CSV exports, shared by the CLI (``export_findings``) and the pages' Export links.

Every table is a header plus a generator of rows read with ``.iterator()``, so
an export of any size runs in constant memory; the findings lists read theirs
in a transaction, so the first row leaves at once. Cells come from AWS data, which
whoever controls a member account writes: a cell that a spreadsheet would run
as a formula is neutralised. Times are ISO-8601 in UTC.

This module holds the cells, lines and file names, and the findings lists;
``exports_rollups`` the tables of pass rates (controls, accounts, sections,
frameworks) and ``exports_history`` scans, units and a resource's history. Each
``*_rows`` function takes what a page shows (querysets already scoped and
filtered by the views' own helpers, or ``findings.dashboard`` rows), so an
export holds the same rows as its page; ``findings/views_exports.py`` serves
them.
"""

import csv
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.db import transaction
from django.db.models import Case, Func, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, NullIf

from findings.controls import REGISTRY, Control
from findings.models import Finding

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset("".join(FORMULA_PREFIXES))
_BLANKS = " \n"
_RISKY_FIRST = frozenset(FORMULA_PREFIXES + tuple(_BLANKS))
BOM = "\ufeff"
CHUNK_ROWS = 2000  # rows per database round trip
CHUNK_BYTES = 64 * 1024  # bytes per chunk handed to the web server

# -- Cells and lines ---------------------------------------------------------------


def neutralise(value: Any) -> str:
    """A cell that spreadsheets show as text, never evaluate."""
    if type(value) is str:  # most cells: checked first, exports run it per cell
        text = value
    elif value is None:
        return ""
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, int | float | Decimal):
        # Numbers are Parapet's own counts, never AWS text: "-1" stays a number.
        return str(value)
    elif isinstance(value, datetime):
        return _iso_utc(value)
    elif isinstance(value, date):
        return value.isoformat()
    else:
        text = str(value)
    if not text:
        return text
    first = text[0]
    # Spreadsheets that trim leading blanks on import would still see a formula.
    if first in _BLANKS:
        first = text.lstrip(_BLANKS)[:1]
    return "'" + text if first and first in _FORMULA_FIRST else text


# Rows of a scan share its clock, so a few timestamps fill a whole export.
_ISO_CACHE: dict[datetime, str] = {}


def _iso_utc(value: datetime) -> str:
    text = _ISO_CACHE.get(value)
    if text is None:
        text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if len(_ISO_CACHE) >= 4096:
            _ISO_CACHE.clear()
        _ISO_CACHE[value] = text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text line by line (constant memory), every cell neutralised."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(header)
    risky = _RISKY_FIRST
    for row in rows:
        # Inline for the common cell (text that starts harmlessly): a function
        # call per cell would double the time of a large export.
        yield writer.writerow(
            [v if type(v) is str and v[:1] not in risky else neutralise(v) for v in row]
        )


def csv_chunks(
    header: list[str], rows: Iterable[Iterable], *, bom: bool = False
) -> Iterator[bytes]:
    """UTF-8 CSV in chunks of about ``CHUNK_BYTES``, optionally with a BOM.

    Excel reads a file without a byte order mark as the local code page; with
    ``bom`` it opens UTF-8 names correctly.
    """
    buffer: list[str] = [BOM] if bom else []
    size = 0
    for line in csv_lines(header, rows):
        buffer.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def file_name(organization: str, subject: str, day: date) -> str:
    """``parapet-<organization>-<subject>-<YYYY-MM-DD>.csv``, ASCII only."""
    parts = ["parapet", _file_part(organization), _file_part(subject)]
    return "-".join(p for p in parts if p) + f"-{day.isoformat()}.csv"


def _file_part(text: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    )
    return re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower()).strip("-.")[:80]


# -- Findings ----------------------------------------------------------------------


class IsoUtc(Func):
    """A timestamp column as the text ``neutralise`` makes of it, from Postgres.

    Loading a timestamp into Python costs more than the rest of a findings row
    together, so the large exports let Postgres format it. The column appears
    three times in the template: use it on a column, not on an expression with
    parameters.
    """

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s"
        " THEN '' ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END"
        " || 'Z'"
    )
    output_field = TextField()


#: The ``export_findings`` columns: a public interface, scripts read them.
FINDING_COLUMNS = [
    "account_id",
    "region",
    "resource_type",
    "resource_id",
    "resource_arn",
    "control_id",
    "section",
    "severity",
    "status",
    "reason",
    "first_seen",
    "last_changed",
]
#: The findings lists of the pages: the CLI's columns, then what the page shows.
FINDING_LIST_COLUMNS = [
    *FINDING_COLUMNS,
    "account_name",
    "resource_name",
    "resource_tags",
    "control_title",
]
#: The findings explorer's export: the pages' columns, and whether an exception
#: in force covers the finding (``findings.explorer.explore`` annotates it).
EXPLORER_COLUMNS = [*FINDING_LIST_COLUMNS, "excepted"]


def tags_cell(tags: dict | None) -> str:
    """Tags as a JSON object; empty when there are none."""
    if not tags:
        return ""
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)


# A column is read from the database (a ``values_list`` path or expression) or
# derived from the control in the catalog.
_FINDING_FIELDS: dict[str, str | Func] = {
    "account_id": "account__account_id",
    "account_name": "account__name",
    "region": "resource__region",
    "resource_type": "resource__resource_type",
    "resource_id": "resource__resource_id",
    "resource_arn": "resource__arn",
    "resource_name": "resource__name",
    # JSON text straight from Postgres: no decoding and re-encoding per row.
    "resource_tags": NullIf(
        Cast("resource__current_snapshot__tags", TextField()),
        Value("{}", output_field=TextField()),
    ),
    "control_id": "control_id",
    "status": "status",
    "reason": "reason",
    "first_seen": IsoUtc("first_seen"),
    "last_changed": IsoUtc("last_changed"),
    "excepted": "excepted",  # an annotation: explorer querysets only
}
_FROM_CONTROL: dict[str, Callable[[Control], str]] = {
    "section": lambda c: c.section,
    "severity": lambda c: c.severity.value,
    "control_title": lambda c: c.title,
}
_CLI_ORDER = ("account__account_id", "control_id", "resource__resource_id")


def finding_list(findings: QuerySet, form) -> QuerySet:
    """A findings list as the pages show it: filtered by ``form``, failing first.

    ``form`` is a ``FindingFilterForm``; the order is the control and account
    pages' (the primary key last, so equal rows keep a stable order).
    """
    failing_first = Case(When(status="FAIL", then=Value(0)), default=Value(1))
    return form.filter(findings).order_by(
        failing_first,
        "account__name",
        "account__account_id",
        "control_id",
        "resource__name",
        "resource__resource_id",
        "pk",
    )


def finding_rows(
    findings: QuerySet, columns: list[str] = FINDING_COLUMNS
) -> Iterator[tuple]:
    """Rows of ``columns``; an unordered queryset gets the CLI's order."""
    if not findings.ordered:
        findings = findings.order_by(*_CLI_ORDER)
    derived = [c for c in columns if c in _FROM_CONTROL]
    # control_id first: the catalog lookup needs it.
    read = list(
        dict.fromkeys(["control_id", *(c for c in columns if c not in derived)])
    )
    # A row is (database values + the control's derived values), picked into
    # column order: no Python call per cell.
    position = {name: i for i, name in enumerate([*read, *derived])}
    indexes = [position[c] for c in columns]
    pick = itemgetter(*indexes) if len(indexes) > 1 else lambda r: (r[indexes[0]],)
    per_control: dict[str, tuple] = {}
    values = findings.values_list(*(_FINDING_FIELDS[c] for c in read))
    # In a transaction the server-side cursor is a plain one: outside, Django
    # declares it WITH HOLD, which PostgreSQL materialises in full before the
    # first row (seconds of silence at 100,000 rows).
    with transaction.atomic(savepoint=False):
        for row in values.iterator(chunk_size=CHUNK_ROWS):
            extra = per_control.get(row[0])
            if extra is None:
                control = REGISTRY.get(row[0])
                extra = tuple(
                    _FROM_CONTROL[c](control) if control else "" for c in derived
                )
                per_control[row[0]] = extra
            yield pick(row + extra)


def live_findings() -> QuerySet:
    return Finding.objects.live()
