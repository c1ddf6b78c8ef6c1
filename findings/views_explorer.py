"""The findings explorer page and "Export this view": one query string, one query.

Both views read the same ``ExplorerForm`` and ``explore`` the user's live
findings with it (``findings.explorer``), so the CSV holds the page's rows,
in the page's order, across every page.
"""

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import push_url

from findings import explorer as filters
from findings import exports
from findings.models import Finding
from findings.views import Crumb, _accounts, _render
from findings.views_exports import _organization_label, csv_response

TARGET = "explorer"


def _scoped(request: HttpRequest) -> tuple:
    """The bound form and the user's live findings, not yet narrowed by it."""
    accounts = _accounts(request)
    form = filters.ExplorerForm(request.GET, accounts=accounts)
    return form, Finding.objects.for_user(request.user).live()


def explorer(request: HttpRequest) -> HttpResponse:
    """The page, or its partial for htmx; the URL always shows the clean view."""
    url = reverse("findings:explorer")
    query = filters.canonical(request.GET)
    clean_url = f"{url}?{query.urlencode()}" if query else url
    htmx = getattr(request, "htmx", None)
    if not htmx and query.urlencode() != request.GET.urlencode():
        # A submitted form sends every field, even empty: keep links short.
        return redirect(clean_url)
    form, findings = _scoped(request)
    page = filters.page_of(findings, form, query.get("page"), timezone.now())
    without_page = query.copy()
    without_page.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "explorer_rows": filters.rows_html(page.object_list),
        "cap": filters.COUNT_CAP,
        "query": without_page.urlencode(),
        "chips": filters.chips(form, query),
        "invalid": filters.invalid_filters(form, query),
        "columns": filters.columns(form, query),
        "explorer_url": url,
        "crumbs": [Crumb("Overview", reverse("findings:overview"))],
    }
    response = _render(
        request,
        "findings/explorer.html",
        "findings/_explorer_table.html",
        context,
        TARGET,
    )
    if htmx and not htmx.history_restore_request:
        push_url(response, clean_url)
    return response


def explorer_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The explorer's view as CSV: every page, the same order, same filters."""
    form, findings = _scoped(request)
    chosen = form.chosen_account
    columns = exports.EXPLORER_COLUMNS
    return csv_response(
        request,
        columns,
        exports.finding_rows(filters.explore(findings, form), columns),
        organization=(
            chosen.organization.name
            if chosen
            else _organization_label(_accounts(request))
        ),
        subject="findings",
    )
