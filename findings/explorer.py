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
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import QueryDict

from accounts.models import Account
from collectors.models import Resource
from findings import sections
from findings.controls import REGISTRY
from findings.controls.base import Severity
from findings.suppressions import SUPPRESSIBLE, covered

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
    for path in paths:
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
        choices=STATUS_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    severity = forms.MultipleChoiceField(
        choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    section = forms.ChoiceField(required=False)
    control = forms.ChoiceField(required=False)
    account = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    ou = forms.ChoiceField(required=False, label="OU")
    region = forms.ChoiceField(required=False)
    resource_type = forms.ChoiceField(required=False, label="Resource type")
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)
    page_size = forms.TypedChoiceField(
        choices=[(n, n) for n in PAGE_SIZES],
        coerce=int,
        empty_value=DEFAULT_PAGE_SIZE,
        required=False,
        label="Per page",
    )

    def __init__(self, data: QueryDict | None = None, *, accounts: QuerySet):
        """``accounts``: the accounts the user may see; the choices come from them."""
        if data is not None and not data.get("page_size"):
            # Shown selected, so a change of another filter keeps the default.
            data = data.copy()
            data["page_size"] = str(DEFAULT_PAGE_SIZE)
        super().__init__(data)
        self.accounts = {a.pk: a for a in accounts.select_related("organization")}
        f = self.fields
        f["section"].choices = [("", "All sections"), *_section_choices()]
        f["control"].choices = [("", "All controls"), *_control_choices()]
        f["account"].choices = [("", "All accounts")] + [
            (a.pk, str(a)) for a in self.accounts.values()
        ]
        f["ou"].choices = [("", "All OUs")] + _ou_choices(
            a.ou_path for a in self.accounts.values()
        )
        regions, types = self._locations()
        f["region"].choices = [("", "All regions")] + [(r, r) for r in regions]
        f["resource_type"].choices = [("", "All types")] + [(t, t) for t in types]
        f["sort"].choices = [
            ("", ""),
            *((k, k) for k in SORT_KEYS),
            *((f"-{k}", k) for k in SORT_KEYS),
        ]

    def _locations(self) -> tuple[list[str], list[str]]:
        """Regions and resource types of the accounts' live, checked resources."""
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
        return self.accounts.get(self.filters.get("account"))


def explore(
    findings: QuerySet, form: ExplorerForm, now: datetime | None = None
) -> QuerySet:
    """``findings`` (already scoped) narrowed by ``form`` and in its order.

    Each row is annotated ``excepted``: an exception in force covers it.
    """
    data = form.filters
    findings = findings.annotate(excepted=covered(now), severity_rank=_severity_rank())
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
    return findings.order_by(*ordering(form.sort_key))


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
