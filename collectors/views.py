"""Scan history and the units of one scan.

A scan is visible to a user who may see at least one account of its
organization, and only those accounts' units are shown (``_get_scan_for_user``
and ``_visible_units``). htmx filter and paging requests get only the units
table.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers

from accounts.models import Account, Organization
from collectors.base import COLLECTORS
from collectors.forms import ScopeForm
from collectors.models import Scan, ScanUnit

SCANS_PER_PAGE = 50
UNITS_PER_PAGE = 100


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


def _accounts(request: HttpRequest) -> QuerySet:
    return Account.objects.for_user(request.user)


def _visible_scans(request: HttpRequest) -> QuerySet:
    organizations = Organization.objects.filter(
        pk__in=_accounts(request).values("organization_id")
    )
    return Scan.objects.filter(organization__in=organizations)


def _get_scan_for_user(request: HttpRequest, pk: int) -> Scan:
    return get_object_or_404(
        _visible_scans(request).select_related("organization", "requested_by"), pk=pk
    )


def _visible_units(request: HttpRequest, scan: Scan) -> QuerySet:
    return ScanUnit.objects.filter(scan=scan, account__in=_accounts(request))


def _unit_counts(accounts: QuerySet) -> dict:
    """Per-scan unit counts over the visible accounts only."""
    mine = Q(units__account__in=accounts)
    return {
        "units_total": Count("units", filter=mine),
        "units_ok": Count("units", filter=mine & Q(units__status=ScanUnit.Status.OK)),
        "units_failed": Count(
            "units", filter=mine & Q(units__status=ScanUnit.Status.FAILED)
        ),
        "units_skipped": Count(
            "units", filter=mine & Q(units__status=ScanUnit.Status.SKIPPED)
        ),
    }


def scan_list(request: HttpRequest) -> HttpResponse:
    scans = (
        _visible_scans(request)
        .select_related("organization")
        .annotate(
            **_unit_counts(_accounts(request)),
            duration=ExpressionWrapper(
                F("finished_at") - F("started_at"), output_field=DurationField()
            ),
        )
        .order_by("-started_at")
    )
    page = Paginator(scans, SCANS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "collectors/scans.html", {"page": page})


def scan_detail(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = _get_scan_for_user(request, scan_id)
    units = _visible_units(request, scan)
    counts = units.aggregate(
        total=Count("pk"),
        ok=Count("pk", filter=Q(status=ScanUnit.Status.OK)),
        failed=Count("pk", filter=Q(status=ScanUnit.Status.FAILED)),
        skipped=Count("pk", filter=Q(status=ScanUnit.Status.SKIPPED)),
        api_calls=Sum("api_calls"),
        resources=Sum("resources"),
    )
    services = sorted(set(units.values_list("service", flat=True).distinct()))
    form = UnitFilterForm(request.GET, services=services)
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
    page = Paginator(filtered, UNITS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "scan": scan,
        "counts": counts,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "duration": (scan.finished_at - scan.started_at) if scan.finished_at else None,
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and htmx.target == "units" and not htmx.history_restore_request
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
            organization.services = form.cleaned_data["services"]
            organization.regions = form.cleaned_data["regions"]
            organization.save(update_fields=["services", "regions"])
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
