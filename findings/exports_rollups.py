"""CSV tables of pass rates: controls, accounts, sections and frameworks.

Every figure comes from rollups through ``findings.dashboard``, and where a
page caches its figures the CSV reads the same cached figures, so an export
shows exactly what its page shows; nothing here counts the findings table.
"""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from findings import dashboard
from findings.controls import REGISTRY
from findings.exports import tags_cell


def rate_cell(rate: float | None) -> str:
    """0.75 -> "0.7500"; like the pages, never rounds up to a perfect score."""
    if rate is None:
        return ""
    text = f"{rate:.4f}"
    if text == "1.0000" and rate < 1:
        return "0.9999"
    if text == "0.0000" and rate > 0:
        return "0.0001"
    return text


COUNT_COLUMNS = [
    "pass_rate",
    "passed",
    "failed",
    "errors",
    "not_collected",
    "not_applicable",
    "suppressed",
]


def count_cells(counts: dashboard.Counts | None) -> list:
    if counts is None:
        return [""] * len(COUNT_COLUMNS)
    return [
        rate_cell(counts.rate),
        counts.passed,
        counts.failed,
        counts.errors,
        counts.unknown,
        counts.not_applicable,
        counts.suppressed,
    ]


# -- Controls, accounts and sections (from rollups) --------------------------------

CONTROL_COLUMNS = [
    "control_id",
    "title",
    "section",
    "severity",
    "resource_type",
    "results",
    *COUNT_COLUMNS,
    "cis",
    "fsbp",
]


def control_rows(
    rows: Iterable[dashboard.ControlRow], out_of_scope: set[str]
) -> Iterator[list]:
    """Controls with their current counts; ``results`` says why a rate is empty."""
    for row in rows:
        control = row.control
        if row.counts.evaluated or row.counts.not_applicable:
            results = "evaluated"
        elif row.control_id in out_of_scope:
            results = "out_of_scope"
        else:
            results = "none"
        yield [
            row.control_id,
            row.title,
            control.section if control else "",
            control.severity.value if control else "",
            control.resource_type if control else "",
            results,
            *count_cells(row.counts),
            control.cis if control else "",
            ";".join(control.fsbp) if control else "",
        ]


def section_control_rows(
    section, accounts: QuerySet
) -> tuple[list[dashboard.ControlRow], set[str]]:
    """The section page's controls table (most severe first) from its cached
    figures, and the controls out of scope."""
    from findings import sections

    controls = sections.controls_in(
        section.slug, include_descendants=section.kind == "index"
    )
    figures = dashboard.section_figures([c.id for c in controls], accounts)
    rows = sorted(
        (
            dashboard.ControlRow(c.id, figures.counts.get(c.id, dashboard.Counts()))
            for c in controls
        ),
        key=lambda r: (-r.control.severity.rank, r.control_id),
    )
    return rows, figures.out_of_scope


def all_control_rows(accounts: QuerySet) -> list[dashboard.ControlRow]:
    """Every control of the catalog in catalog order (section, id), with the
    counts the frameworks pages sum (cached)."""
    counts = dashboard.current_control_counts(accounts)
    controls = sorted(REGISTRY.values(), key=lambda c: (c.section, c.id))
    return [
        dashboard.ControlRow(c.id, counts.get(c.id, dashboard.Counts()))
        for c in controls
    ]


ACCOUNT_COLUMNS = [
    "organization",
    "account_id",
    "account_name",
    "email",
    "ou_path",
    "account_status",
    "account_tags",
    *COUNT_COLUMNS,
    "scan_id",
    "scan_started_at",
]


def account_rows(organization, accounts: QuerySet) -> Iterator[list]:
    """The accounts page's rows (``dashboard.account_table``): every account
    of the organization in scope, worst first as of the latest scan; those
    without results in it last, with an empty pass rate."""
    accounts = accounts.filter(organization=organization)
    scan = dashboard.latest_scan(organization)
    scan_cells = [scan.pk, scan.started_at] if scan else ["", ""]
    ranked = dashboard.account_table(organization, accounts)
    # Plain values: a thousand model instances cost more than the query.
    described = {
        pk: cells
        for pk, *cells in accounts.values_list(
            "pk", "account_id", "name", "email", "ou_path", "status", "tags"
        )
    }
    for pk, counts in ranked:
        if pk not in described:
            continue  # removed in the meantime
        *cells, tags = described[pk]
        yield [
            organization.name,
            *cells,
            tags_cell(tags),
            *count_cells(counts),
            *scan_cells,
        ]


SECTION_COLUMNS = [
    "organization",
    "section",
    "title",
    "kind",
    "depth",
    "counts_cover",
    *COUNT_COLUMNS,
    "scan_id",
    "scan_started_at",
]


def section_rows(organization, accounts: QuerySet) -> Iterator[list]:
    """Per-section pass rates of the overview, in the whitepaper's order.

    As on the overview, a section's counts are those of its own controls, or
    of everything below it for a grouping (``counts_cover`` says which).
    Customer sections without results are listed too, with empty counts; AWS's
    sections (kind ``informational``) are listed, never scored. The rows are
    the overview's own, from its cached figures.
    """
    summary = dashboard.organization_summary(organization, accounts)
    scan = summary.scan
    if scan is None:
        return
    for row in summary.sections:
        if row.kind == "index" and not row.shown:
            continue  # a grouping with nothing below it, hidden on the overview
        if row.counts is not None:
            cover, counts = "section", row.counts
        elif row.subtree is not None and not row.informational:
            cover, counts = "section and sub-sections", row.subtree
        else:
            cover, counts = "", None
        yield [
            organization.name,
            row.slug,
            row.title,
            row.kind,
            row.depth,
            cover,
            *count_cells(counts),
            scan.pk,
            scan.started_at,
        ]


# -- Frameworks --------------------------------------------------------------------

FRAMEWORK_COLUMNS = [
    "framework",
    "version",
    "requirement",
    "requirement_state",
    "requirement_pass_rate",
    "control_id",
    "control_title",
    "severity",
    *COUNT_COLUMNS,
]


def framework_rows(framework, requirement_rows: Iterable) -> Iterator[list]:
    """One row per requirement and mapped control, as the framework page lists them.

    ``requirement_rows`` are the page's rows (requirement, its controls' rows,
    their summed counts and state: pass, fail or no-results).
    """
    for req in requirement_rows:
        for row in req.controls:
            control = row.control
            yield [
                framework.name,
                framework.version,
                req.requirement.id,
                req.state,
                rate_cell(req.rate),
                row.control_id,
                row.title,
                control.severity.value if control else "",
                *count_cells(row.counts),
            ]
