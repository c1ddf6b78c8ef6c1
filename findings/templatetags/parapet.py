"""Formatting filters and server-side SVG charts for Parapet's templates.

Charts are inline SVG computed here from data the views prepared, so pages
need no JavaScript and no inline styles (colours come from CSS classes).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import escape as html_escape
from typing import Any
from urllib.parse import quote

from django import template
from django.template.context import Context
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

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


# -- Rows of long lists ----------------------------------------------------------
# A findings list draws 50 to 100 rows; Django's ``date`` filter, ``timesince``
# and ``{% url %}`` were most of its rendering time. These give the same text.


@register.filter
def utc(value: datetime | None) -> str:
    """The minute of ``value`` in UTC, "2024-05-01 13:07": the ``date:'Y-m-d H:i'``
    of the pages that label it UTC, without Django's general date formatter."""
    if not value:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d %H:%M}"


#: timesince's units below a month, largest first, in seconds.
_SINCE_UNITS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60))
#: Under four weeks no calendar month has passed, so no months or years to count.
_SINCE_DIRECT = 28 * 86400


@register.filter
def since(value: datetime | None) -> str:
    """Django's ``timesince``, "3 days, 2 hours" (no-break space inside each part).

    Under four weeks, the case of nearly every row, it is counted here in whole
    seconds (the same floor division); older dates go to ``timesince`` for its
    calendar arithmetic. English only, as the rest of Parapet (USE_I18N off).
    """
    if not value:
        return ""
    # ``timezone.now``, the clock every other "now" of a page reads.
    now = timezone.now() if value.tzinfo else datetime.now()
    delta = now - value
    seconds = delta.days * 86400 + delta.seconds  # microseconds ignored, as there
    if seconds <= 0 or seconds >= _SINCE_DIRECT:
        return timesince(value, now)
    parts: list[str] = []
    for unit, size in _SINCE_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}\xa0{unit}{'' if count == 1 else 's'}")
        elif parts:
            break  # only adjacent units: "2 weeks, 3 days", never "2 weeks, 3 hours"
        if len(parts) == 2:
            break
    return ", ".join(parts) if parts else "0\xa0minutes"


#: Stands for a row's argument when a route is reversed once per render; digits,
#: so that it fits an ``<int:…>`` segment as well as a ``<str:…>`` one.
_URL_ARG = "7355608421"


@register.simple_tag(takes_context=True)
def row_url(context: Context, view_name: str, arg: Any = None) -> str:
    """``{% url view_name arg %}`` for the rows of a long list.

    The route is reversed once per template render with a placeholder, and each
    row's argument put in its place, quoted as ``reverse`` quotes it; for routes
    with one ``<int:…>`` or ``<str:…>`` argument, or none.
    """
    text = "" if arg is None else str(arg)
    if arg is not None and (not text or "/" in text):
        return reverse(view_name, args=[arg])  # raises NoReverseMatch, as {% url %}
    routes = context.render_context.setdefault("parapet.row_url", {})
    key = (view_name, arg is None)
    if key not in routes:
        routes[key] = reverse(view_name, args=[] if arg is None else [_URL_ARG])
    if arg is None:
        return routes[key]
    return routes[key].replace(_URL_ARG, quote(text, safe=RFC3986_SUBDELIMS + "~:@"))


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
) -> tuple[list[list[tuple[float, float]]], list[tuple[float, float]]]:
    """Runs of points (a missing value, None, breaks the line) and dot positions.

    A missing value gets a dot position with y=-1.
    """
    top, right, bottom, left = pad
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(values)
    low, high = y_range
    if n > 1:
        xs = [round(left + plot_w * i / (n - 1), 1) for i in range(n)]
    else:
        xs = [round(left + plot_w / 2, 1)] * n
    runs, run = [], []
    dots: list[tuple[float, float]] = []
    for px, value in zip(xs, values, strict=True):
        if value is None:
            if run:
                runs.append(run)
            run = []
            dots.append((px, -1))
            continue
        dot = (px, round(top + plot_h * (1 - (value - low) / (high - low)), 1))
        run.append(dot)
        dots.append(dot)
    if run:
        runs.append(run)
    return runs, dots


def _svg_points(points: list[tuple[float, float]]) -> str:
    """The ``points`` attribute of a polyline or polygon: "x,y x,y …"."""
    return " ".join([f"{px},{py}" for px, py in points])


@register.simple_tag
def line_chart(points: list, label: str = "Pass rate over time") -> str:
    """A pass-rate trend: ``points`` have ``.at`` and ``.rate`` (TrendPoint).

    Drawn here rather than by a template, as ``sparkline``: a template loop
    over every dot (a year of scan days) was most of a trend's rendering.
    """
    return _line_chart_svg(_line_chart_parts(points, label))


def _line_chart_parts(points: list, label: str) -> dict:
    """The chart's geometry and labels, as ``_line_chart_svg`` draws them."""
    width, height = 640.0, 210.0
    pad = (14.0, 44.0, 26.0, 40.0)
    values = [p.rate for p in points]
    runs, positions = _line_geometry(values, width, height, pad)
    top, _, bottom, left = pad
    plot_h = height - top - bottom
    base = round(top + plot_h, 1)
    lines = [_svg_points(run) for run in runs]
    areas = [
        _svg_points([(run[0][0], base), *run, (run[-1][0], base)])
        for run in runs
        if len(run) > 1
    ]
    dots = [
        _Dot(px, py, f"{p.at:%Y-%m-%d %H:%M}: {pct(p.rate)}")
        for (px, py), p in zip(positions, points, strict=True)
        if py >= 0
    ]
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


def _line_chart_svg(chart: dict) -> str:
    """The trend's SVG: the grid and its labels, the areas and lines, a dot
    per scan day (each with its tooltip), the last value and the first and
    last days. Every text is escaped."""
    if chart["empty"]:
        return mark_safe(  # noqa: S308 - constant text
            '<p class="chart-empty muted">'
            "The trend appears after the first finished scan.</p>"
        )
    esc = _escape_text
    dots, last, single = chart["dots"], chart["last"], chart["single"]
    label = esc(chart["label"])
    span = (
        esc(dots[0].label)
        if single
        else f"{esc(dots[0].label)} to {esc(last.label)}, {len(dots)} points"
    )
    left, right = chart["left"], chart["right"]
    parts = [
        f'<svg class="chart" viewBox="0 0 {chart["width"]} {chart["height"]}"'
        f' role="img" aria-label="{label}: {span}">',
        f"<title>{label}</title>",
    ]
    for g in chart["grid"]:
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{right}" y1="{g["y"]}"'
            f' y2="{g["y"]}"></line>'
            f'<text class="chart-axis" x="{left}" y="{g["y"]}" dx="-6" dy="4"'
            f' text-anchor="end">{esc(g["label"])}</text>'
        )
    parts += [
        f'<polygon class="chart-area" points="{points}"></polygon>'
        for points in chart["areas"]
    ]
    parts += [
        f'<polyline class="chart-line" points="{points}"></polyline>'
        for points in chart["lines"]
    ]
    for n, dot in enumerate(dots, 1):
        final = n == len(dots)
        parts.append(
            f'<circle class="chart-dot{" chart-dot-last" if final else ""}"'
            f' cx="{dot.x}" cy="{dot.y}" r="{"4.5" if final or single else "3"}">'
            f"<title>{esc(dot.label)}</title></circle>"
        )
    if last:
        parts.append(
            f'<text class="chart-value" x="{last.x}" y="{last.y}" dx="8" dy="4">'
            f"{esc(chart['last_value'])}</text>"
        )
    ticks = chart["x_labels"]
    for n, tick in enumerate(ticks, 1):
        first, final = n == 1, n == len(ticks)
        anchor = (
            "start"
            if first and not final
            else "end"
            if final and not first
            else "middle"
        )
        parts.append(
            f'<text class="chart-axis" x="{tick["x"]}" y="{chart["x_label_y"]}"'
            f' text-anchor="{anchor}">{esc(tick["text"])}</text>'
        )
    parts.append("</svg>")
    return mark_safe("\n".join(parts))  # noqa: S308 - every text escaped above


def _escape_text(value: Any) -> str:
    """As the templates' autoescape, without its lazy-string wrapper."""
    return html_escape(str(value))


SPARK_MIN_SPAN = 0.2


@register.simple_tag
def sparkline(values: list[float | None]) -> str:
    """A small trend; its y axis spans the data (at least 20 points), not 0-100%.

    Drawn here rather than by a template: a section page draws one per control,
    and an inclusion template each was most of that page's rendering.
    """
    return _sparkline_svg(tuple(values))


# The same figures are drawn again on every view until the next scan lands;
# a drawing is a pure function of its values and about 1 KB.
@lru_cache(maxsize=1024)
def _sparkline_svg(values: tuple[float | None, ...]) -> str:
    width, height = 80, 22
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    if high - low < SPARK_MIN_SPAN:
        middle = (high + low) / 2
        low = max(0.0, min(middle - SPARK_MIN_SPAN / 2, 1.0 - SPARK_MIN_SPAN))
        high = low + SPARK_MIN_SPAN
    runs, _dots = _line_geometry(
        values, float(width), float(height), (3, 3, 3, 3), (low, high)
    )
    last_x, last_y = runs[-1][-1]
    label = "Recent scans: " + ", ".join(pct(v) for v in values)
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" role="img"'
        ' aria-label="{}"><title>{}</title>{}<circle class="chart-dot chart-dot-last"'
        ' cx="{}" cy="{}" r="2.5"></circle></svg>',
        width,
        height,
        width,
        height,
        label,
        label,
        format_html_join(
            "",
            '<polyline class="chart-line" points="{}"></polyline>',
            ((_svg_points(run),) for run in runs),
        ),
        last_x,
        last_y,
    )


_EMPTY_BAR = mark_safe(
    '<rect class="seg-empty" x="0" y="0" width="100" height="8"></rect>'
)


@register.simple_tag
def stacked_bar(counts: Any) -> str:
    """Passing, failing, error and unknown shares of one Counts, as a 100-unit bar.

    Drawn here rather than by a template, as ``sparkline``: a section or
    account page draws one per row.
    """
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
        segments.append((kind, round(x, 2), round(width, 2), f"{n} {noun}"))
        x += width
    label = ", ".join(title for *_, title in segments) or "nothing evaluated"
    rects = format_html_join(
        "",
        '<rect class="seg-{}" x="{}" y="0" width="{}" height="8"><title>{}</title>'
        "</rect>",
        segments,
    )
    return format_html(
        '<svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" role="img"'
        ' aria-label="{}"><title>{}</title>{}</svg>',
        label,
        label,
        rects or _EMPTY_BAR,
    )


@register.simple_tag
def rate_badge(rate: float | None, size: str = "") -> str:
    """A pass rate coloured by ``rate_class``; ``size`` is "", "lg" or "xl"."""
    return format_html(
        '<span class="rate {}{}">{}</span>',
        rate_class(rate),
        f" rate-{size}" if size else "",
        pct(rate),
    )
