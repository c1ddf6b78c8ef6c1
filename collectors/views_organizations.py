"""Organizations and how to connect one: the audit role, the commands that
deploy it, discovery, and a connection test.

Every organization a page shows is one the user can see through their
accounts (``onboarding.visible_organizations``; staff: all). The onboarding
pages show the ExternalId, so only staff and team admins of the organization
get them (``_get_organization_for_admin``): others get 404 when they cannot
see the organization at all, 403 when they can.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_POST

from accounts import onboarding
from accounts.forms import ConnectionTestForm
from accounts.models import Account, Organization
from collectors.models import Scan

HISTORY_LENGTH = 20


def _accounts(request: HttpRequest) -> QuerySet:
    return Account.objects.for_user(request.user)


def _get_organization_for_admin(request: HttpRequest, pk: int) -> Organization:
    organization = get_object_or_404(
        onboarding.visible_organizations(request.user), pk=pk
    )
    if not request.user.is_staff and not (
        onboarding.administered_organizations(request.user).filter(pk=pk).exists()
    ):
        raise PermissionDenied("Only team admins of the organization connect it.")
    return organization


def organization_list(request: HttpRequest) -> HttpResponse:
    accounts = _accounts(request)
    in_scope = Q(accounts__in=accounts)
    organizations = list(
        onboarding.visible_organizations(request.user)
        .annotate(
            account_count=Count("accounts", filter=in_scope),
            discovered_at=Max("accounts__discovered_at", filter=in_scope),
        )
        .order_by("name")
    )
    # Newest scan and newest visible test per organization, one query each.
    scans = {
        s.organization_id: s
        for s in Scan.objects.filter(organization__in=organizations)
        .order_by("organization_id", "-started_at", "-pk")
        .distinct("organization_id")
    }
    tests = {
        t.organization_id: t
        for t in onboarding.connection_tests_for(request.user)
        .filter(organization__in=organizations)
        .order_by("organization_id", "-at", "-pk")
        .distinct("organization_id")
    }
    if request.user.is_staff:
        administered = {o.pk for o in organizations}
    else:
        administered = set(
            onboarding.administered_organizations(request.user).values_list(
                "pk", flat=True
            )
        )
    rows = [
        {
            "organization": o,
            "scan": scans.get(o.pk),
            "test": tests.get(o.pk),
            "can_connect": o.pk in administered,
        }
        for o in organizations
    ]
    return render(request, "organizations/organizations.html", {"rows": rows})


def _organization_accounts(request: HttpRequest, organization: Organization) -> list:
    """The organization's accounts in the user's scope, for the account
    choices, the history's names and the discovery summary alike."""
    return list(
        _accounts(request)
        .filter(organization=organization)
        .only("account_id", "name", "status", "discovered_at")
    )


def _test_form(
    request: HttpRequest, organization: Organization, accounts: list, data=None
) -> ConnectionTestForm:
    return ConnectionTestForm(
        data,
        organization=organization,
        accounts=[a for a in accounts if a.status != Account.Status.CLOSED],
        staff=request.user.is_staff,
    )


def _connection_context(
    request: HttpRequest,
    organization: Organization,
    accounts: list,
    form: ConnectionTestForm | None = None,
) -> dict:
    """The connection test card: the form, the latest result and the history."""
    history = list(
        onboarding.connection_tests_for(request.user)
        .filter(organization=organization)
        .select_related("tested_by")[:HISTORY_LENGTH]
    )
    names = {a.account_id: a.name for a in accounts}
    for test in history:
        test.account_name = names.get(test.aws_account_id, "")
    latest = history[0] if history else None
    return {
        "organization": organization,
        "form": form or _test_form(request, organization, accounts),
        "history": history,
        "latest": latest,
        "hint": onboarding.fix_hint(latest) if latest else "",
    }


def onboarding_page(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _get_organization_for_admin(request, pk)
    accounts = _organization_accounts(request, organization)
    discovered = [a.discovered_at for a in accounts if a.discovered_at]
    context = {
        **_connection_context(request, organization, accounts),
        "scanner_arn": onboarding.scanner_principal_arn(),
        "scanner_placeholder": onboarding.SCANNER_PLACEHOLDER,
        "template_text": onboarding.audit_role_template(organization),
        "template_filename": onboarding.template_filename(organization),
        "stack_set_commands": onboarding.stack_set_commands(organization),
        "management_stack_command": onboarding.management_stack_command(organization),
        "discovery_policy": onboarding.discovery_policy(),
        "discovery_command": onboarding.discovery_command(organization),
        "account_count": len(accounts),
        "discovered_at": max(discovered, default=None),
    }
    response = render(request, "organizations/onboarding.html", context)
    # The page carries the ExternalId: keep it out of shared caches.
    patch_cache_control(response, private=True, no_store=True)
    return response


def audit_role_template(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _get_organization_for_admin(request, pk)
    response = HttpResponse(
        onboarding.audit_role_template(organization),
        content_type="application/yaml; charset=utf-8",
    )
    filename = onboarding.template_filename(organization)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_POST
def connection_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Try the member role; htmx gets the result card, a plain form post is
    redirected back to the page (where the card shows the same result)."""
    organization = _get_organization_for_admin(request, pk)
    accounts = _organization_accounts(request, organization)
    form = _test_form(request, organization, accounts, request.POST)
    if form.is_valid():
        test = onboarding.run_connection_test(
            organization, form.cleaned_data["account"], request.user
        )
        form = None  # a fresh form, defaulting to the management account again
        if not request.htmx:
            outcome = "succeeded" if test.ok else "failed"
            messages.info(
                request, f"Connection test of {test.aws_account_id} {outcome}."
            )
            url = reverse("organizations:onboarding", args=[organization.pk])
            return redirect(f"{url}#connection-test")
    elif not request.htmx:
        messages.error(request, "Choose one of the listed accounts.")
        return redirect("organizations:onboarding", pk=organization.pk)
    response = render(
        request,
        "organizations/_connection_test.html",
        _connection_context(request, organization, accounts, form),
    )
    patch_vary_headers(response, ["HX-Request"])
    patch_cache_control(response, private=True, no_store=True)
    return response
