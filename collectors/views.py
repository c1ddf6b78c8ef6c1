"""Scan history, the units of one scan, and operating scans.

A scan is visible to a user who may see at least one account of its
organization, and only those accounts' units are shown (``_get_scan_for_user``
and ``_visible_units``). htmx filter and paging requests get only the units
table; the progress of a scan in progress is polled as its own partial.

Starting, cancelling, resuming and scheduling scans is organization-wide, so
it is for staff and for admins of a team holding an account of the
organization (``_get_organization_to_operate``): others who can see it get 403.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_celery_beat.models import PeriodicTask
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from accounts import audit
from accounts.models import Account, Membership, Organization
from collectors import schedule
from collectors.base import COLLECTORS
from collectors.forms import ScheduleForm, ScopeForm
from collectors.models import UNIT_COUNTERS, Scan, ScanUnit
from collectors.pipeline import UNFINISHED, ScanError, cancel_scan
from collectors.recovery import (
    RESUMABLE_STATUSES,
    NotResumable,
    resume_scan,
    why_not_resumable,
)

SCANS_PER_PAGE = 50
UNITS_PER_PAGE = 50  # as every other list: half the rows to render and sort
RECENT_SCHEDULED = 10


class UnitFilterForm(forms.Form):
    """The query-string filter of the units table."""

    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "All units"),
            (ScanUnit.Status.FAILED, "Failed only"),
            (ScanUnit.Status.OK, "Collected"),
            (ScanUnit.Status.SKIPPED, "Skipped"),
        ],
    )
    service = forms.ChoiceField(required=False, choices=[("", "All services")])

    def __init__(self, data=None, *, services: list[str], **kwargs):
        super().__init__(data, **kwargs)
        self.fields["service"].choices = [("", "All services")] + [
            (s, s) for s in services
        ]

    def filter(self, units: QuerySet) -> QuerySet:
        if not self.is_valid():
            return units
        if status := self.cleaned_data.get("status"):
            units = units.filter(status=status)
        if service := self.cleaned_data.get("service"):
            units = units.filter(service=service)
        return units

    def count(self, counts: dict[str, int]) -> int | None:
        """How many units ``filter`` keeps, read from the scan's unit counts
        when a status (or nothing) is chosen; None when it takes a COUNT."""
        if not self.is_valid():
            return counts["total"]
        if self.cleaned_data.get("service"):
            return None
        return counts[self.cleaned_data.get("status") or "total"]


class _UnitPaginator(Paginator):
    """A scan's units (ordered as the page lists them), each page read account
    by account in ``accounts``' order (``ScanUnitQuerySet.page_by_account``)
    instead of sorting them all; told its count by the caller when it knows
    it: no COUNT(*)."""

    def __init__(
        self, units: QuerySet, per_page: int, *, count: int | None, accounts: list[int]
    ) -> None:
        super().__init__(units, per_page)
        self.accounts = accounts
        if count is not None:
            self.count = count  # shadows the cached property

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        units = self.object_list.page_by_account(self.accounts, bottom, top - bottom)
        return self._get_page(units, number, self)


def _accounts(request: HttpRequest) -> QuerySet:
    return Account.objects.for_user(request.user)


def _visible_organizations(request: HttpRequest) -> QuerySet:
    if request.user.is_staff:
        return Organization.objects.all()  # also those without accounts yet
    return Organization.objects.filter(
        pk__in=_accounts(request).values("organization_id")
    )


def _operated_organizations(request: HttpRequest) -> QuerySet:
    """Organizations the user may scan now, cancel and schedule."""
    if request.user.is_staff:
        return Organization.objects.all()
    administered = Account.objects.filter(
        teams__membership__user=request.user,
        teams__membership__role=Membership.Role.ADMIN,
    )
    return Organization.objects.filter(pk__in=administered.values("organization_id"))


def _check_operates(request: HttpRequest, organization: Organization) -> None:
    if not _operated_organizations(request).filter(pk=organization.pk).exists():
        raise PermissionDenied(
            "Only staff and team admins may start, cancel, resume or schedule scans."
        )


def _get_organization_to_operate(request: HttpRequest, pk: int) -> Organization:
    organization = get_object_or_404(_visible_organizations(request), pk=pk)
    _check_operates(request, organization)
    return organization


def _visible_scans(request: HttpRequest) -> QuerySet:
    return Scan.objects.filter(organization__in=_visible_organizations(request))


def _sees_every_account(
    request: HttpRequest, organization: str = "pk"
) -> Exists | Value:
    """Whether the user sees every account of the organization ``organization``
    names (an outer reference), as an expression."""
    if request.user.is_staff:
        return Value(True)
    hidden = Account.objects.filter(organization=OuterRef(organization)).exclude(
        pk__in=_accounts(request).values("pk")
    )
    return ~Exists(hidden)


def _whole_organizations(request: HttpRequest) -> list[int]:
    """Ids of the organizations whose every account the user sees."""
    return list(
        _visible_organizations(request)
        .filter(_sees_every_account(request))
        .values_list("pk", flat=True)
    )


def _counted(request: HttpRequest, whole: list[int] | None = None) -> Q:
    """Scans whose unit counters the user may read instead of counting units:
    ended and counted, of an organization whose every account the user sees
    (the counters cover them all; others count the units they may see).

    ``whole``: ``_whole_organizations``, read first for a query over many
    scans (a subquery per row, and in each expression, would cost more than
    the query); without it, a subquery per scan, for one scan.
    """
    counted = Q(counted_at__isnull=False) & ~Q(status__in=Scan.ACTIVE_STATUSES)
    if request.user.is_staff:
        return counted
    if whole is None:
        return counted & Q(_sees_every_account(request, "organization_id"))
    return counted & Q(organization_id__in=whole)


def _reads_counters(
    request: HttpRequest, whole: list[int] | None = None
) -> ExpressionWrapper:
    """``counted`` for each scan: whether the page reads its counters."""
    return ExpressionWrapper(_counted(request, whole), output_field=BooleanField())


#: The scan list's unit columns and the counters they read (UNIT_COUNTERS).
LIST_COLUMNS = {
    "units_total": "total",
    "units_ok": "ok",
    "units_failed": "failed",
    "units_skipped": "skipped",
}


def _visible_unit_counts(
    request: HttpRequest, scans: list[int], columns: dict[str, Aggregate]
) -> dict[int, dict[str, int]]:
    """``columns`` (name: aggregate of a scan's units) of each of ``scans``
    (pks), over the units of the accounts the user sees, in one query; a
    scan without such units is left out."""
    if not scans:
        return {}
    rows = (
        ScanUnit.objects.filter(scan__in=scans, account__in=_accounts(request))
        .order_by()
        .values("scan_id")
        .annotate(**columns)
    )
    return {row.pop("scan_id"): row for row in rows}


def _set_unit_columns(
    request: HttpRequest, scans: list[Scan], active: list[Scan]
) -> None:
    """``LIST_COLUMNS`` on each of the page's ``scans`` (annotated
    ``counted``): its counters, or for the others (in progress, partly
    visible) their units counted; ``units_done`` too on the ``active`` ones
    (progress bars). One query for all the units counted."""
    columns = {column: UNIT_COUNTERS[name] for column, name in LIST_COLUMNS.items()}
    columns["units_done"] = Count("pk", filter=~Q(status__in=UNFINISHED))
    uncounted = [scan for scan in scans if not scan.counted] + active
    counts = _visible_unit_counts(request, [scan.pk for scan in uncounted], columns)
    for scan in uncounted:
        for column in columns:
            setattr(scan, column, counts.get(scan.pk, {}).get(column) or 0)
    for scan in scans:
        if scan.counted:
            for column, name in LIST_COLUMNS.items():
                setattr(scan, column, getattr(scan, f"counted_{name}"))


def counted_scans(request: HttpRequest, chunk: int = 500) -> Iterator[Scan]:
    """Every scan the user sees, newest first, with ``LIST_COLUMNS`` set as the
    scans page sets them (scans.csv); read and counted a chunk at a time."""
    scans = (
        _visible_scans(request)
        .select_related("organization")
        .annotate(counted=_reads_counters(request, _whole_organizations(request)))
        .order_by("-started_at", "-pk")
    )
    batch: list[Scan] = []
    for scan in scans.iterator(chunk_size=chunk):
        batch.append(scan)
        if len(batch) == chunk:
            _set_unit_columns(request, batch, [])
            yield from batch
            batch = []
    _set_unit_columns(request, batch, [])
    yield from batch


def _get_scan_for_user(request: HttpRequest, pk: int) -> Scan:
    return get_object_or_404(
        _visible_scans(request).select_related("organization", "requested_by"), pk=pk
    )


def _visible_units(request: HttpRequest, scan: Scan) -> QuerySet:
    return ScanUnit.objects.filter(scan=scan, account__in=_accounts(request))


@dataclass(frozen=True, slots=True)
class OrganizationRow:
    """One organization on the scans page: its schedule and scan in progress."""

    organization: Organization
    schedule: PeriodicTask | None
    next_run: datetime | None
    active: Scan | None
    can_operate: bool
    sees_every_account: bool


def _organization_rows(request: HttpRequest) -> list[OrganizationRow]:
    """Three queries whatever the number of organizations. The units of the
    scans in progress are counted with the page's (``_set_unit_columns``)."""
    operated = _operated_organizations(request).values("pk")
    organizations = list(
        _visible_organizations(request).annotate(
            can_operate=ExpressionWrapper(
                Q(pk__in=operated), output_field=BooleanField()
            ),
            sees_every_account=_sees_every_account(request),
        )
    )
    ids = [o.pk for o in organizations]
    schedules = schedule.schedules_for(ids)
    by_organization = {
        scan.organization_id: scan
        for scan in Scan.objects.filter(
            organization__in=ids, status__in=Scan.ACTIVE_STATUSES
        )
    }
    return [
        OrganizationRow(
            organization=o,
            schedule=schedules.get(o.pk),
            next_run=schedule.next_run(schedules.get(o.pk)),
            active=by_organization.get(o.pk),
            can_operate=o.can_operate,
            sees_every_account=o.sees_every_account,
        )
        for o in organizations
    ]


def scan_list(request: HttpRequest) -> HttpResponse:
    organizations = _organization_rows(request)
    whole = [row.organization.pk for row in organizations if row.sees_every_account]
    # _visible_scans, through the organizations just read: the scan queries
    # carry their ids, not the nested subqueries of the user's scope.
    visible = [row.organization.pk for row in organizations]
    scans = (
        Scan.objects.filter(organization_id__in=visible)
        .select_related("organization", "requested_by")
        .annotate(
            counted=_reads_counters(request, whole),
            duration=ExpressionWrapper(
                F("finished_at") - F("started_at"), output_field=DurationField()
            ),
        )
        .order_by("-started_at", "-pk")
    )
    page = Paginator(scans, SCANS_PER_PAGE).get_page(request.GET.get("page"))
    active = [row.active for row in organizations if row.active]
    _set_unit_columns(request, list(page.object_list), active)
    context = {"page": page, "organizations": organizations}
    return render(request, "collectors/scans.html", context)


def _htmx_target(request: HttpRequest) -> str | None:
    """The element an htmx request swaps; None for a full page load."""
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return htmx.target


def _progress_response(request: HttpRequest, context: dict) -> HttpResponse:
    """The polled progress, with the status badge and the units table out of
    band; once the scan is done, a full reload (message and actions change)."""
    if context["scan"].is_done:
        response = HttpResponseClientRefresh()
    else:
        response = render(request, "collectors/_progress_poll.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _scan_counts(scan: Scan, units: QuerySet) -> dict[str, int]:
    """The scan page's unit counts: the scan's counters when the user may read
    them (``scan.counted``, from ``_counted``), else its visible units counted."""
    if scan.counted:
        return {**scan.counters(), "done": scan.counted_total, "running": 0}
    return units.aggregate(
        **UNIT_COUNTERS,
        done=Count("pk", filter=~Q(status__in=UNFINISHED)),
        running=Count("pk", filter=Q(status=ScanUnit.Status.RUNNING)),
    )


def _unit_services(scan: Scan, units: QuerySet) -> list[str]:
    # A counted scan's units are every account x service it planned.
    if scan.counted and scan.services:
        return sorted(scan.services)
    return sorted(units.order_by().values_list("service", flat=True).distinct())


def scan_detail(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = get_object_or_404(
        _visible_scans(request)
        .select_related("organization", "requested_by")
        .annotate(counted=_reads_counters(request)),
        pk=scan_id,
    )
    units = _visible_units(request, scan)
    counts = _scan_counts(scan, units)
    target = _htmx_target(request)
    form = UnitFilterForm(request.GET, services=_unit_services(scan, units))
    failed_first = Case(
        When(status=ScanUnit.Status.FAILED, then=Value(0)), default=Value(1)
    )
    filtered = (
        form.filter(units)
        .select_related("account")
        .order_by(
            failed_first, "account__name", "account__account_id", "service", "region"
        )
    )
    # Units come account by account, by name: the order of the walk.
    accounts = (
        _accounts(request)
        .filter(organization_id=scan.organization_id)
        .order_by("name", "account_id")
        .values_list("pk", flat=True)
    )
    paginator = _UnitPaginator(
        filtered, UNITS_PER_PAGE, count=form.count(counts), accounts=list(accounts)
    )
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    may_resume = scan.status in RESUMABLE_STATUSES and counts["resumable"]
    can_operate = (scan.is_active or may_resume) and _operated_organizations(
        request
    ).filter(pk=scan.organization_id).exists()
    context = {
        "scan": scan,
        "counts": counts,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "can_operate": can_operate and scan.is_active,
        "can_resume": can_operate and may_resume and not why_not_resumable(scan),
    }
    if target == "scan-progress":
        return _progress_response(request, context)
    partial = target == "units"
    template = "collectors/_units.html" if partial else "collectors/scan.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _get_organization_for_staff(request: HttpRequest, pk: int) -> Organization:
    # Scope is organization-wide, so only staff may change it; others get 404
    # like any object outside their scope.
    if not request.user.is_staff:
        raise Http404("No such organization.")
    return get_object_or_404(Organization, pk=pk)


def organization_scope(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _get_organization_for_staff(request, pk)
    if request.method == "POST":
        form = ScopeForm(request.POST)
        if form.is_valid():
            before = audit.scope_of(organization)
            organization.services = form.cleaned_data["services"]
            organization.regions = form.cleaned_data["regions"]
            organization.save(update_fields=["services", "regions"])
            audit.record_change(
                audit.Action.SCOPE_CHANGED,
                target=organization,
                before=before,
                after=audit.scope_of(organization),
                actor=request.user,
                request=request,
            )
            messages.success(
                request,
                f"Scope of {organization.name} saved; it applies from the next scan.",
            )
            return redirect("collectors:scope", pk=organization.pk)
    else:
        form = ScopeForm(
            initial={
                "services": organization.services or sorted(COLLECTORS),
                "regions": organization.regions,
            }
        )
    left_out = sorted(set(COLLECTORS) - set(organization.services or COLLECTORS))
    context = {"organization": organization, "form": form, "left_out": left_out}
    return render(request, "collectors/scope.html", context)


# -- Operating scans: scan now, cancel, schedule --------------------------------------


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect that htmx follows as a page load (the forms also work without)."""
    if getattr(request, "htmx", None):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _back(request: HttpRequest) -> str:
    """The page the form was posted from (a local URL), else the scans page."""
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("collectors:scans")


@require_POST
def scan_now(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _get_organization_to_operate(request, pk)
    try:
        scan = schedule.start_scan_unless_busy(
            organization.pk,
            trigger=Scan.Trigger.MANUAL,
            user=request.user,
            background=True,
        )
    except schedule.ScanBusy as busy:
        messages.error(
            request,
            f"Not started: {busy} Scans of an organization never overlap; "
            "wait for it to finish or cancel it.",
        )
        return _redirect(request, _back(request))
    except ScanError as exc:
        messages.error(request, f"Not started: {exc}.")
        return _redirect(request, _back(request))
    messages.success(request, f"Scan #{scan.pk} of {organization.name} started.")
    return _redirect(request, scan.get_absolute_url())


@require_POST
def scan_cancel(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = _get_scan_for_user(request, scan_id)
    _check_operates(request, scan.organization)
    if cancel_scan(scan.pk, by=request.user.get_username()):
        messages.success(
            request,
            f"Scan #{scan.pk} cancelled. Units not collected yet will not be, "
            "and the scan is not evaluated.",
        )
    else:
        messages.info(
            request,
            f"Scan #{scan.pk} had already ended "
            f"({scan.get_status_display().lower()}): nothing to cancel.",
        )
    return _redirect(request, scan.get_absolute_url())


@require_POST
def scan_resume(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = _get_scan_for_user(request, scan_id)
    _check_operates(request, scan.organization)
    try:
        count = resume_scan(scan.pk, by=request.user.get_username(), background=True)
    except NotResumable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Scan #{scan.pk} resumed: {count} units are being collected again, "
            "then the scan is evaluated again.",
        )
    return _redirect(request, scan.get_absolute_url())


def organization_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _get_organization_to_operate(request, pk)
    task = schedule.schedule_of(organization)
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            before = _schedule_initial(task)
            task = schedule.save_schedule(
                organization,
                form.cleaned_data["cron"],
                form.cleaned_data["timezone"],
                enabled=form.cleaned_data["enabled"],
            )
            audit.record_change(
                audit.Action.SCHEDULE_CHANGED,
                target=organization,
                before=before,
                after=_schedule_initial(task),
                actor=request.user,
                request=request,
            )
            messages.success(request, _saved_message(organization, task))
            return redirect("collectors:schedule", pk=organization.pk)
    else:
        form = ScheduleForm(initial=_schedule_initial(task))
    recent = Scan.objects.filter(
        organization=organization, trigger=Scan.Trigger.SCHEDULED
    ).order_by("-started_at")[:RECENT_SCHEDULED]
    context = {
        "organization": organization,
        "form": form,
        "task": task,
        "next_run": schedule.next_run(task),
        "cron": schedule.cron_expression(task.crontab) if task and task.crontab else "",
        "recent": recent,
        "active": Scan.objects.filter(
            organization=organization, status__in=Scan.ACTIVE_STATUSES
        ).first(),
    }
    return render(request, "collectors/schedule.html", context)


def _schedule_initial(task: PeriodicTask | None) -> dict:
    if task is None or task.crontab is None:
        # No beat entry (deleted in the admin): saving creates one.
        return {
            "cron": schedule.DEFAULT_CRON,
            "timezone": schedule.DEFAULT_TIMEZONE,
            "enabled": False,
        }
    return {
        "cron": schedule.cron_expression(task.crontab),
        "timezone": str(task.crontab.timezone),
        "enabled": task.enabled,
    }


def _saved_message(organization: Organization, task: PeriodicTask) -> str:
    if not task.enabled:
        return (
            f"Schedule of {organization.name} saved; scheduled scans are off "
            "(Scan now still works)."
        )
    when = schedule.next_run(task)
    return (
        f"Schedule of {organization.name} saved: {task.crontab.human_readable}. "
        f"Next scan {when:%Y-%m-%d %H:%M} UTC."
    )
