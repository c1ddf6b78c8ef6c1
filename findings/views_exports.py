"""CSV downloads of the pages' lists: same scope, same filters, same rows.

Each export reaches its objects through the page's own ``_get_*_for_user``
helper (404 outside the user's scope, before a byte is sent), reads the same
query string with the same filter form, and streams the rows built in
``findings.exports*`` in constant memory. ``?bom=1`` prefixes a UTF-8 byte
order mark for Excel. The scan pages' exports live here too: ``collectors``
must not import ``findings``, whose CSV code they use.
"""

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from collectors import views as scan_views
from findings import dashboard, exports, exports_history, exports_rollups, frameworks
from findings.forms import FindingFilterForm
from findings.models import Finding
from findings.views import (
    _accounts,
    _framework_rows,
    _get_account_for_user,
    _get_control,
    _get_organization_for_user,
    _get_resource_for_user,
    _get_section,
)

_TRUE = {"1", "true", "yes", "on"}


def csv_response(
    request: HttpRequest,
    header: list[str],
    rows,
    *,
    organization: str,
    subject: str,
) -> StreamingHttpResponse:
    """A streamed CSV attachment named after the organization, subject and day."""
    bom = request.GET.get("bom", "").lower() in _TRUE
    response = StreamingHttpResponse(
        exports.csv_chunks(header, rows, bom=bom),
        content_type="text/csv; charset=utf-8",
    )
    name = exports.file_name(organization, subject, timezone.now().date())
    response["Content-Disposition"] = content_disposition_header(True, name)
    # Scoped data: not for shared caches, nor kept by the browser.
    response["Cache-Control"] = "private, no-store"
    return response


def _organization_label(accounts: QuerySet) -> str:
    names = list(
        dashboard.organizations_for(accounts).values_list("name", flat=True)[:2]
    )
    return names[0] if len(names) == 1 else "all-organizations"


# -- Findings lists ----------------------------------------------------------------


def findings_csv(
    request: HttpRequest,
    findings: QuerySet,
    form: FindingFilterForm,
    *,
    organization: str,
    subject: str,
) -> StreamingHttpResponse:
    """The CSV of a findings list: ``findings`` already scoped, ``form`` bound.

    The control and account pages use it; so can any list built on
    ``FindingFilterForm`` (the findings explorer).
    """
    columns = exports.FINDING_LIST_COLUMNS
    rows = exports.finding_rows(exports.finding_list(findings, form), columns)
    return csv_response(
        request, columns, rows, organization=organization, subject=subject
    )


def control_findings_csv(
    request: HttpRequest, control_id: str
) -> StreamingHttpResponse:
    control = _get_control(control_id)
    accounts = _accounts(request)
    form = FindingFilterForm(request.GET, accounts=accounts)
    findings = (
        Finding.objects.for_user(request.user).live().filter(control_id=control.id)
    )
    chosen = form.cleaned_data.get("account") if form.is_valid() else None
    return findings_csv(
        request,
        findings,
        form,
        organization=(
            chosen.organization.name if chosen else _organization_label(accounts)
        ),
        subject=f"{control.id}-findings",
    )


def account_findings_csv(
    request: HttpRequest, account_pk: int
) -> StreamingHttpResponse:
    account = _get_account_for_user(request, account_pk)
    form = FindingFilterForm(request.GET)
    findings = Finding.objects.filter(account=account).live()
    return findings_csv(
        request,
        findings,
        form,
        organization=account.organization.name,
        subject=f"{account.name or account.account_id}-findings",
    )


# -- Pass rates --------------------------------------------------------------------


def section_controls_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """The section page's controls table."""
    section = _get_section(slug)
    accounts = _accounts(request)
    rows, out_of_scope = exports_rollups.section_control_rows(section, accounts)
    return csv_response(
        request,
        exports_rollups.CONTROL_COLUMNS,
        exports_rollups.control_rows(rows, out_of_scope),
        organization=_organization_label(accounts),
        subject=f"{section.slug}-controls",
    )


def _chosen_accounts(request: HttpRequest) -> tuple[QuerySet, str]:
    """Visible accounts, narrowed to ``?org=`` when given (404 if not visible)."""
    accounts = _accounts(request)
    if request.GET.get("org"):
        organization = _get_organization_for_user(request, request.GET["org"])
        return accounts.filter(organization=organization), organization.name
    return accounts, _organization_label(accounts)


def controls_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every control of the catalog with its current pass rate."""
    accounts, label = _chosen_accounts(request)
    rows = exports_rollups.all_control_rows(accounts)
    return csv_response(
        request,
        exports_rollups.CONTROL_COLUMNS,
        exports_rollups.control_rows(
            rows, dashboard.out_of_scope_control_ids(accounts)
        ),
        organization=label,
        subject="controls",
    )


def accounts_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The accounts page's rows: every account, worst first in the latest scan."""
    organization = _get_organization_for_user(request, request.GET.get("org"))
    rows = (
        exports_rollups.account_rows(organization, _accounts(request))
        if organization
        else iter(())
    )
    return csv_response(
        request,
        exports_rollups.ACCOUNT_COLUMNS,
        rows,
        organization=organization.name if organization else "",
        subject="accounts",
    )


def sections_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The overview's whitepaper sections: per-section pass rates."""
    organization = _get_organization_for_user(request, request.GET.get("org"))
    rows = (
        exports_rollups.section_rows(organization, _accounts(request))
        if organization
        else iter(())
    )
    return csv_response(
        request,
        exports_rollups.SECTION_COLUMNS,
        rows,
        organization=organization.name if organization else "",
        subject="sections",
    )


def framework_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    framework = frameworks.FRAMEWORKS.get(slug)
    if framework is None:
        raise Http404("No such framework.")
    accounts = _accounts(request)
    rows, _totals = _framework_rows(
        framework, dashboard.current_control_counts(accounts)
    )
    return csv_response(
        request,
        exports_rollups.FRAMEWORK_COLUMNS,
        exports_rollups.framework_rows(framework, rows),
        organization=_organization_label(accounts),
        subject=framework.slug,
    )


# -- Scans and resources -----------------------------------------------------------


def scans_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The scan history, every page of it, with the scans page's unit counts."""
    accounts = _accounts(request)
    return csv_response(
        request,
        exports_history.SCAN_COLUMNS,
        exports_history.scan_rows(scan_views.counted_scans(request)),
        organization=_organization_label(accounts),
        subject="scans",
    )


def scan_units_csv(request: HttpRequest, scan_id: int) -> StreamingHttpResponse:
    """A scan's units (visible accounts only) with the scan page's filters."""
    scan = scan_views._get_scan_for_user(request, scan_id)
    units = scan_views._visible_units(request, scan)
    services = sorted(units.order_by().values_list("service", flat=True).distinct())
    form = scan_views.UnitFilterForm(request.GET, services=services)
    return csv_response(
        request,
        exports_history.UNIT_COLUMNS,
        exports_history.unit_rows(exports_history.unit_list(units, form)),
        organization=scan.organization.name,
        subject=f"scan-{scan.pk}-units",
    )


def resource_history_csv(
    request: HttpRequest, resource_pk: int
) -> StreamingHttpResponse:
    """A resource's snapshots and status changes, newest first."""
    resource = _get_resource_for_user(request, resource_pk)
    return csv_response(
        request,
        exports_history.HISTORY_COLUMNS,
        exports_history.history_rows(resource),
        organization=resource.account.organization.name,
        subject=f"{resource.name or resource.resource_id}-history",
    )
