"""The table ``make bench`` prints: figure, measured, target, met."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    target: str = ""
    # None: informational, or not measured (the reason is in ``measured``).
    met: bool | None = None

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "-"
        return "met" if self.met else "NOT MET"


def table(rows: list[Row]) -> str:
    header = Row("figure", "measured", "target")
    widths = [
        max(len(r.figure) for r in [header, *rows]),
        max(len(r.measured) for r in [header, *rows]),
        max(len(r.target) for r in [header, *rows]),
    ]

    def line(row: Row, verdict: str) -> str:
        cells = (row.figure, row.measured, row.target)
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        return "| " + " | ".join([*padded, verdict.ljust(7)]) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in [*widths, 7]) + "|"
    return "\n".join([line(header, "met?"), rule, *(line(r, r.verdict) for r in rows)])


def ratio(value: float) -> str:
    return f"{value:.2f}×"


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def megabytes(value_bytes: float) -> str:
    return f"{value_bytes / 2**20:.1f} MB"
