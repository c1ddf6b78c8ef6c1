"""The cheap filters and tags of the long lists give what Django's gave.

Findings lists, the explorer and the section pages draw their rows with
``since``, ``utc``, ``row_url``, ``sparkline``, ``stacked_bar`` and
``rate_badge`` (findings/templatetags/parapet.py) instead of ``timesince``,
``date``, ``{% url %}`` and inclusion templates; the text a user reads, the
links they follow and the charts' labels must not change.
"""

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from findings.dashboard import Counts
from findings.templatetags.parapet import since, utc
from findings.tests.factories import (
    make_account,
    make_finding,
    make_org,
    make_resource,
    make_user,
)

CTL_S3 = "s3.bucket.public-access-block"


def render(source: str, **context) -> str:
    return Template("{% load parapet %}" + source).render(Context(context))


# -- "3 days, 2 hours ago" ----------------------------------------------------------

# Half a minute past each mark, so that the two calls compared below see the
# same whole minutes however slowly the test runs.
AGES = [
    timedelta(seconds=30),
    timedelta(minutes=1, seconds=30),
    timedelta(minutes=59, seconds=30),
    timedelta(hours=1, seconds=30),
    timedelta(hours=2, minutes=5, seconds=30),
    timedelta(days=1, seconds=30),
    timedelta(days=1, hours=1, seconds=30),
    timedelta(days=6, hours=23, minutes=59, seconds=30),
    timedelta(days=7, seconds=30),
    timedelta(days=16, hours=5, seconds=30),
    timedelta(days=27, hours=23, minutes=59, seconds=30),
    timedelta(days=28, seconds=30),
    timedelta(days=45, hours=3, seconds=30),
    timedelta(days=400, seconds=30),
    -timedelta(hours=1),  # a clock running ahead: "0 minutes", as Django says
]


@pytest.mark.parametrize("age", AGES, ids=str)
def test_since_reads_as_timesince(age):
    when = timezone.now() - age
    assert since(when) == timesince(when)


def test_since_counts_from_the_clock_the_rest_of_the_page_reads():
    """A page rendered at a frozen ``timezone.now`` (a test, a replay) says
    the same "ago" however long it takes to render."""
    frozen = timezone.now() - timedelta(days=3)
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        assert since(frozen - timedelta(minutes=5)) == "5\xa0minutes"
        assert since(frozen - timedelta(days=45)) == timesince(
            frozen - timedelta(days=45), frozen
        )


def test_since_of_nothing_is_empty():
    assert since(None) == ""


# -- The UTC minute in the "Since" cell's title -------------------------------------


def test_utc_is_the_minute_in_utc_whatever_zone_is_active():
    when = datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC)
    with timezone.override("Asia/Kolkata"):
        assert utc(when) == "2025-03-01 23:59"
        assert render("{{ when|utc }}", when=when) == "2025-03-01 23:59"
    assert utc(None) == ""


def test_findings_row_says_how_long_ago_it_changed_with_the_utc_minute(client, db):
    org = make_org("Acme")
    account = make_account(org, "payments-prod")
    bucket = make_resource(account, name="logs-bucket")
    changed = timezone.now() - timedelta(days=3, hours=2, seconds=30)
    make_finding(bucket, CTL_S3, "FAIL", at=changed)
    client.force_login(make_user("root", staff=True))

    html = client.get(reverse("findings:account", args=[account.pk])).content.decode()

    stamp = changed.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert f'title="{stamp} UTC">3\xa0days, 2\xa0hours ago</td>' in html
    row = html[html.index("logs-bucket") - 600 : html.index("logs-bucket")]
    assert f'href="{reverse("findings:resource", args=[bucket.pk])}"' in row
    assert f'href="{reverse("findings:control", args=[CTL_S3])}"' in row


# -- Links of the rows -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("findings:resource", 42),
        ("findings:account", 7),
        ("findings:control", CTL_S3),
        ("findings:control", "odd id:+é&?#%"),
        ("findings:exception_new", None),
    ],
)
def test_row_url_is_the_url_tag(name, arg):
    args = [] if arg is None else [arg]
    expected = render(
        "{% url name arg %}" if args else "{% url name %}", name=name, arg=arg
    )
    # Twice in one render: the second comes from the route reversed once.
    assert render(
        "{% row_url name arg %}|{% row_url name arg %}", name=name, arg=arg
    ) == (f"{expected}|{expected}")
    assert expected == reverse(name, args=args).replace("&", "&amp;")


@pytest.mark.parametrize("arg", ["", "a/b"])
def test_row_url_refuses_what_the_url_tag_refuses(arg):
    with pytest.raises(NoReverseMatch):
        render("{% row_url 'findings:control' arg %}", arg=arg)


# -- Charts drawn in Python --------------------------------------------------------


def test_sparkline_labels_every_scan_and_breaks_at_gaps():
    html = render("{% sparkline values %}", values=[0.5, 0.75, None, 1.0, 0.9])
    assert 'aria-label="Recent scans: 50%, 75%, —, 100%, 90%"' in html
    assert "<title>Recent scans: 50%, 75%, —, 100%, 90%</title>" in html
    polylines = re.findall(r'<polyline class="chart-line" points="([^"]+)">', html)
    assert len(polylines) == 2  # the missing scan breaks the line
    # The axis spans 50% (bottom, y=19) to 100% (top, y=3).
    assert polylines == ["3.0,19.0 21.5,11.0", "58.5,3.0 77.0,6.2"]
    # The last known value is marked where its line ends.
    assert '<circle class="chart-dot chart-dot-last" cx="77.0" cy="6.2"' in html


# templates/findings/_line_chart.html before the trend was drawn in Python.
LINE_CHART_TEMPLATE = """{% if empty %}
  <p class="chart-empty muted">The trend appears after the first finished scan.</p>
{% else %}
{# Screen readers get the span of the trend in words; each dot has its own tooltip. #}
{% with first=dots.0 %}
<svg class="chart" viewBox="0 0 {{ width }} {{ height }}" role="img" aria-label="{{ label }}: {% if single %}{{ first.label }}{% else %}{{ first.label }} to {{ last.label }}, {{ dots|length }} points{% endif %}">
  <title>{{ label }}</title>
  {% for g in grid %}
    <line class="chart-grid" x1="{{ left }}" x2="{{ right }}" y1="{{ g.y }}" y2="{{ g.y }}"></line>
    <text class="chart-axis" x="{{ left }}" y="{{ g.y }}" dx="-6" dy="4" text-anchor="end">{{ g.label }}</text>
  {% endfor %}
  {% for points in areas %}<polygon class="chart-area" points="{{ points }}"></polygon>{% endfor %}
  {% for points in lines %}<polyline class="chart-line" points="{{ points }}"></polyline>{% endfor %}
  {% for dot in dots %}
    <circle class="chart-dot{% if forloop.last %} chart-dot-last{% endif %}" cx="{{ dot.x }}" cy="{{ dot.y }}" r="{% if forloop.last or single %}4.5{% else %}3{% endif %}"><title>{{ dot.label }}</title></circle>
  {% endfor %}
  {% if last %}<text class="chart-value" x="{{ last.x }}" y="{{ last.y }}" dx="8" dy="4">{{ last_value }}</text>{% endif %}
  {% for tick in x_labels %}
    <text class="chart-axis" x="{{ tick.x }}" y="{{ x_label_y }}" text-anchor="{% if forloop.first and not forloop.last %}start{% elif forloop.last and not forloop.first %}end{% else %}middle{% endif %}">{{ tick.text }}</text>
  {% endfor %}
</svg>
{% endwith %}
{% endif %}
"""  # noqa: E501


def _tags_only(html: str) -> str:
    """The markup without the whitespace between tags, which SVG ignores."""
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize(
    "rates",
    [
        [],
        [None],
        [0.3],
        [0.5, None, 0.75],
        [None, 0.2, 0.4, None, 1.0, 0.999, 0.0],
    ],
)
@pytest.mark.parametrize("hours_apart", [5, 30])
def test_the_trend_draws_what_its_template_drew(rates, hours_apart):
    from findings.templatetags.parapet import _line_chart_parts

    start = datetime(2025, 3, 1, 6, tzinfo=UTC)
    points = [
        mock.Mock(at=start + timedelta(hours=hours_apart * n), rate=rate)
        for n, rate in enumerate(rates)
    ]
    label = 'Pass rate of <b>"A & B"</b>'
    expected = Template(LINE_CHART_TEMPLATE).render(
        Context(_line_chart_parts(points, label))
    )
    html = render("{% line_chart points label %}", points=points, label=label)
    assert _tags_only(html) == _tags_only(expected)
    assert "<b>" not in html


def test_sparkline_without_any_value_draws_nothing():
    assert render("{% sparkline values %}", values=[None, None]) == ""
    assert render("{% sparkline values %}", values=[]) == ""


def test_stacked_bar_shares_and_labels():
    html = render("{% stacked_bar c %}", c=Counts(passed=6, failed=3, unknown=1))
    assert 'aria-label="6 passing, 3 failing, 1 not collected"' in html
    rects = re.findall(
        r'<rect class="seg-(\w+)" x="([\d.]+)" y="0" width="([\d.]+)"', html
    )
    assert rects == [
        ("pass", "0.0", "60.0"),
        ("fail", "60.0", "30.0"),
        ("unknown", "90.0", "10.0"),
    ]
    assert "<title>3 failing</title>" in html


def test_stacked_bar_of_nothing_says_so():
    html = render("{% stacked_bar c %}", c=Counts())
    assert 'aria-label="nothing evaluated"' in html
    assert 'class="seg-empty"' in html


def test_rate_badge_colour_and_size():
    assert render("{% rate_badge 0.95 %}") == '<span class="rate rate-good">95%</span>'
    assert render('{% rate_badge None "lg" %}') == (
        '<span class="rate rate-none rate-lg">—</span>'
    )
