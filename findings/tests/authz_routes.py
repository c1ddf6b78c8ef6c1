"""How the authorization matrix (test_authorization.py) opens each URL pattern.

``ROUTES`` says, for every pattern that needs a login, how to name an object
of a given team, who may open it and which htmx partials it serves;
``PUBLIC`` lists the few patterns that need no login and why. A new URL
pattern fails ``test_every_url_pattern_is_in_the_matrix`` until it is here.

The builders receive the module's scene (``build_two_team_world()`` with
``add_two_team_exceptions()``) and one of its teams. Scans in progress are
started by their builder on first use, inside the test's savepoint: kept in
the scene, they would make "Scan now" refuse every other test's start.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import NamedTuple

from django.utils import timezone

from accounts.models import Account, Organization
from collectors.models import Scan
from findings import frameworks
from findings.tests.factories import CTL_S3, SEC_S3, make_running_scan


class Target(NamedTuple):
    kwargs: dict
    query: str = ""


Team = SimpleNamespace  # one of build_two_team_world().teams
TargetFor = Callable[[SimpleNamespace, Team], Target]

#: Partials of counts and charts only: no names to find, so the leak strings
#: cannot show they are scoped; the isolation test (other team deleted,
#: same response) does.
NUMBERS_ONLY = frozenset({"trend", "scan-progress"})


def fixed(**kwargs) -> TargetFor:
    """A target that is the same whoever asks (a list, a catalog page)."""
    return lambda world, team: Target(kwargs)


@dataclass(frozen=True)
class Route:
    """How the matrix opens one URL pattern.

    ``own`` builds the URL kwargs (and query string) naming ``team``'s object.
    ``other_status`` is what a member gets on the other team's target: 404, or
    200 where the query names an object a filter form ignores when not visible;
    None when the target does not depend on the team. ``shared`` is a target
    both teams open (an organization they share), which must still show each
    team only its own part. ``shows``: the response lists the team's accounts
    or data, so the team's own strings must appear (the leak check is not
    vacuous) and staff must see both teams'. ``access``: the least role that
    may open it (member, team admin, staff). ``hx_targets``: the element ids
    an htmx request may name to get a partial. ``offered_on``: the page (URL
    name and target) whose link or form leads here, shown only to those
    ``access`` lets in.
    """

    own: TargetFor
    other_status: int | None = 404
    shared: TargetFor | None = None
    shows: bool = False
    access: str = "member"
    methods: tuple[str, ...] = ("GET",)
    post_data: Callable[[SimpleNamespace, Team], dict] | None = None
    hx_targets: tuple[str, ...] = ()
    csv: bool = False  # an export: text/csv, never cached
    offered_on: tuple[str, TargetFor] | None = None


def _private_org(world, team) -> Target:
    return Target({"pk": team.private.org.pk})


def _shared_org(world, team) -> Target:
    return Target({"pk": world.org.pk})


def _org(world, team) -> Target:
    return Target({}, f"?org={team.private.org.pk}")


def _account(world, team) -> Target:
    return Target({"account_pk": team.account.pk})


def _account_filter(world, team) -> Target:
    """A list filtered to the team's account; a filter form ignores an account
    the user may not see (hence ``other_status=200``)."""
    return Target({}, f"?account={team.account.pk}")


def _resource(world, team) -> Target:
    return Target({"resource_pk": team.resource.pk})


def _private_resource(world, team) -> Target:
    return Target({"resource_pk": team.private.resource.pk})


def _scan(world, team) -> Target:
    return Target({"scan_id": team.private.scan.pk})


def _shared_scan(world, team) -> Target:
    return Target({"scan_id": world.new.pk})


def _in_progress(organization: Organization, accounts: list[Account]) -> Scan:
    """The organization's scan in progress, started on first use."""
    active = Scan.objects.filter(
        organization=organization, status__in=Scan.ACTIVE_STATUSES
    ).first()
    return active or make_running_scan(organization, accounts)


def _running_scan(world, team) -> Target:
    scan = _in_progress(team.private.org, [team.private.account])
    return Target({"scan_id": scan.pk})


def _shared_running_scan(world, team) -> Target:
    scan = _in_progress(world.org, [world.payments, world.data])
    return Target({"scan_id": scan.pk})


def _control(world, team) -> Target:
    return Target({"control_id": CTL_S3}, f"?account={team.account.pk}")


def _exception(world, team) -> Target:
    return Target({"pk": team.exception.pk})


def _new_exception(world, team) -> Target:
    """From a failing finding of the private organization: Acme's S3 findings
    are excepted already (``world.shared_exception``), so offer no new one."""
    return Target({}, f"?control={CTL_S3}&resource={team.private.resource.pk}")


def _exception_fields(world, team) -> dict:
    expires_on = (timezone.now() + timedelta(days=30)).date()
    return {
        "reason": "Reviewed with the owners",
        "approver": "CISO",
        "expires_on": expires_on.isoformat(),
    }


FRAMEWORK = next(iter(frameworks.FRAMEWORKS))

ROUTES: dict[str, Route] = {
    # Organizations and onboarding (collectors/urls_organizations.py): the
    # onboarding pages show the ExternalId, so team admins and staff only.
    "organizations:organizations": Route(fixed(), other_status=None, shows=True),
    "organizations:onboarding": Route(
        _private_org,
        shared=_shared_org,
        shows=True,
        access="admin",
        offered_on=("organizations:organizations", fixed()),
    ),
    "organizations:audit_role_template": Route(
        _private_org, shared=_shared_org, access="admin"
    ),
    "organizations:connection_test": Route(
        _private_org,
        access="admin",
        methods=("POST",),
        # Not one of the listed accounts: refused before any AWS call.
        post_data=lambda world, team: {"account": ""},
    ),
    # Scans (collectors/urls.py). Operating scans is organization-wide: team
    # admins of an organization's account and staff; scope is staff only.
    "collectors:scans": Route(fixed(), other_status=None, shows=True),
    "collectors:scan": Route(
        _running_scan,
        shared=_shared_running_scan,
        shows=True,
        hx_targets=("units", "scan-progress"),
    ),
    "collectors:cancel": Route(
        _running_scan,
        access="admin",
        methods=("POST",),
        offered_on=("collectors:scan", _running_scan),
    ),
    # A finished scan: refused (with a message) unless it has gaps to collect.
    "collectors:resume": Route(_scan, access="admin", methods=("POST",)),
    "collectors:scan_now": Route(
        _private_org,
        access="admin",
        methods=("POST",),
        offered_on=("collectors:scans", fixed()),
    ),
    "collectors:schedule": Route(
        _private_org,
        shared=_shared_org,
        access="admin",
        methods=("GET", "POST"),
        post_data=lambda world, team: {
            "cron": "30 6 * * mon-fri",
            "timezone": "UTC",
            "enabled": "on",
        },
        offered_on=("collectors:scans", fixed()),
    ),
    "collectors:scope": Route(
        _private_org,
        access="staff",
        methods=("GET", "POST"),
        post_data=lambda world, team: {"services": ["s3"], "regions": []},
        offered_on=("collectors:scans", fixed()),
    ),
    # Dashboard pages (findings/urls.py)
    "findings:overview": Route(_org, shared=fixed(), shows=True, hx_targets=("trend",)),
    "findings:accounts": Route(
        _org, shared=fixed(), shows=True, hx_targets=("accounts",)
    ),
    "findings:section": Route(fixed(slug=SEC_S3), other_status=None),
    "findings:control": Route(
        _control,
        other_status=200,
        shared=fixed(control_id=CTL_S3),
        shows=True,
        hx_targets=("findings", "trend"),
    ),
    "findings:account": Route(_account, shows=True, hx_targets=("findings", "trend")),
    "findings:resource": Route(_resource, shows=True),
    "findings:resource_diff": Route(_resource, shows=True),
    "findings:frameworks": Route(fixed(), other_status=None),
    "findings:framework": Route(fixed(slug=FRAMEWORK), other_status=None),
    # The findings explorer (findings/views_explorer.py)
    "findings:explorer": Route(
        _account_filter,
        other_status=200,
        shared=fixed(),
        shows=True,
        hx_targets=("explorer",),
    ),
    "findings:explorer_csv": Route(
        _account_filter, other_status=200, shared=fixed(), shows=True, csv=True
    ),
    # Exceptions (findings/views_exceptions.py): seen by the teams of their
    # accounts, changed by those teams' admins; control-wide ones by staff.
    "findings:exceptions": Route(
        _account_filter,
        other_status=200,
        shared=fixed(),
        shows=True,
        hx_targets=("exceptions",),
    ),
    "findings:exceptions_csv": Route(
        _account_filter, other_status=200, shared=fixed(), shows=True, csv=True
    ),
    "findings:exceptions_log": Route(
        _account_filter,
        other_status=200,
        shared=fixed(),
        shows=True,
        hx_targets=("exception-events",),
    ),
    "findings:exception": Route(_exception, shows=True),
    "findings:exception_new": Route(
        _new_exception,
        shows=True,
        access="admin",
        methods=("GET", "POST"),
        post_data=lambda world, team: {
            "scope": "resource",
            **_exception_fields(world, team),
        },
        offered_on=("findings:resource", _private_resource),
    ),
    "findings:exception_edit": Route(
        _exception,
        shows=True,
        access="admin",
        methods=("GET", "POST"),
        post_data=_exception_fields,
        offered_on=("findings:exception", _exception),
    ),
    "findings:exception_revoke": Route(
        _exception,
        access="admin",
        methods=("POST",),
        offered_on=("findings:exception", _exception),
    ),
    # Digests: the signed-in user's own subscription; its form offers accounts.
    "findings:digest_settings": Route(
        fixed(),
        other_status=None,
        shows=True,
        methods=("GET", "POST"),
        post_data=lambda world, team: {
            "active": "on",
            "frequency": "weekly",
            "weekday": "2",
            "hour": "9",
            "timezone": "UTC",
            "min_severity": "high",
            "accounts": [team.account.pk],
        },
    ),
    "findings:digest_preview": Route(fixed(), other_status=None, shows=True),
    # CSV exports
    "findings:controls_csv": Route(_org, shared=fixed(), csv=True),
    "findings:accounts_csv": Route(_org, shared=fixed(), shows=True, csv=True),
    "findings:sections_csv": Route(_org, shared=fixed(), csv=True),
    "findings:section_controls_csv": Route(
        fixed(slug=SEC_S3), other_status=None, csv=True
    ),
    "findings:control_findings_csv": Route(
        _control,
        other_status=200,
        shared=fixed(control_id=CTL_S3),
        shows=True,
        csv=True,
    ),
    "findings:account_findings_csv": Route(_account, shows=True, csv=True),
    "findings:resource_history_csv": Route(_resource, shows=True, csv=True),
    "findings:framework_csv": Route(fixed(slug=FRAMEWORK), other_status=None, csv=True),
    "findings:scans_csv": Route(fixed(), other_status=None, shows=True, csv=True),
    "findings:scan_units_csv": Route(_scan, shared=_shared_scan, shows=True, csv=True),
    # The audit log of sign-ins and changes (findings/urls_audit.py): staff only.
    "audit:log": Route(
        fixed(), other_status=None, access="staff", hx_targets=("audit",)
    ),
    "audit:csv": Route(fixed(), other_status=None, access="staff", csv=True),
    # Signing out is a POST (a GET could be forged by any image tag).
    "logout": Route(fixed(), other_status=None, methods=("POST",)),
}


@dataclass(frozen=True)
class Public:
    """A pattern that needs no login: why, and what anonymous gets."""

    reason: str
    target: Target = field(default_factory=lambda: Target({}))
    anonymous_status: int = 200


PUBLIC: dict[str, Public] = {
    "login": Public("the sign-in form itself"),
    "healthz": Public("load balancer and container health probe; says only 'ok'"),
    "favicon": Public(
        "browsers ask for it before anyone signs in; it redirects to a static file",
        anonymous_status=302,
    ),
    "oidc_authentication_init": Public(
        "single sign-on starts before anyone is signed in; 404 while it is off",
        anonymous_status=404,
    ),
    "oidc_authentication_callback": Public(
        "the identity provider sends the user back here to sign in; 404 while "
        "single sign-on is off",
        anonymous_status=404,
    ),
    "findings:digest_unsubscribe": Public(
        "unsubscribing from an email without signing in; the signed token in "
        "the URL is the credential, so a bad one is a 404",
        Target({"token": "not-a-signed-token"}),
        anonymous_status=404,
    ),
}

# Views that skip CSRF on purpose, and why.
CSRF_EXEMPT = {
    "findings:digest_unsubscribe": "mail clients' RFC 8058 one-click unsubscribe "
    "POSTs without a token; the signed token in the URL authorises it",
}
