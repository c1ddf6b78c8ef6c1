"""Formatting filters and server-side SVG charts for Parapet's templates.

Charts are inline SVG computed here from data the views prepared, so pages
need no JavaScript and no inline styles (colours come from CSS classes).
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import template

register = template.Library()

_STATUS_CLASS = {
    # Finding statuses
    "PASS": "pass",
    "FAIL": "fail",
    "ERROR": "error",
    "NOT_APPLICABLE": "na",
    # Scan unit and scan statuses
    "ok": "pass",
    "failed": "fail",
    "skipped": "na",
    "pending": "unknown",
    "running": "info",
    "evaluating": "info",
    "finished": "pass",
    "partial": "error",
    "cancelled": "na",
}
_STATUS_LABEL = {
    "PASS": "Pass",
    "FAIL": "Fail",
    "ERROR": "Error",
    "NOT_APPLICABLE": "N/A",
    "": "New",
}


@register.filter
def pct(value: float | None) -> str:
    """0.75 -> "75%"; never rounds a non-perfect rate up to 100% (or down to 0%)."""
    if value is None:
        return "—"
    whole = round(value * 100)
    if whole == 100 and value < 1:
        whole = 99
    elif whole == 0 and value > 0:
        whole = 1
    return f"{whole}%"


@register.filter
def rate_class(value: float | None) -> str:
    if value is None:
        return "rate-none"
    if value >= 0.9:
        return "rate-good"
    if value >= 0.7:
        return "rate-warn"
    return "rate-bad"


#: Heat-map shades, worst first: (lowest rate of the shade, class).
_HEAT = ((0.95, "heat-5"), (0.9, "heat-4"), (0.8, "heat-3"), (0.6, "heat-2"))


@register.filter
def heat_class(value: float | None) -> str:
    """A heat-map cell's shade; finer than ``rate_class`` so a grid reads at a
    glance, with the same 90% line between green and amber."""
    if value is None:
        return "heat-none"
    return next((cls for low, cls in _HEAT if value >= low), "heat-1")


@register.filter
def points(value: float | None) -> str:
    """A change in percentage points, signed: "+4 pts", "−2 pts", "±0 pts"."""
    if value is None:
        return ""
    whole = round(value)
    if whole == 0:
        return "±0 pts"
    sign = "+" if whole > 0 else "\u2212"  # a real minus sign
    return f"{sign}{abs(whole)} pts"


@register.simple_tag(takes_context=True)
def query_with(context: dict, **changes: Any) -> str:
    """This page's query string with ``changes`` (None or "": dropped).

    Links that switch one view setting (trend window, heat-map grouping) keep
    the others, and work without JavaScript.
    """
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def status_class(status: str | None) -> str:
    return _STATUS_CLASS.get(status or "", "unknown")


@register.filter
def status_label(status: str | None) -> str:
    return _STATUS_LABEL.get(status or "", str(status).replace("_", " ").title())


@register.filter
def duration(value: float | timedelta | None) -> str:
    """Seconds or a timedelta as "1h 02m", "3m 05s" or "4.2s"."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON; autoescaping still applies where it is output."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def compact_json(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if mapping else None


# -- Charts --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dot:
    x: float
    y: float
    label: str


def _line_geometry(
    values: list[float | None],
    width: float,
    height: float,
    pad: tuple[float, float, float, float],
    y_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[list[str], list[str], list[tuple[float, float]]]:
    """Polyline strings (gaps break the line), area polygons and dot positions.

    A missing value (None) breaks the line and gets a dot position with y=-1.
    """
    top, right, bottom, left = pad
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(values)
    low, high = y_range

    def x(i: int) -> float:
        return round(left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - (v - low) / (high - low)), 1)

    lines, areas, runs, run = [], [], [], []
    dots: list[tuple[float, float]] = []
    for i, value in enumerate(values):
        if value is None:
            if run:
                runs.append(run)
            run = []
            dots.append((x(i), -1))
            continue
        run.append((x(i), y(value)))
        dots.append((x(i), y(value)))
    if run:
        runs.append(run)
    base = round(top + plot_h, 1)
    for points in runs:
        lines.append(" ".join(f"{px},{py}" for px, py in points))
        if len(points) > 1:
            poly = [(points[0][0], base), *points, (points[-1][0], base)]
            areas.append(" ".join(f"{px},{py}" for px, py in poly))
    return lines, areas, dots


@register.inclusion_tag("findings/_line_chart.html")
def line_chart(points: list, label: str = "Pass rate over time") -> dict:
    """A pass-rate trend: ``points`` have ``.at`` and ``.rate`` (TrendPoint)."""
    width, height = 640.0, 210.0
    pad = (14.0, 44.0, 26.0, 40.0)
    values = [p.rate for p in points]
    lines, areas, positions = _line_geometry(values, width, height, pad)
    dots = [
        _Dot(px, py, f"{p.at:%Y-%m-%d %H:%M}: {pct(p.rate)}")
        for (px, py), p in zip(positions, points, strict=True)
        if py >= 0
    ]
    top, _, bottom, left = pad
    plot_h = height - top - bottom
    grid = [
        {"y": round(top + plot_h * (1 - v), 1), "label": f"{int(v * 100)}%"}
        for v in (0, 0.5, 1)
    ]
    x_labels = []
    if points:
        # Scans a few hours apart need the time to tell them apart.
        close = points[-1].at - points[0].at < timedelta(days=2)
        fmt = "%b %d %H:%M" if close else "%b %d"
        x_labels.append({"x": positions[0][0], "text": points[0].at.strftime(fmt)})
        if len(points) > 1:
            x_labels.append(
                {"x": positions[-1][0], "text": points[-1].at.strftime(fmt)}
            )
    last = dots[-1] if dots else None
    return {
        "width": int(width),
        "height": int(height),
        "last": last,
        "last_value": pct(points[-1].rate) if points and last else "",
        "left": left,
        "right": width - pad[1],
        "lines": lines,
        "areas": areas,
        "dots": dots,
        "grid": grid,
        "x_labels": x_labels,
        "x_label_y": height - 6,
        "label": label,
        "empty": not dots,
        "single": len(dots) == 1,
    }


SPARK_MIN_SPAN = 0.2


@register.inclusion_tag("findings/_sparkline.html")
def sparkline(values: list[float | None]) -> dict:
    """A small trend; its y axis spans the data (at least 20 points), not 0-100%."""
    width, height = 80.0, 22.0
    known = [v for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    if high - low < SPARK_MIN_SPAN:
        middle = (high + low) / 2
        low = max(0.0, min(middle - SPARK_MIN_SPAN / 2, 1.0 - SPARK_MIN_SPAN))
        high = low + SPARK_MIN_SPAN
    lines, _areas, positions = _line_geometry(
        values, width, height, (3, 3, 3, 3), (low, high)
    )
    last = next(((px, py) for px, py in reversed(positions) if py >= 0), None)
    return {
        "width": int(width),
        "height": int(height),
        "lines": lines,
        "last": last,
        "label": "Recent scans: " + ", ".join(pct(v) for v in values),
    }


@register.inclusion_tag("findings/_stacked_bar.html")
def stacked_bar(counts: Any) -> dict:
    """Passing, failing, error and unknown shares of one Counts, as a 100-unit bar."""
    parts = [
        ("pass", counts.passed, "passing"),
        ("fail", counts.failed, "failing"),
        ("error", counts.errors, "errors"),
        ("unknown", counts.unknown, "not collected"),
    ]
    total = sum(n for _, n, _ in parts) if counts else 0
    segments, x = [], 0.0
    for kind, n, noun in parts:
        if not n:
            continue
        width = 100 * n / total
        segments.append(
            {
                "kind": kind,
                "x": round(x, 2),
                "width": round(width, 2),
                "n": n,
                "title": f"{n} {noun}",
            }
        )
        x += width
    return {
        "segments": segments,
        "label": ", ".join(s["title"] for s in segments) or "nothing evaluated",
    }


@register.inclusion_tag("findings/_rate.html")
def rate_badge(rate: float | None, size: str = "") -> dict:
    return {"rate": rate, "size": size}
