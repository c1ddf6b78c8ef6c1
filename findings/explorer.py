"""The findings explorer: one filter form and one query for the page and its CSV.

Filters live in the query string, so a URL is a shareable view; ``explore``
turns a bound ``ExplorerForm`` into the ordered queryset that both the page
(``findings.views_explorer.explorer``) and "Export this view" read, so the
export holds exactly the page's rows, in the same order, across all pages.

A control's severity and section live in the catalog, not the database: those
filters become a list of control ids. An invalid value is reported by the form
and ignored; the other filters still apply.
"""

import functools
import hashlib
import math
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from html import escape as html_escape
from types import SimpleNamespace
from urllib.parse import quote

from django import forms
from django.core.cache import cache
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    F,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Account, account_label
from accounts.querysets import AccountRow
from collectors import paging
from collectors.models import Resource
from findings import sections
from findings.controls import REGISTRY
from findings.controls.base import Severity
from findings.models import Finding
from findings.suppressions import SUPPRESSIBLE, InForce, covered
from findings.templatetags.parapet import (
    row_url,
    since,
    status_class,
    status_label,
    utc,
)

#: Not passing and covered by an exception in force (findings.suppressions).
SUPPRESSED = "suppressed"
# "Failing" and "Error" leave out excepted findings, as the rollups' counts do:
# an exception moves a finding out of the failing list into "Excepted".
STATUS_CHOICES = [
    ("FAIL", "Failing"),
    ("ERROR", "Error"),
    (SUPPRESSED, "Excepted"),
    ("PASS", "Passing"),
    ("NOT_APPLICABLE", "Not applicable"),
]
SEVERITY_CHOICES = [(s.value, s.value.title()) for s in Severity]
#: Seconds the region and resource-type choices are reused for a set of accounts.
LOCATIONS_TTL = 60
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
DEFAULT_SORT = "status"

# Worst first: "sort=status" lists failures before passes.
_STATUS_RANK = {"FAIL": 0, "ERROR": 1, "PASS": 2, "NOT_APPLICABLE": 3}
_STATUS_ORDER = Case(
    *(When(status=s, then=Value(rank)) for s, rank in _STATUS_RANK.items()),
    default=Value(9),
)
# Sort key -> the columns it orders by, ascending.
_SORT_COLUMNS: dict[str, tuple] = {
    "status": (_STATUS_ORDER,),
    "severity": ("severity_rank",),
    "control": ("control_id",),
    "account": ("account__name", "account__account_id"),
    "resource": ("resource__name", "resource__resource_id"),
    "region": ("resource__region",),
    "last_changed": ("last_changed",),
}
SORT_KEYS = tuple(_SORT_COLUMNS)
# Ties are broken the same way whatever the sort, ending on the primary key, so
# pages never overlap and the CSV keeps the page's order.
_TIE_BREAK = ("status", "-severity", "account", "control", "resource")


@functools.cache
def _section_choices() -> list[tuple[str, str]]:
    """Sections with controls at or below them, indented by depth, in tree order."""
    return [
        (s.slug, "\u2003" * s.depth + s.title)
        for s in sections.SECTIONS
        if sections.controls_in(s.slug, include_descendants=True)
    ]


@functools.cache
def _control_choices() -> list[tuple[str, str]]:
    return [(cid, f"{cid} · {c.title}") for cid, c in sorted(REGISTRY.items())]


def _ou_choices(paths: Iterable[str]) -> list[tuple[str, str]]:
    """Every OU path of the accounts and each path above it (Root, Root/Prod …)."""
    found: set[str] = set()
    for path in set(paths):  # a thousand accounts share a few dozen OUs
        parts = path.split("/") if path else []
        found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return [(p, p) for p in sorted(found)]


def _severity_rank() -> Case:
    """A control's severity rank (critical 4 … low 1) from the catalog, as SQL."""
    by_rank: dict[int, list[str]] = {}
    for control in REGISTRY.values():
        by_rank.setdefault(control.severity.rank, []).append(control.id)
    return Case(
        *(
            When(control_id__in=sorted(ids), then=Value(rank))
            for rank, ids in sorted(by_rank.items())
        ),
        default=Value(0),
    )


class PlainChoices(BaseChoiceIterator):
    """(value, label) pairs a field takes as they are: Django normalises a list
    of choices pair by pair on every assignment (≈ 7 µs each), and a user may
    see a thousand accounts. Flat choices only."""

    def __init__(self, pairs: list[tuple]) -> None:
        self.pairs = pairs

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.pairs)


def account_choices(accounts: QuerySet) -> PlainChoices:
    """An account select's options as plain values, by name then account id:
    a model instance per option cost more than the rest of the form. Read
    with ``accounts.listed()``, which a page's other parts share."""
    return PlainChoices(
        [
            ("", "All accounts"),
            *((a.pk, account_label(a.name, a.account_id)) for a in accounts.listed()),
        ]
    )


class QuickSelect(forms.Select):
    """A ``Select`` rendered in Python: the same HTML as Django's template,
    which renders a template per option (the control list has hundreds), and
    without the per-option dictionaries of ``optgroups``. Flat choices only."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = self.format_value(value)
        options = []
        append = options.append
        for option_value, label in self.choices:
            option_value = "" if option_value is None else str(option_value)
            # The standard library's escape, as Django's ``escape`` calls it,
            # without its lazy-string wrapper: a thousand options per select.
            selected = option_value in chosen
            if selected:
                chosen = ()  # as Django: only the first match is selected
            append(
                f'<option value="{html_escape(option_value)}"'
                f"{' selected' if selected else ''}>{html_escape(str(label))}</option>"
            )
        return format_html(
            '<select name="{}"{}>\n  {}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            mark_safe("\n  ".join(options)),  # noqa: S308 - every value and label escaped above
        )


class QuickCheckboxes(forms.CheckboxSelectMultiple):
    """A ``CheckboxSelectMultiple`` whose boxes (``{{ box.tag }}``) are
    rendered in Python: the same HTML as Django's option template, without
    a template and an attributes template per box (most of the filter bar)."""

    def _render(self, template_name, context, renderer=None) -> str:
        widget = context["widget"]
        if template_name != self.option_template_name or widget.get("wrap_label"):
            return super()._render(template_name, context, renderer)
        # Attributes in the dict's order, booleans bare, as Django's
        # attrs.html (``flatatt`` sorts them, booleans last).
        html = [
            f'<input type="{html_escape(widget["type"])}"'
            f' name="{html_escape(widget["name"])}"'
        ]
        if widget["value"] is not None:
            html.append(f' value="{html_escape(str(widget["value"]))}"')
        for name, value in widget["attrs"].items():
            if value is True:
                html.append(f" {html_escape(name)}")
            elif value is not False:
                html.append(f' {html_escape(name)}="{html_escape(str(value))}"')
        html.append(">")
        return mark_safe("".join(html))  # noqa: S308 - every value escaped above


class ExplorerForm(forms.Form):
    """The explorer's filters, read from the query string (GET)."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(
            attrs={"placeholder": "Resource, ARN or reason contains…", "type": "search"}
        ),
    )
    status = forms.MultipleChoiceField(
        choices=STATUS_CHOICES, required=False, widget=QuickCheckboxes
    )
    severity = forms.MultipleChoiceField(
        choices=SEVERITY_CHOICES, required=False, widget=QuickCheckboxes
    )
    section = forms.ChoiceField(required=False, widget=QuickSelect)
    control = forms.ChoiceField(required=False, widget=QuickSelect)
    account = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, widget=QuickSelect
    )
    ou = forms.ChoiceField(required=False, label="OU", widget=QuickSelect)
    region = forms.ChoiceField(required=False, widget=QuickSelect)
    resource_type = forms.ChoiceField(
        required=False, label="Resource type", widget=QuickSelect
    )
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)
    page_size = forms.TypedChoiceField(
        choices=[(n, n) for n in PAGE_SIZES],
        coerce=int,
        empty_value=DEFAULT_PAGE_SIZE,
        required=False,
        label="Per page",
        widget=QuickSelect,
    )

    def __init__(self, data: QueryDict | None = None, *, accounts: QuerySet):
        """``accounts``: the accounts the user may see; the choices come from them."""
        if data is not None and not data.get("page_size"):
            # Shown selected, so a change of another filter keeps the default.
            data = data.copy()
            data["page_size"] = str(DEFAULT_PAGE_SIZE)
        super().__init__(data)
        # In the explorer's account order: ``_cells`` walks them in it. Plain
        # values, not model instances: a user may see a thousand accounts.
        self._scope = accounts
        self.accounts: dict[int, AccountRow] = {
            row.pk: row for row in accounts.listed()
        }
        f = self.fields
        f["section"].choices = PlainChoices([("", "All sections"), *_section_choices()])
        f["control"].choices = PlainChoices([("", "All controls"), *_control_choices()])
        f["account"].choices = PlainChoices(
            [
                ("", "All accounts"),
                *(
                    (a.pk, account_label(a.name, a.account_id))
                    for a in self.accounts.values()
                ),
            ]
        )
        f["ou"].choices = PlainChoices(
            [("", "All OUs"), *_ou_choices(a.ou_path for a in self.accounts.values())]
        )
        regions, types = self._locations(data)
        f["region"].choices = PlainChoices(
            [("", "All regions"), *((r, r) for r in regions)]
        )
        f["resource_type"].choices = PlainChoices(
            [("", "All types"), *((t, t) for t in types)]
        )
        f["sort"].choices = [
            ("", ""),
            *((k, k) for k in SORT_KEYS),
            *((f"-{k}", k) for k in SORT_KEYS),
        ]

    def _locations(self, data: QueryDict | None) -> tuple[list[str], list[str]]:
        """Regions and resource types of the accounts' live, checked resources.

        Reading them scans every resource of the accounts, so they are cached
        for ``LOCATIONS_TTL`` per set of accounts; a region or type asked for
        that the cached lists lack is looked up again (a scan just found it).
        """
        ids = ",".join(str(pk) for pk in sorted(self.accounts))
        key = "explorer-locations:" + hashlib.sha256(ids.encode()).hexdigest()
        found = cache.get(key)
        if found is not None:
            regions, types = found
            if data is None or (
                data.get("region", "") in ("", *regions)
                and data.get("resource_type", "") in ("", *types)
            ):
                return regions, types
        found = self._read_locations()
        cache.set(key, found, LOCATIONS_TTL)
        return found

    def _read_locations(self) -> tuple[list[str], list[str]]:
        checked = {c.resource_type for c in REGISTRY.values()}
        pairs = (
            Resource.objects.filter(
                account__in=list(self.accounts),
                deleted_at__isnull=True,
                resource_type__in=checked,
            )
            .values_list("region", "resource_type")
            .distinct()
        )
        regions, types = set(), set()
        for region, resource_type in pairs:
            regions.add(region)
            types.add(resource_type)
        return sorted(regions), sorted(types)

    @property
    def filters(self) -> dict:
        """The valid values (an invalid field is left out: the rest still apply)."""
        self.is_valid()
        return self.cleaned_data

    @property
    def sort_key(self) -> str:
        return self.filters.get("sort") or DEFAULT_SORT

    @property
    def per_page(self) -> int:
        return self.filters.get("page_size") or DEFAULT_PAGE_SIZE

    @property
    def chosen_account(self) -> Account | None:
        """The account filtered on, with its organization (one query), if any."""
        chosen = self.accounts.get(self.filters.get("account"))
        if chosen is None:
            return None
        return self._scope.select_related("organization").get(pk=chosen.pk)


def explore(
    findings: QuerySet, form: ExplorerForm, now: datetime | None = None
) -> QuerySet:
    """``findings`` (already scoped) narrowed by ``form`` and in its order.

    Each row is annotated ``excepted``: an exception in force covers it.
    """
    return (
        narrowed(findings, form, now)
        .annotate(severity_rank=_severity_rank())
        .order_by(*ordering(form.sort_key))
    )


def narrowed(
    findings: QuerySet,
    form: ExplorerForm,
    now: datetime | None = None,
    in_force: InForce | None = None,
) -> QuerySet:
    """``explore`` without the order: the rows, each annotated ``excepted``
    (by ``in_force``, the exceptions in force over the form's accounts, when
    given: literal values rather than a subquery per finding)."""
    data = form.filters
    findings = findings.annotate(
        excepted=covered(now) if in_force is None else in_force.covered()
    )
    if data.get("status"):
        findings = findings.filter(_status_q(data["status"]))
    if data.get("severity"):
        chosen = set(data["severity"])
        findings = findings.filter(
            control_id__in=[c.id for c in REGISTRY.values() if c.severity in chosen]
        )
    if data.get("section"):
        controls = sections.controls_in(data["section"], include_descendants=True)
        findings = findings.filter(control_id__in=[c.id for c in controls])
    if data.get("control"):
        findings = findings.filter(control_id=data["control"])
    if data.get("account"):
        findings = findings.filter(account_id=data["account"])
    if data.get("ou"):
        ou = data["ou"]
        findings = findings.filter(
            Q(account__ou_path=ou) | Q(account__ou_path__startswith=ou + "/")
        )
    if data.get("region"):
        findings = findings.filter(resource__region=data["region"])
    if data.get("resource_type"):
        findings = findings.filter(resource__resource_type=data["resource_type"])
    if data.get("q"):
        term = data["q"]
        findings = findings.filter(
            Q(resource__resource_id__icontains=term)
            | Q(resource__name__icontains=term)
            | Q(resource__arn__icontains=term)
            | Q(reason__icontains=term)
        )
    return findings


def _status_q(statuses: list[str]) -> Q:
    """Any of the chosen statuses; FAIL and ERROR without the excepted ones."""
    chosen = set(statuses)
    parts = []
    if real := sorted(chosen & set(SUPPRESSIBLE)):
        parts.append(Q(status__in=real, excepted=False))
    if plain := sorted(chosen - set(SUPPRESSIBLE) - {SUPPRESSED}):
        parts.append(Q(status__in=plain))
    if SUPPRESSED in chosen:
        parts.append(Q(status__in=SUPPRESSIBLE, excepted=True))
    return functools.reduce(operator.or_, parts)


def ordering(sort: str) -> list:
    """ORDER BY for ``sort`` (``key`` or ``-key``), then the shared tie-break."""
    keys = [sort, *(k for k in _TIE_BREAK if k.lstrip("-") != sort.lstrip("-"))]
    columns = []
    for key in keys:
        descending = key.startswith("-")
        for column in _SORT_COLUMNS[key.lstrip("-")]:
            expression = F(column) if isinstance(column, str) else column
            columns.append(expression.desc() if descending else expression.asc())
    return [*columns, "pk"]


def canonical(query: QueryDict) -> QueryDict:
    """``query`` without empty values and the default page size.

    A submitted filter form sends every field; the shareable URL keeps only
    the filters in force.
    """
    clean = QueryDict(mutable=True)
    for name, values in query.lists():
        kept = [v for v in values if v]
        if name == "page_size" and kept == [str(DEFAULT_PAGE_SIZE)]:
            continue
        if kept:
            clean.setlist(name, kept)
    return clean


# -- What the page shows about the filters ----------------------------------------


@dataclass(frozen=True, slots=True)
class Chip:
    """An active filter, with the query string that removes it."""

    label: str
    value: str
    remove_query: str  # "?…", or empty for none


@dataclass(frozen=True, slots=True)
class Column:
    """A table column; a sortable one links to sorting by it (or reversing)."""

    title: str
    sort_query: str = ""  # empty: not sortable
    direction: str = ""  # "ascending" or "descending" when it is the current sort


# The filters shown as chips, in the filter bar's order.
_CHIP_FIELDS = (
    "status",
    "severity",
    "section",
    "control",
    "account",
    "ou",
    "region",
    "resource_type",
    "q",
)
# Where a first click sorts newest or worst first.
_DESCENDING_FIRST = {"severity", "last_changed"}


def chips(form: ExplorerForm, query: QueryDict) -> list[Chip]:
    """The valid filters in force, each removable on its own."""
    data = form.filters
    found = []
    for name in _CHIP_FIELDS:
        if name not in data or not data[name]:
            continue
        field = form.fields[name]
        label = field.label or name.replace("_", " ").capitalize()
        choices = {str(k): v for k, v in getattr(field, "choices", [])}
        for raw in query.getlist(name):
            if not raw:
                continue
            shown = raw if name in ("q", "ou") else str(choices.get(raw, raw)).strip()
            found.append(Chip(label, shown, _without(query, name, raw)))
    return found


def invalid_filters(form: ExplorerForm, query: QueryDict) -> list[Chip]:
    """Fields with an invalid value: the error, and the query string without it."""
    form.is_valid()
    found = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize()
        found.append(Chip(label, " ".join(errors), _without(query, name)))
    return found


_COLUMNS = [
    ("status", "Status"),
    ("severity", "Severity"),
    ("control", "Control"),
    ("account", "Account"),
    ("region", "Region"),
    ("resource", "Resource"),
    ("", "Reason"),
    ("last_changed", "Last changed"),
]


def columns(form: ExplorerForm, query: QueryDict) -> list[Column]:
    """The table's columns, each sortable one with the query string that sorts it."""
    current = form.sort_key
    found = []
    for key, title in _COLUMNS:
        if not key:
            found.append(Column(title))
            continue
        if current.lstrip("-") == key:
            direction = "descending" if current.startswith("-") else "ascending"
            target = key if current.startswith("-") else f"-{key}"
        else:
            direction = ""
            target = f"-{key}" if key in _DESCENDING_FIRST else key
        changed = query.copy()
        changed.pop("page", None)
        changed["sort"] = target
        found.append(Column(title, changed.urlencode(), direction))
    return found


def _without(query: QueryDict, name: str, value: str | None = None) -> str:
    """``?query`` without ``name`` (or just its ``value``), back on page one;
    empty when nothing is left."""
    changed = query.copy()
    changed.pop("page", None)
    kept = [] if value is None else [v for v in changed.getlist(name) if v != value]
    changed.pop(name, None)
    if kept:
        changed.setlist(name, kept)
    return f"?{changed.urlencode()}" if changed else ""


# -- The table's rows -------------------------------------------------------------


def escape_text(value) -> str:
    """As the templates' autoescape: Django's ``escape`` is the standard
    library's, behind a lazy-string wrapper that a long list pays per value."""
    return html_escape(str(value))


def rows_html(rows: Iterable) -> SafeString:
    """The ``<tr>`` of each finding of the explorer's table.

    Rendered here rather than by a template loop, which was most of the
    table's time (a template per row). Everything from the data is escaped.
    """
    esc = escape_text
    routes = SimpleNamespace(render_context={})  # ``row_url``'s reversed routes
    parts = []
    for finding in rows:
        control, account, resource = finding.control, finding.account, finding.resource
        status, control_id = finding.status, finding.control_id
        excepted = (
            '<span class="badge badge-info" title="An exception in force covers'
            ' this finding">Excepted</span>'
            if finding.excepted
            else ""
        )
        severity = ""
        if control:
            level = esc(control.severity)
            severity = f'<span class="sev sev-{level}">{level}</span>'
        control_url = row_url(routes, "findings:control", control_id)
        account_url = row_url(routes, "findings:account", finding.account_id)
        resource_url = row_url(routes, "findings:resource", finding.resource_id)
        changed = finding.last_changed
        parts.append(
            "<tr>"
            f'<td class="nowrap"><span class="badge badge-{esc(status_class(status))}">'
            f"{esc(status_label(status))}</span>{excepted}</td>"
            f"<td>{severity}</td>"
            f'<td><a href="{esc(control_url)}">'
            f"{esc(control.title if control else control_id)}</a>"
            f'<div class="mono small muted">{esc(control_id)}</div></td>'
            f'<td><a href="{esc(account_url)}">'
            f"{esc(account.name or account.account_id)}</a>"
            f'<div class="mono small muted">{esc(account.account_id)}</div></td>'
            f'<td class="nowrap small">{esc(resource.region)}</td>'
            f'<td class="break"><a href="{esc(resource_url)}'
            f'?control={esc(quote(control_id))}">{esc(resource)}</a>'
            f'<div class="small muted">{esc(resource.resource_type)}</div></td>'
            f'<td class="reason">{esc(finding.reason)}</td>'
            f'<td class="nowrap small" title="{esc(utc(changed))} UTC">'
            f"{esc(since(changed))} ago</td>"
            "</tr>\n"
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value escaped above


# -- One page, without sorting every finding ---------------------------------------

#: Counted exactly up to here; past it the page says "more than". Counting every
#: finding a user sees grows with the estate; a page must not.
COUNT_CAP = 1000
# The default order past its leading keys (status, severity, account), which
# are constant within a cell: the rest of ``ordering(DEFAULT_SORT)``.
_IN_CELL_ORDER = ("control_id", "resource__name", "resource__resource_id", "pk")


@dataclass(frozen=True, slots=True)
class ExplorerPage:
    """One page of rows; ``count`` is exact up to ``COUNT_CAP``, else
    ``COUNT_CAP + 1`` ("more than"), so the last page is unknown."""

    object_list: list
    number: int
    per_page: int
    count: int
    has_next: bool

    def __iter__(self) -> Iterator:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def exact(self) -> bool:
        return self.count <= COUNT_CAP

    @property
    def num_pages(self) -> int | None:
        return max(1, math.ceil(self.count / self.per_page)) if self.exact else None

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_of(
    findings: QuerySet, form: ExplorerForm, number: str | None, now: datetime | None
) -> ExplorerPage:
    """Page ``number`` of ``explore(findings, form)``, its rows in that order.

    Past ``COUNT_CAP`` rows the default order (worst first) is read cell by
    cell (``_walk``), so a page costs the rows of the cells before it, not a
    sort of every finding. Fewer rows, other orders and searches (``_sparse``)
    sort in SQL. The exceptions in force over the form's accounts are read
    first (``InForce``, one query) and matched as literal values: a status
    filter needs them for every finding it passes, and the page's rows too.
    """
    in_force = InForce.read(form.accounts.values(), now or timezone.now())
    rows = narrowed(findings, form, now, in_force)

    def read(count: int, offset: int, limit: int) -> list:
        if form.sort_key == DEFAULT_SORT and count > COUNT_CAP and not _sparse(form):
            return _walk(rows, form, offset, limit, in_force)
        ordered = (
            rows.annotate(severity_rank=_severity_rank())
            .order_by(*ordering(form.sort_key))
            .for_rows()
        )
        return list(ordered[offset : offset + limit])

    return capped_page(rows, number, form.per_page, read)


def capped_page(
    rows: QuerySet,
    number: str | None,
    per_page: int,
    read: Callable[[int, int, int], list],
) -> ExplorerPage:
    """Page ``number`` of ``rows``, counted exactly up to ``COUNT_CAP``:
    ``read(count, offset, limit)`` returns its rows (one more than the page,
    to know whether another follows) in the list's order."""
    count = rows.order_by().values("pk")[: COUNT_CAP + 1].count()
    number_ = _page_number(number, count, per_page)
    found = read(count, (number_ - 1) * per_page, per_page + 1)
    return ExplorerPage(
        found[:per_page], number_, per_page, count, has_next=len(found) > per_page
    )


def _sparse(form: ExplorerForm) -> bool:
    """A search or resource filter: its rows are scattered through every cell,
    so the walk would read them all, cell by cell; one sort is cheaper."""
    data = form.filters
    return any(data.get(name) for name in ("q", "region", "resource_type"))


def _page_number(raw: str | None, count: int, per_page: int) -> int:
    """As ``Paginator.get_page``: not a number is page 1, past the end the last."""
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    if count <= COUNT_CAP:
        number = min(number, max(1, math.ceil(count / per_page)))
    return max(1, number)


def _cells(form: ExplorerForm) -> paging.Cells:
    """(status, severity rank, account) in the default order's leading keys.

    Accounts come in the form's order (name, account id: the same columns and
    collation as ``ordering``); statuses a status filter leaves out are skipped.
    """
    data = form.filters
    statuses = sorted(_STATUS_RANK, key=_STATUS_RANK.__getitem__)
    if chosen := set(data.get("status") or ()):
        if SUPPRESSED in chosen:
            chosen |= set(SUPPRESSIBLE)
        statuses = [s for s in statuses if s in chosen]
    accounts = [
        pk for pk in form.accounts if not data.get("account") or pk == data["account"]
    ]
    ranks = [*sorted(_ranked_controls(), reverse=True), 0]
    return paging.Cells(statuses, ranks, accounts)


@functools.cache
def _ranked_controls() -> dict[int, list[str]]:
    """Control ids by severity rank (critical 4 … low 1), as ``_severity_rank``."""
    by_rank: dict[int, list[str]] = {}
    for control in REGISTRY.values():
        by_rank.setdefault(control.severity.rank, []).append(control.id)
    return {rank: sorted(ids) for rank, ids in by_rank.items()}


def _walk(
    rows: QuerySet,
    form: ExplorerForm,
    offset: int,
    limit: int,
    in_force: InForce,
) -> list:
    """Rows ``offset`` … ``offset + limit`` of the default order, read from the
    first cells only (eight times more on each retry until the page is full)."""
    cells = _cells(form)
    statement = _walk_statement(rows, offset, limit)
    ids = paging.walk_ids(lambda size: statement(cells.first(size)), len(cells), limit)
    # The ids come in the page's order: the rows are put back in it here,
    # rather than sorted again in SQL by the severity of every control. They
    # are read by id alone: the walk applied the scope and the filters, and
    # repeated here they led the planner to probe every account in scope.
    found = Finding.objects.filter(pk__in=ids).for_rows()
    if not in_force.complete:
        return paging.in_order(ids, found.annotate(excepted=in_force.covered()))
    found = paging.in_order(ids, found)
    for finding in found:
        finding.excepted = in_force.covers(finding)
    return found


def _walk_statement(
    rows: QuerySet, offset: int, limit: int
) -> Callable[[list[tuple[str, int, int]]], tuple[str, list]]:
    """The SQL (and its parameters) of the ids of rows ``offset`` … ``offset +
    limit`` of the cells it is given, in order; compiled once for every try.

    Each cell's rows come from the (account, status) index, in the rest
    of the default order, at most ``offset + limit`` of them (a LATERAL join);
    a cell of rank 0 holds the controls missing from the catalog.
    """
    in_cell = [F(c).asc() for c in _IN_CELL_ORDER]
    in_rank = RawSQL(
        "CASE WHEN ranks.controls IS NULL"
        ' THEN NOT ("findings_finding"."control_id" = ANY(%s::varchar[]))'
        ' ELSE "findings_finding"."control_id" = ANY(ranks.controls) END',
        [paging.array_literal(sorted(REGISTRY))],
        output_field=BooleanField(),
    )
    numbered = (
        rows.filter(
            in_rank,
            account_id=RawSQL("cell.account_id", [], output_field=BigIntegerField()),
            status=RawSQL("cell.status", [], output_field=CharField()),
        )
        .annotate(n=Window(RowNumber(), order_by=in_cell))
        .order_by(*in_cell)
        .values_list("pk", "n")[: offset + limit]
    )
    lateral, lateral_params = numbered.query.sql_with_params()
    ranks = [
        (rank, paging.array_literal(ids)) for rank, ids in _ranked_controls().items()
    ]
    ranks.append((0, None))
    values = ", ".join(["(%s, %s::varchar[])"] * len(ranks))
    # Only placeholders and Django's own compiled SQL are joined in.
    sql = (
        f"WITH ranks(rank, controls) AS (VALUES {values})"  # noqa: S608
        " SELECT w.id FROM unnest(%s::varchar[], %s::int[], %s::bigint[])"
        " WITH ORDINALITY AS cell(status, rank, account_id, ord)"
        " JOIN ranks ON ranks.rank = cell.rank"
        f" CROSS JOIN LATERAL ({lateral}) AS w(id, n)"
        " ORDER BY cell.ord, w.n LIMIT %s OFFSET %s"
    )
    head = [v for rank in ranks for v in rank]

    def statement(cells: list[tuple[str, int, int]]) -> tuple[str, list]:
        statuses, levels, accounts = zip(*cells, strict=True) if cells else ((), (), ())
        return sql, [
            *head,
            paging.array_literal(statuses),
            paging.array_literal(levels),
            paging.array_literal(accounts),
            *lateral_params,
            limit,
            offset,
        ]

    return statement


# -- A findings list read cell by cell: the control and account pages -------------


def cell_ids(
    rows: QuerySet,
    cells: paging.Cells,
    in_cell: tuple[str, ...],
    offset: int,
    limit: int,
) -> list[int]:
    """Ids of rows ``offset`` … ``offset + limit`` of ``rows`` ordered by cell,
    then by ``in_cell``; a cell is a (status, account id) pair, the list's
    leading keys, in the list's order.

    As ``_walk``: each cell gives at most ``offset + limit`` of its rows, read
    through an index on the account and status. A status or two × the
    accounts in scope are usually few enough to send at once
    (``paging.ALL_AT_ONCE``); past that, the first walk reads the first cells
    only, each retry eight times as many until the page is full.
    """
    lateral, lateral_params = _in_cell_sql(rows, in_cell, offset + limit)
    # Only placeholders and Django's own compiled SQL are joined in.
    sql = (
        "SELECT w.id FROM unnest(%s::varchar[], %s::bigint[])"  # noqa: S608
        " WITH ORDINALITY AS cell(status, account_id, ord)"
        f" CROSS JOIN LATERAL ({lateral}) AS w(id, n)"
        " ORDER BY cell.ord, w.n LIMIT %s OFFSET %s"
    )

    def statement(size: int) -> tuple[str, list]:
        first = cells.first(size)
        statuses, accounts = zip(*first, strict=True) if first else ((), ())
        return sql, [
            paging.array_literal(statuses),
            paging.array_literal(accounts),
            *lateral_params,
            limit,
            offset,
        ]

    few = len(cells) <= paging.ALL_AT_ONCE
    return paging.walk_ids(
        statement, len(cells), limit, first=len(cells) if few else None
    )


def _in_cell_sql(
    rows: QuerySet, in_cell: tuple[str, ...], most: int
) -> tuple[str, list]:
    """The SQL (and its parameters) of the first ``most`` ids of ``rows`` in
    the cell ``cell`` (status, account_id), numbered in the order ``in_cell``."""
    order = [F(c).asc() for c in in_cell]
    numbered = (
        rows.filter(
            account_id=RawSQL("cell.account_id", [], output_field=BigIntegerField()),
            status=RawSQL("cell.status", [], output_field=CharField()),
        )
        .annotate(n=Window(RowNumber(), order_by=order))
        .order_by(*order)
        .values_list("pk", "n")[:most]
    )
    return numbered.query.sql_with_params()
