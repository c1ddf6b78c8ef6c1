"""Exceptions (suppressions): the list, one exception, create, edit, revoke,
the audit log and the CSV export.

Every exception is reached through ``_get_exception_for_user`` (404 outside
the user's scope); every target (resource, account) through the dashboard's
own scope helpers. Viewing follows ``Suppression.objects.for_user``; changing
needs ``suppressions.may_manage`` (staff, or an admin of a team granting the
account), else 403. The logic lives in ``findings.suppressions``.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Account
from collectors.models import Resource
from findings import dashboard, suppressions
from findings.controls import Control
from findings.forms_exceptions import (
    EventFilterForm,
    ExceptionCreateForm,
    ExceptionEditForm,
    ExceptionFilterForm,
)
from findings.models import Suppression, SuppressionEvent
from findings.views import (
    Crumb,
    _accounts,
    _get_account_for_user,
    _get_control,
    _get_resource_for_user,
    _render,
)
from findings.views_exports import _organization_label, csv_response

PER_PAGE = 50
Scope = Suppression.Scope
#: Audit-log field names as a reader knows them.
FIELD_LABELS = {
    "scope": "Covers",
    "target": "Target",
    "reason": "Reason",
    "approver": "Approver",
    "expires_at": "Expiry",
}


# -- Scope helpers -----------------------------------------------------------------


def _visible(request: HttpRequest) -> QuerySet:
    return Suppression.objects.for_user(request.user)


def _with_targets(exceptions: QuerySet) -> QuerySet:
    return exceptions.select_related(
        "organization", "account", "resource", "owner", "revoked_by"
    )


def _get_exception_for_user(request: HttpRequest, pk: int) -> Suppression:
    return get_object_or_404(_with_targets(_visible(request)), pk=pk)


def _require_manager(request: HttpRequest, suppression: Suppression) -> None:
    if not suppressions.may_manage(
        request.user, suppression.scope, suppression.account_id
    ):
        raise PermissionDenied("You may not change this exception.")


def _filter_accounts(request: HttpRequest) -> QuerySet:
    """The user's accounts for the filters' account select: the one chosen is
    read as an instance, with only the fields the filter uses."""
    return _accounts(request).only("name", "account_id", "organization_id")


def _control_ids(exceptions: QuerySet) -> list[str]:
    return list(
        exceptions.order_by("control_id")
        .values_list("control_id", flat=True)
        .distinct()
    )


def _crumbs(*extra: Crumb) -> list[Crumb]:
    return [
        Crumb("Overview", reverse("findings:overview")),
        Crumb("Exceptions", reverse("findings:exceptions")),
        *extra,
    ]


def _page(request: HttpRequest, rows: QuerySet):
    return Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# -- The list and its export --------------------------------------------------------


def _filtered_exceptions(request: HttpRequest) -> tuple[QuerySet, ExceptionFilterForm]:
    """The list's rows: visible, filtered by the query string, soonest first."""
    visible = _visible(request)
    form = ExceptionFilterForm(
        request.GET,
        accounts=_filter_accounts(request),
        control_ids=_control_ids(visible),
    )
    rows = form.filter(_with_targets(visible), timezone.now())
    return rows.order_by("expires_at", "pk"), form


def exception_list(request: HttpRequest) -> HttpResponse:
    rows, form = _filtered_exceptions(request)
    query = _query_without_page(request)
    context = {
        "page": _page(request, rows),
        "form": form,
        "filtered": form.filtered,
        "query": query,
        "states": suppressions.STATES,
        "may_create_any": request.user.is_staff
        or bool(suppressions.administered_account_ids(request.user)),
        "crumbs": [Crumb("Overview", reverse("findings:overview"))],
    }
    return _render(
        request,
        "findings/exceptions.html",
        "findings/_exceptions.html",
        context,
        "exceptions",
    )


#: The export's columns: the list's, with full text and every timestamp.
CSV_COLUMNS = [
    "id",
    "state",
    "control_id",
    "control_title",
    "scope",
    "organization",
    "account_id",
    "account_name",
    "resource_type",
    "resource_id",
    "resource_arn",
    "reason",
    "approver",
    "owner",
    "created_at",
    "expires_at",
    "revoked_at",
    "revoked_by",
]


def _csv_rows(rows: QuerySet):
    for s in rows.iterator(chunk_size=500):
        control = s.control
        yield [
            s.pk,
            s.state,
            s.control_id,
            control.title if control else "",
            s.scope,
            s.organization.name,
            s.account.account_id if s.account else "",
            s.account.name if s.account else "",
            s.resource.resource_type if s.resource else "",
            s.resource.resource_id if s.resource else "",
            s.resource.arn if s.resource else "",
            s.reason,
            s.approver,
            s.owner.get_username() if s.owner else "",
            s.created_at,
            s.expires_at,
            s.revoked_at,
            s.revoked_by.get_username() if s.revoked_by else "",
        ]


def exceptions_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The list's rows (every page) with the same filters."""
    rows, _form = _filtered_exceptions(request)
    return csv_response(
        request,
        CSV_COLUMNS,
        _csv_rows(rows),
        organization=_organization_label(_accounts(request)),
        subject="exceptions",
    )


# -- One exception -----------------------------------------------------------------


def _findings_url(suppression: Suppression) -> str:
    """Where the findings in an exception's scope are listed."""
    control_url = reverse("findings:control", args=[suppression.control_id])
    if suppression.scope == Scope.RESOURCE:
        return (
            reverse("findings:resource", args=[suppression.resource_id])
            + f"?control={suppression.control_id}"
        )
    if suppression.scope == Scope.ACCOUNT:
        return f"{control_url}?account={suppression.account_id}"
    return control_url


def _event_rows(events) -> list[SuppressionEvent]:
    """Events with their changes as (label, old, new) rows for the template."""
    for event in events:
        # jsonb keeps no key order: show the fields in the form's order.
        order = list(FIELD_LABELS)
        names = sorted(
            event.changes, key=lambda n: order.index(n) if n in order else len(order)
        )
        event.change_rows = [
            (FIELD_LABELS.get(name, name), *event.changes[name]) for name in names
        ]
    return events


def exception_detail(request: HttpRequest, pk: int) -> HttpResponse:
    suppression = _get_exception_for_user(request, pk)
    now = timezone.now()
    events = suppression.events.select_related("actor").order_by("-at", "-pk")
    state = suppressions.state_of(suppression, now)
    context = {
        "exception": suppression,
        "state": state,
        "state_label": suppressions.STATES[state],
        "in_force": suppression.is_active(now),
        "may_manage": suppressions.may_manage(
            request.user, suppression.scope, suppression.account_id
        ),
        "in_scope_count": suppressions.findings_in_scope(suppression)
        .filter(account__in=_accounts(request))
        .count(),
        "findings_url": _findings_url(suppression),
        "events": _event_rows(list(events)),
        "crumbs": _crumbs(),
        "crumb": f"#{suppression.pk}",
    }
    return render(request, "findings/exception.html", context)


def exception_edit(request: HttpRequest, pk: int) -> HttpResponse:
    suppression = _get_exception_for_user(request, pk)
    _require_manager(request, suppression)
    if not suppression.is_active(timezone.now()):
        messages.info(
            request, "This exception has ended and cannot change; create a new one."
        )
        return HttpResponseRedirect(reverse("findings:exception", args=[pk]))
    form = ExceptionEditForm.for_exception(
        suppression, request.POST if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = suppressions.change(
                suppression, actor=request.user, **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Exception updated." if changed else "Nothing changed.",
            )
            return HttpResponseRedirect(reverse("findings:exception", args=[pk]))
    context = {
        "exception": suppression,
        "form": form,
        "crumbs": _crumbs(
            Crumb(f"#{suppression.pk}", reverse("findings:exception", args=[pk]))
        ),
    }
    return render(request, "findings/exception_edit.html", context)


@require_POST
def exception_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    suppression = _get_exception_for_user(request, pk)
    _require_manager(request, suppression)
    if suppressions.revoke(suppression, actor=request.user):
        messages.success(request, "Exception revoked: its findings count as failing.")
    return HttpResponseRedirect(reverse("findings:exception", args=[pk]))


# -- Create ------------------------------------------------------------------------


def _target(request: HttpRequest) -> tuple[Control, Resource | None, Account | None]:
    """What ``?control=&resource=`` or ``&account=`` names, within the user's
    scope (404 otherwise)."""
    control = _get_control(request.GET.get("control", ""))
    resource = account = None
    for name in ("resource", "account"):
        value = request.GET.get(name, "")
        if value and not value.isdigit():
            raise Http404(f"No such {name}.")
    if request.GET.get("resource"):
        resource = _get_resource_for_user(request, int(request.GET["resource"]))
        account = resource.account
    elif request.GET.get("account"):
        account = _get_account_for_user(request, int(request.GET["account"]))
    return control, resource, account


def _candidates(
    control: Control, resource: Resource | None, account: Account | None
) -> list[Suppression]:
    """Unsaved exceptions for each scope the query named, narrowest first.

    Opened from a control alone, only the whole control remains, in an
    organization the form asks for.
    """
    base = {"control_id": control.id}
    found = []
    if resource is not None:
        found.append(Suppression(scope=Scope.RESOURCE, resource=resource, **base))
    if account is not None:
        found.append(Suppression(scope=Scope.ACCOUNT, account=account, **base))
    found.append(Suppression(scope=Scope.CONTROL, **base))
    for candidate in found:
        if account is not None:
            candidate.organization = account.organization
        if candidate.scope != Scope.CONTROL:
            candidate.account = account
    return found


def _option_label(candidate: Suppression, failing: int | None) -> str:
    if candidate.scope == Scope.RESOURCE:
        what = f"This resource: {candidate.resource}"
    elif candidate.scope == Scope.ACCOUNT:
        what = f"The whole account: {candidate.account}"
    elif candidate.organization_id is None:
        return "Every account of the organization chosen below"
    else:
        what = f"Every account of {candidate.organization}"
    return f"{what} ({failing} failing or erroring now)"


def exception_new(request: HttpRequest) -> HttpResponse:
    control, resource, account = _target(request)
    allowed = [
        c
        for c in _candidates(control, resource, account)
        if suppressions.may_manage(request.user, c.scope, c.account_id)
    ]
    if not allowed:
        raise PermissionDenied("You may not create an exception here.")
    options = [
        (c, suppressions.findings_in_scope(c).count() if c.organization_id else None)
        for c in allowed
    ]
    data = request.POST if request.method == "POST" else None
    form = ExceptionCreateForm(
        data,
        scopes=[(c.scope, _option_label(c, n)) for c, n in options],
        organizations=(
            None if account else dashboard.organizations_for(_accounts(request))
        ),
    )
    if data is not None and form.is_valid():
        chosen = next(c for c in allowed if c.scope == form.cleaned_data["scope"])
        try:
            created = suppressions.create(
                actor=request.user,
                control_id=control.id,
                scope=chosen.scope,
                resource=chosen.resource,
                account=chosen.account,
                organization=(
                    chosen.organization
                    if chosen.organization_id
                    else form.cleaned_data.get("organization")
                ),
                reason=form.cleaned_data["reason"],
                approver=form.cleaned_data["approver"],
                expires_at=form.expires_at,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Exception created: the findings it covers now count as "
                "suppressed, not failing.",
            )
            return HttpResponseRedirect(
                reverse("findings:exception", args=[created.pk])
            )
    context = {
        "control": control,
        "resource": resource,
        "account": account,
        "form": form,
        "options": options,
        "crumbs": _crumbs(),
    }
    return render(request, "findings/exception_new.html", context)


# -- The audit log -----------------------------------------------------------------


def exception_log(request: HttpRequest) -> HttpResponse:
    visible = _visible(request)
    form = EventFilterForm(
        request.GET,
        accounts=_filter_accounts(request),
        control_ids=_control_ids(visible),
    )
    events = form.filter(
        SuppressionEvent.objects.filter(suppression__in=visible)
    ).select_related(
        "actor",
        "suppression__organization",
        "suppression__account",
        "suppression__resource",
    )
    page = _page(request, events.order_by("-at", "-pk"))
    _event_rows(page.object_list)
    context = {
        "page": page,
        "form": form,
        "filtered": form.filtered,
        "query": _query_without_page(request),
        "crumbs": _crumbs(),
    }
    return _render(
        request,
        "findings/exceptions_log.html",
        "findings/_exception_events.html",
        context,
        "exception-events",
    )
