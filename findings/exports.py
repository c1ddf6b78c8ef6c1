"""CSV exports, shared by the CLI and (later) the pages.

Cells come from AWS data, which whoever controls a member account writes: a
cell that a spreadsheet would run as a formula is neutralised.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from findings.controls import REGISTRY
from findings.models import Finding

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

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


def neutralise(value) -> str:
    """A cell that spreadsheets show as text, never evaluate."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text line by line (constant memory), every cell neutralised."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(v) for v in row])


def finding_rows(findings) -> Iterator[list]:
    queryset = findings.select_related("account", "resource").order_by(
        "account__account_id", "control_id", "resource__resource_id"
    )
    for f in queryset.iterator(chunk_size=2000):
        control = REGISTRY.get(f.control_id)
        yield [
            f.account.account_id,
            f.resource.region,
            f.resource.resource_type,
            f.resource.resource_id,
            f.resource.arn,
            f.control_id,
            control.section if control else "",
            control.severity.value if control else "",
            f.status,
            f.reason,
            f.first_seen,
            f.last_changed,
        ]


def live_findings():
    return Finding.objects.live()
