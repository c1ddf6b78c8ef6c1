"""Dashboard pages: overview → section → control → account → resource.

Every object a page shows is reached through one ``_get_*_for_user`` helper
(404 outside the user's scope), and every list starts from
``Account.objects.for_user(request.user)``. Aggregates come from
``findings.dashboard`` (rollups); views validate input, scope and render.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import quote

from django.core.paginator import Paginator
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from accounts.models import Account, Organization
from collectors import paging
from collectors.models import Resource
from findings import dashboard, explorer, frameworks, suppressions
from findings.controls import REGISTRY, Control
from findings.forms import FindingFilterForm
from findings.models import Finding
from findings.templatetags.exceptions import may_except
from findings.templatetags.parapet import (
    row_url,
    since,
    status_class,
    status_label,
    utc,
)

FINDINGS_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class Crumb:
    title: str
    url: str = ""


# -- Scope helpers -----------------------------------------------------------------


def _accounts(request: HttpRequest) -> QuerySet:
    return Account.objects.for_user(request.user)


def _get_account_for_user(request: HttpRequest, pk: int) -> Account:
    return get_object_or_404(_accounts(request).select_related("organization"), pk=pk)


def _get_resource_for_user(request: HttpRequest, pk: int) -> Resource:
    return get_object_or_404(
        Resource.objects.filter(account__in=_accounts(request)).select_related(
            "account__organization", "current_snapshot"
        ),
        pk=pk,
    )


def _get_organization_for_user(
    request: HttpRequest, pk: str | None
) -> Organization | None:
    """The organization asked for, else the first visible one (None: no access)."""
    visible = dashboard.organizations_for(_accounts(request))
    if pk:
        if not pk.isdigit():
            raise Http404("No such organization.")
        return get_object_or_404(visible, pk=pk)
    return visible.first()


def _get_section(slug: str):
    from findings import sections

    section = sections.get_section(slug)
    if section is None:
        raise Http404("No such section.")
    return section


def _get_control(control_id: str) -> Control:
    try:
        return REGISTRY[control_id]
    except KeyError:
        raise Http404("No such control.") from None


def _context_control(request: HttpRequest) -> Control | None:
    """The control a drill-down came from (``?control=``), for breadcrumbs."""
    return REGISTRY.get(request.GET.get("control", ""))


# -- Breadcrumbs --------------------------------------------------------------------


def _section_crumbs(slug: str) -> list[Crumb]:
    """The section and its ancestors in the tree, outermost first."""
    from findings import sections

    section = sections.get_section(slug)
    if section is None:
        return []
    return [
        Crumb(s.title, reverse("findings:section", args=[s.slug]))
        for s in [*sections.ancestors(slug), section]
    ]


def _crumbs(
    *,
    section: str | None = None,
    control: Control | None = None,
    account: Account | None = None,
) -> list[Crumb]:
    crumbs = [Crumb("Overview", reverse("findings:overview"))]
    if control is not None:
        section = control.section
    if section:
        crumbs += _section_crumbs(section)
    if control is not None:
        crumbs.append(Crumb(control.id, reverse("findings:control", args=[control.id])))
    if account is not None:
        url = account.get_absolute_url()
        if control is not None:
            url += f"?control={control.id}"
        crumbs.append(Crumb(str(account), url))
    return crumbs


# -- Partial rendering --------------------------------------------------------------


def _swap_target(request: HttpRequest) -> str:
    """The id of the element htmx asks to swap; "" when a full page is wanted.

    A history restore (back button after a cache miss) needs the full page.
    """
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return ""
    return htmx.target or ""


def _respond(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _render(
    request: HttpRequest,
    page: str,
    partial: str,
    context: dict,
    target: str,
) -> HttpResponse:
    """The full page, or only ``partial`` when htmx asks to swap ``#target``."""
    wants_partial = _swap_target(request) == target
    return _respond(request, partial if wants_partial else page, context)


def _trend_days(request: HttpRequest) -> int:
    """``?days=`` when it is one of the offered windows, else the default."""
    days = request.GET.get("days", "")
    if days.isdigit() and int(days) in dashboard.TREND_WINDOWS:
        return int(days)
    return dashboard.DEFAULT_TREND_DAYS


def _trend_context(trend: list, days: int, label: str) -> dict:
    """What ``_trend.html`` (the chart and its window links) needs."""
    return {
        "trend": trend,
        "days": days,
        "windows": dashboard.TREND_WINDOWS,
        "trend_label": label,
    }


#: The findings lists' order (control and account pages): failing first, then
#: by account, control and resource. Past the status and the account, the
#: part ``explorer.cell_ids`` walks within each (status, account) cell.
_FINDINGS_IN_CELL = ("control_id", "resource__name", "resource__resource_id", "pk")
_FINDINGS_ORDER = (
    Case(When(status="FAIL", then=Value(0)), default=Value(1)),
    "account__name",
    "account__account_id",
    *_FINDINGS_IN_CELL,
)


def _findings_page(
    request: HttpRequest,
    findings: QuerySet,
    form: FindingFilterForm,
    account_pks: list[int],
    from_control: str = "",
) -> dict:
    """Page ``?page=`` of ``findings`` narrowed by ``form``, in ``_FINDINGS_ORDER``.

    Counted exactly up to ``explorer.COUNT_CAP`` ("more than" past it). Past
    the cap the page is read cell by cell (``_findings_cells``: the statuses,
    then ``accounts`` by name), so it costs the rows of the cells before it,
    not a sort of every finding of the control or account (``account_pks``:
    the accounts listed, by name); a search scatters
    its rows through every cell, so it sorts in SQL. Either way the exception
    badge is looked up for the page's rows only.
    """
    rows = form.filter(findings)
    data = form.cleaned_data if form.is_valid() else {}

    def read(count: int, offset: int, limit: int) -> list:
        if count > explorer.COUNT_CAP and not data.get("q"):
            cells = _findings_cells(data, account_pks)
            ids = explorer.cell_ids(rows, cells, _FINDINGS_IN_CELL, offset, limit)
            # By id alone: the walk applied the scope and the filters.
            return paging.in_order(
                ids, _with_badges(Finding.objects.filter(pk__in=ids))
            )
        ordered = _with_badges(rows.order_by(*_FINDINGS_ORDER))
        return list(ordered[offset : offset + limit])

    page = explorer.capped_page(rows, request.GET.get("page"), FINDINGS_PER_PAGE, read)
    query = request.GET.copy()
    query.pop("page", None)
    filtered = any(
        request.GET.get(name) for name in ("status", "account", "section", "q")
    )
    return {
        "page": page,
        "finding_rows": _finding_rows(request, page.object_list, from_control),
        "from_control": from_control,
        "cap": explorer.COUNT_CAP,
        "form": form,
        "query": query.urlencode(),
        "filtered": filtered,
    }


def _finding_rows(request: HttpRequest, rows: list, from_control: str) -> SafeString:
    """The ``<tr>`` of each finding of a control or account page's list.

    Rendered here rather than by a template loop, which was most of the
    list's time (a template per row). Everything from the data is escaped.
    """
    esc = explorer.escape_text
    routes = SimpleNamespace(render_context={})  # ``row_url``'s reversed routes
    back = f"?control={esc(quote(from_control))}" if from_control else ""
    parts = []
    for finding in rows:
        status, control_id = finding.status, finding.control_id
        cells = [
            f'<td><span class="badge badge-{esc(status_class(status))}">'
            f"{esc(status_label(status))}</span></td>"
        ]
        if not from_control:
            control = finding.control
            url = row_url(routes, "findings:control", control_id)
            cells.append(
                f'<td><a href="{esc(url)}">'
                f"{esc(control.title if control else control_id)}</a>"
                f'<div class="mono small muted">{esc(control_id)}</div></td>'
            )
        resource = finding.resource
        url = row_url(routes, "findings:resource", finding.resource_id)
        cells.append(
            f'<td><a href="{esc(url)}{back}">{esc(resource)}</a>'
            f'<div class="small muted">{esc(resource.resource_type)} · '
            f"{esc(resource.region)}</div></td>"
        )
        if from_control:
            account = finding.account
            url = row_url(routes, "findings:account", finding.account_id)
            cells.append(
                f'<td><a href="{esc(url)}{back}">'
                f"{esc(account.name or account.account_id)}</a>"
                f'<div class="mono small muted">{esc(account.account_id)}</div></td>'
            )
        cells.append(
            f'<td class="reason">{esc(finding.reason)} '
            f"{_exception_badge(request.user, finding, routes)}</td>"
        )
        changed = finding.last_changed
        cells.append(
            f'<td class="nowrap small" title="{esc(utc(changed))} UTC">'
            f"{esc(since(changed))} ago</td>"
        )
        parts.append(f"<tr>{''.join(cells)}</tr>\n")
    return mark_safe("".join(parts))  # noqa: S308 - every value escaped above


def _exception_badge(user, finding: Finding, routes: SimpleNamespace) -> str:
    """ "Excepted until …" under an exception in force; else, for a failing
    or erroring finding, a link to propose one when the user may."""
    esc = explorer.escape_text
    if finding.excepted_until:
        until = date_filter(template_localtime(finding.excepted_until), "M j, Y")
        return (
            '<div class="finding-exception"><span class="badge badge-suppressed">'
            f"Excepted until {esc(until)}</span></div>"
        )
    if finding.status in ("FAIL", "ERROR") and may_except(user, finding.account_id):
        url = row_url(routes, "findings:exception_new")
        return (
            f'<div class="finding-exception"><a href="{esc(url)}'
            f"?control={esc(quote(finding.control_id))}"
            f'&amp;resource={esc(finding.resource_id)}">Add exception</a></div>'
        )
    return ""


def _findings_cells(data: dict, account_pks: list[int]) -> paging.Cells:
    """(status, account) in ``_FINDINGS_ORDER``'s leading keys: the statuses
    ``FindingFilterForm.filter`` keeps (failing and erroring unless one is
    chosen), failing first; the accounts (or the one chosen) by name."""
    statuses = [data["status"]] if data.get("status") else ["FAIL", "ERROR"]
    if data.get("account"):
        account_pks = [data["account"].pk]
    return paging.Cells(statuses, account_pks)


def _with_badges(findings: QuerySet) -> QuerySet:
    """What a row shows: its resource, account and "Excepted until" badge."""
    return findings.for_rows().annotate(excepted_until=suppressions.excepted_until())


# -- Pages -------------------------------------------------------------------------


def overview(request: HttpRequest) -> HttpResponse:
    accounts = _accounts(request)
    organization = _get_organization_for_user(request, request.GET.get("org"))
    days = _trend_days(request)
    label = "Organization pass rate per scan day"
    if organization and _swap_target(request) == "trend":
        # Only the chart changes: skip the rest of the page's queries.
        scan = dashboard.latest_scan(organization)
        trend = (
            dashboard.organization_trend(organization, accounts, scan, days)
            if scan
            else []
        )
        return _respond(
            request, "findings/_trend.html", _trend_context(trend, days, label)
        )
    by = "ou" if request.GET.get("by") == "ou" else "account"
    summary = (
        dashboard.organization_summary(organization, accounts, days=days, by=by)
        if organization
        else None
    )
    context = {
        "summary": summary,
        # A list: the template asks its length, then loops over it.
        "organizations": list(dashboard.organizations_for(accounts)),
        "organization": organization,
        "spark_days": dashboard.SPARK_DAYS,
        "cache_seconds": dashboard.CACHE_SECONDS,
        "crumbs": [],
        **_trend_context(summary.trend if summary else [], days, label),
    }
    return _respond(request, "findings/overview.html", context)


ACCOUNTS_PER_PAGE = 50


def account_list(request: HttpRequest) -> HttpResponse:
    """Every account of an organization the user sees, worst first, paged;
    ``?q=`` narrows to names, ids and OU paths containing it, ``?control=``
    ranks the accounts with results for that control by its counts."""
    accounts = _accounts(request)
    organization = _get_organization_for_user(request, request.GET.get("org"))
    control = _context_control(request)
    control_id = control.id if control else None
    q = request.GET.get("q", "").strip()[:200]
    if q:
        accounts = accounts.filter(
            Q(name__icontains=q) | Q(account_id__icontains=q) | Q(ou_path__icontains=q)
        )
    ranked = (
        dashboard.account_table(organization, accounts, control_id)
        if organization
        else []
    )
    page = Paginator(ranked, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    scan = dashboard.latest_scan(organization) if organization else None
    page.object_list = dashboard.account_page(
        page.object_list, scan.started_at if scan else None, control_id
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "organization": organization,
        "organizations": list(dashboard.organizations_for(_accounts(request))),
        "scan": scan,
        "page": page,
        "q": q,
        "query": query.urlencode(),
        "list_url": reverse("findings:accounts"),
        "control": control,
        "spark_days": dashboard.SPARK_DAYS,
        "crumbs": _crumbs(control=control),
    }
    return _render(
        request,
        "findings/accounts.html",
        "findings/_accounts.html",
        context,
        "accounts",
    )


def section_detail(request: HttpRequest, slug: str) -> HttpResponse:
    from findings import sections

    section = _get_section(slug)
    accounts = _accounts(request)
    # A grouping has no controls of its own: show those of its sub-sections.
    controls = sections.controls_in(
        section.slug, include_descendants=section.kind == "index"
    )
    figures = dashboard.section_figures([c.id for c in controls], accounts)
    rows = sorted(
        (
            dashboard.ControlRow(
                c.id,
                figures.counts.get(c.id, dashboard.Counts()),
                figures.sparks.get(c.id, []),
            )
            for c in controls
        ),
        key=lambda r: (-r.control.severity.rank, r.control_id),
    )
    tree = dashboard.section_rows(figures.section_counts)
    children = [row for row in tree if row.slug.rpartition("/")[0] == section.slug]
    context = {
        "section": section,
        "rows": rows,
        "out_of_scope": figures.out_of_scope,
        "totals": sum((r.counts for r in rows), dashboard.Counts()),
        "children": children,
        "spark_days": dashboard.SPARK_DAYS,
        "crumbs": _crumbs(section=section.parent_slug),
    }
    return render(request, "findings/section.html", context)


def control_detail(request: HttpRequest, control_id: str) -> HttpResponse:
    control = _get_control(control_id)
    accounts = _accounts(request)
    days = _trend_days(request)
    target = _swap_target(request)
    if target != "findings":
        history = dashboard.control_history(control.id, accounts, days)
        trend = _trend_context(history.trend, days, "Control pass rate per scan day")
        if target == "trend":
            return _respond(request, "findings/_trend.html", trend)
    # The account select's options are the rows the figures' cache key read.
    form = FindingFilterForm(request.GET, accounts=accounts)
    findings = (
        Finding.objects.for_user(request.user).live().filter(control_id=control.id)
    )
    listed = {
        "list_url": reverse("findings:control", args=[control.id]),
        **_findings_page(request, findings, form, form.account_pks, control.id),
    }
    if target == "findings":
        # Paging and filtering change the list only: no figures are read.
        return _respond(request, "findings/_findings.html", listed)
    context = {
        "control": control,
        "out_of_scope": history.out_of_scope,
        "per_account": history.accounts,
        "account_count": history.account_count,
        "totals": history.totals,
        "spark_days": dashboard.SPARK_DAYS,
        "crumbs": _crumbs(section=control.section),
        **trend,
        **listed,
    }
    return _respond(request, "findings/control.html", context)


def account_detail(request: HttpRequest, account_pk: int) -> HttpResponse:
    account = _get_account_for_user(request, account_pk)
    days = _trend_days(request)
    label = "Account pass rate per scan day"
    if _swap_target(request) == "trend":
        scan = dashboard.latest_scan(account.organization)
        trend = dashboard.account_trend(account, scan, days) if scan else []
        return _respond(
            request, "findings/_trend.html", _trend_context(trend, days, label)
        )
    form = FindingFilterForm(request.GET)
    # The resource's account too, though it is the finding's: PostgreSQL then
    # joins the account's resources (its index) instead of hashing them all.
    findings = Finding.objects.filter(account=account, resource__account=account).live()
    listed = {
        "account": account,
        "list_url": account.get_absolute_url(),
        **_findings_page(request, findings, form, [account.pk]),
    }
    if _swap_target(request) == "findings":
        # Paging and filtering change the list only: no figures are read.
        return _respond(request, "findings/_findings.html", listed)
    summary = dashboard.account_summary(account, days)
    context = {
        "summary": summary,
        "crumbs": _crumbs(control=_context_control(request)),
        **_trend_context(summary.trend, days, label),
        **listed,
    }
    return _respond(request, "findings/account.html", context)


# -- Frameworks --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequirementRow:
    requirement: frameworks.Requirement
    controls: list[dashboard.ControlRow]
    counts: dashboard.Counts

    @property
    def rate(self) -> float | None:
        return self.counts.rate

    @property
    def state(self) -> str:
        if not self.counts.evaluated:
            return "no-results"
        return "pass" if not self.counts.not_passing else "fail"


def _framework_rows(
    framework: frameworks.Framework, counts: dict[str, dashboard.Counts]
) -> tuple[list[RequirementRow], dashboard.Counts]:
    """The framework's requirements scored from ``counts`` (per control, from
    ``dashboard.current_control_counts``), and the overall counts."""
    ids = frameworks.mapped_control_ids(framework)
    zero = dashboard.Counts()
    rows = []
    for requirement in frameworks.requirements(framework):
        controls = [
            dashboard.ControlRow(c.id, counts.get(c.id, zero))
            for c in requirement.controls
        ]
        total = sum((c.counts for c in controls), zero)
        rows.append(RequirementRow(requirement, controls, total))
    # Overall: every mapped control once, however many requirements cite it.
    return rows, sum((counts.get(i, zero) for i in ids), zero)


def framework_list(request: HttpRequest) -> HttpResponse:
    counts = dashboard.current_control_counts(_accounts(request))
    cards = []
    for framework in frameworks.FRAMEWORKS.values():
        rows, totals = _framework_rows(framework, counts)
        cards.append(
            {
                "framework": framework,
                "totals": totals,
                "requirements": len(rows),
                "passing": sum(1 for r in rows if r.state == "pass"),
                "failing": sum(1 for r in rows if r.state == "fail"),
            }
        )
    context = {
        "cards": cards,
        "crumbs": [Crumb("Overview", reverse("findings:overview"))],
    }
    return render(request, "findings/frameworks.html", context)


def framework_detail(request: HttpRequest, slug: str) -> HttpResponse:
    framework = frameworks.FRAMEWORKS.get(slug)
    if framework is None:
        raise Http404("No such framework.")
    counts = dashboard.current_control_counts(_accounts(request))
    rows, totals = _framework_rows(framework, counts)
    context = {
        "framework": framework,
        "rows": rows,
        "totals": totals,
        "passing": sum(1 for r in rows if r.state == "pass"),
        "failing": sum(1 for r in rows if r.state == "fail"),
        "crumbs": [
            Crumb("Overview", reverse("findings:overview")),
            Crumb("Frameworks", reverse("findings:frameworks")),
        ],
    }
    return render(request, "findings/framework.html", context)
