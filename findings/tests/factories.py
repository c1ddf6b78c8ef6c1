"""Small ORM factories for view tests, and a world of three personas.

Plain functions with keyword defaults: each test states only what it cares
about. ``build_world()`` is the shared scene of the view and browser tests.
"""

import functools
import hashlib
import json
import types
from datetime import UTC, datetime, timedelta
from itertools import count

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from accounts.models import Account, Membership, Organization, Team
from collectors.models import Resource, Scan, ScanUnit, Snapshot
from findings import suppressions
from findings.models import ControlRollup, Finding, FindingChange, Suppression

PASSWORD = "correct-horse-battery-staple"
T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
_seq = count(1)


@functools.cache
def _password_hash() -> str:
    # Hashing once keeps the suite fast; the hash is still a real one.
    return make_password(PASSWORD)


def make_user(username: str, *, staff: bool = False):
    return get_user_model().objects.create(
        username=username, password=_password_hash(), is_staff=staff
    )


def make_org(name: str = "", *, simulated: bool = False) -> Organization:
    n = next(_seq)
    return Organization.objects.create(
        name=name or f"Org {n}",
        management_account_id=f"{n:012d}",
        external_id=f"ext-{n}",
        simulated=simulated,
    )


def make_account(organization: Organization, name: str = "", **fields) -> Account:
    n = next(_seq)
    fields.setdefault("account_id", f"{100000000000 + n}")
    return Account.objects.create(
        organization=organization, name=name or f"account-{n}", **fields
    )


def make_team(name: str, *, members=(), accounts=()) -> Team:
    team = Team.objects.create(name=name)
    for user in members:
        Membership.objects.create(team=team, user=user)
    team.accounts.set(accounts)
    return team


def make_scan(
    organization: Organization,
    *,
    at: datetime = T0,
    status: str = Scan.Status.FINISHED,
    minutes: int = 4,
) -> Scan:
    return Scan.objects.create(
        organization=organization,
        status=status,
        started_at=at,
        finished_at=at + timedelta(minutes=minutes),
        services=["iam", "s3", "ec2"],
    )


def make_unit(
    scan: Scan,
    account: Account,
    *,
    service: str = "s3",
    region: str = "us-east-1",
    status: str = ScanUnit.Status.OK,
    error_kind: str = "",
    error_message: str = "",
) -> ScanUnit:
    return ScanUnit.objects.create(
        scan=scan,
        account=account,
        service=service,
        region=region,
        status=status,
        error_kind=error_kind,
        error_message=error_message,
        started_at=scan.started_at,
        finished_at=scan.started_at + timedelta(seconds=12),
        api_calls=40,
        resources=3,
    )


def make_resource(
    account: Account,
    *,
    name: str = "",
    resource_type: str = "AWS::S3::Bucket",
    region: str = "us-east-1",
    service: str = "s3",
    at: datetime = T0,
) -> Resource:
    n = next(_seq)
    resource_id = name or f"resource-{n}"
    return Resource.objects.create(
        account=account,
        service=service,
        unit_region=region,
        region=region,
        resource_type=resource_type,
        resource_id=resource_id,
        arn=f"arn:aws:s3:::{resource_id}",
        name=name,
        first_seen=at,
    )


def make_snapshot(
    resource: Resource,
    config: dict,
    *,
    at: datetime = T0,
    scan: Scan | None = None,
    tags: dict | None = None,
) -> Snapshot:
    """A new current snapshot; closes the previous one, as the store does."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    Snapshot.objects.filter(resource=resource, valid_to__isnull=True).update(
        valid_to=at
    )
    snapshot = Snapshot.objects.create(
        resource=resource,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        config=config,
        tags=tags or {},
        valid_from=at,
        scan=scan,
    )
    resource.current_snapshot = snapshot
    resource.save(update_fields=["current_snapshot"])
    return snapshot


def make_finding(
    resource: Resource,
    control_id: str,
    status: str = "FAIL",
    *,
    reason: str = "",
    at: datetime = T0,
    snapshot: Snapshot | None = None,
    scan: Scan | None = None,
) -> Finding:
    return Finding.objects.create(
        account=resource.account,
        resource=resource,
        control_id=control_id,
        status=status,
        reason=reason or f"{control_id} is {status}",
        first_seen=at,
        last_changed=at,
        snapshot=snapshot or resource.current_snapshot,
        scan=scan,
    )


def make_change(
    finding: Finding,
    scan: Scan,
    old_status: str,
    new_status: str,
    *,
    snapshot: Snapshot | None = None,
) -> FindingChange:
    return FindingChange.objects.create(
        finding=finding,
        scan=scan,
        at=scan.started_at,
        old_status=old_status,
        new_status=new_status,
        reason=finding.reason,
        snapshot=snapshot or finding.snapshot,
    )


def make_rollup(
    scan: Scan,
    account: Account,
    control_id: str,
    section: str,
    **counts: int,
) -> ControlRollup:
    return ControlRollup.objects.create(
        scan=scan,
        account=account,
        control_id=control_id,
        section=section,
        at=scan.started_at,
        **counts,
    )


# Real catalog ids (they must exist in findings.controls.REGISTRY).
CTL_MFA = "iam.root.mfa-enabled"
CTL_S3 = "s3.bucket.public-access-blocked"
SEC_CREDENTIALS = "account-security/credentials"
SEC_S3 = "service/storage/s3"
HOSTILE = "<script>alert(1)</script>"

# A bucket's configuration that fails and one that passes CTL_S3.
S3_OPEN = {"PublicAccessBlock": {}}
S3_CLOSED = {
    "PublicAccessBlock": {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
}


def build_world() -> types.SimpleNamespace:
    """Two teams in one simulated organization, two scans, hostile AWS data.

    - alice (team Payments) sees account "payments-prod" only;
    - bob (team Data) sees account "data-lake" only;
    - root is staff and sees both.

    In the latest scan payments-prod has 3 passing and 1 failing findings
    across two controls (75%); data-lake has 1 passing and 3 failing (25%).
    """
    org = make_org("Acme", simulated=True)
    payments = make_account(
        org,
        "payments-prod",
        email="aws-payments@example.com",
        ou_path="Root/Workloads/Prod",
    )
    data = make_account(org, "data-lake", email="aws-data@example.com")
    alice, bob = make_user("alice"), make_user("bob")
    root = make_user("root", staff=True)
    make_team("Payments", members=[alice], accounts=[payments])
    make_team("Data", members=[bob], accounts=[data])

    old = make_scan(org, at=T0)
    new = make_scan(org, at=T0 + timedelta(days=1), status=Scan.Status.PARTIAL)
    for scan in (old, new):
        make_unit(scan, payments, service="s3")
        make_unit(scan, payments, service="iam", region="global")
        make_unit(scan, data, service="s3")
    make_unit(
        new,
        data,
        service="ec2",
        region="eu-west-1",
        status=ScanUnit.Status.FAILED,
        error_kind="access_denied",
        error_message="ec2:DescribeInstances denied by an SCP",
    )

    # Old scan: payments at 50%, data at 25%.
    make_rollup(old, payments, CTL_MFA, SEC_CREDENTIALS, passed=1, failed=1)
    make_rollup(old, payments, CTL_S3, SEC_S3, passed=1, failed=1)
    make_rollup(old, data, CTL_S3, SEC_S3, passed=1, failed=3)
    # New scan: payments at 75%, data at 25%.
    make_rollup(new, payments, CTL_MFA, SEC_CREDENTIALS, passed=1)
    make_rollup(new, payments, CTL_S3, SEC_S3, passed=2, failed=1)
    make_rollup(new, data, CTL_S3, SEC_S3, passed=1, failed=3)

    bucket = make_resource(payments, name=HOSTILE)
    first = make_snapshot(
        bucket, {"PublicAccessBlock": {"BlockPublicAcls": True}}, at=T0, scan=old
    )
    second = make_snapshot(
        bucket,
        {"PublicAccessBlock": {"BlockPublicAcls": False}, "Owner": HOSTILE},
        at=new.started_at,
        scan=new,
        tags={"team": HOSTILE},
    )
    failing = make_finding(
        bucket,
        CTL_S3,
        "FAIL",
        reason=f"BlockPublicAcls is off on {HOSTILE}",
        at=new.started_at,
        snapshot=second,
        scan=new,
    )
    make_change(failing, old, "", "PASS", snapshot=first)
    make_change(failing, new, "PASS", "FAIL", snapshot=second)

    root_account = make_resource(
        payments, name="", resource_type="AWS::::Account", service="iam"
    )
    make_snapshot(root_account, {"AccountMFAEnabled": 1}, at=T0, scan=old)
    fixed = make_finding(root_account, CTL_MFA, "PASS", reason="Root MFA is on")
    make_change(fixed, new, "FAIL", "PASS")

    lake = make_resource(data, name="lake-raw")
    make_snapshot(lake, {"PublicAccessBlock": {}}, at=T0, scan=old)
    make_finding(lake, CTL_S3, "FAIL", reason="No public access block on lake-raw")

    return types.SimpleNamespace(**locals())


# -- Two teams, each with data only it may see (test_authorization.py) ----------------


def make_team_admin(team: Team, username: str):
    """A user with the team-admin role in ``team``."""
    user = make_user(username)
    Membership.objects.create(team=team, user=user, role=Membership.Role.ADMIN)
    return user


def add_marked_data(account: Account, scan: Scan, marker: str) -> Resource:
    """A failing resource (snapshot, finding, change) and a failed unit naming it.

    A page or export that shows any of them to someone outside the account's
    teams leaks: the marker is what the authorization tests search for.
    """
    resource = make_resource(account, name=f"{marker}-bucket", at=scan.started_at)
    snapshot = make_snapshot(
        resource,
        {"Owner": marker, "PublicAccessBlock": {}},
        at=scan.started_at,
        scan=scan,
        tags={"owner": marker},
    )
    finding = make_finding(
        resource,
        CTL_S3,
        "FAIL",
        reason=f"No public access block on {marker}-bucket",
        at=scan.started_at,
        scan=scan,
    )
    make_change(finding, scan, "", "FAIL", snapshot=snapshot)
    make_unit(
        scan,
        account,
        service="ec2",
        status=ScanUnit.Status.FAILED,
        error_kind="access_denied",
        error_message=f"ec2:DescribeInstances denied in {marker}",
    )
    return resource


def add_private_organization(
    team: Team, name: str, marker: str, account_id: str, *, at: datetime = T0
) -> types.SimpleNamespace:
    """An organization only ``team`` sees: one account, one scan, marked data."""
    org = make_org(name, simulated=True)
    account = make_account(org, f"{marker}-account", account_id=account_id)
    team.accounts.add(account)
    scan = make_scan(org, at=at)
    make_unit(scan, account, service="s3")
    make_rollup(scan, account, CTL_S3, SEC_S3, passed=1, failed=1)
    resource = add_marked_data(account, scan, marker)
    return types.SimpleNamespace(org=org, account=account, scan=scan, resource=resource)


def build_two_team_world() -> types.SimpleNamespace:
    """``build_world()`` plus a team admin, marked data and an organization per team.

    - team "a" is Payments: alice (member) and carol (team admin);
    - team "b" is Data: bob (member);
    - each team's account in the shared organization Acme gets a marked
      resource, finding and failed unit in the latest scan, and each team has
      a private organization (Initech for a, Globex for b) with its own scan.

    ``world.teams["a"]`` and ``["b"]`` hold each team's objects and the
    strings (``leaks``) that must never reach anyone outside the team.
    """
    world = build_world()
    now = datetime.now(UTC).replace(microsecond=0)
    teams = {}
    specs = {
        "a": ("Payments", world.payments, "Initech", "311111111111"),
        "b": ("Data", world.data, "Globex", "322222222222"),
    }
    for key, (team_name, account, org_name, account_id) in specs.items():
        marker = f"zq{key}-{team_name.lower()}-marker"
        team = Team.objects.get(name=team_name)
        # A scan an hour ago: today's digest preview has something to show.
        private = add_private_organization(
            team, org_name, marker, account_id, at=now - timedelta(hours=1)
        )
        resource = add_marked_data(account, world.new, marker)
        teams[key] = types.SimpleNamespace(
            team=team,
            account=account,
            resource=resource,
            private=private,
            marker=marker,
            leaks=[
                marker,
                account.name,
                account.account_id,
                org_name,
                private.account.account_id,
            ],
        )
    world.teams = teams
    world.carol = make_team_admin(teams["a"].team, "carol")
    return world


# -- An organization scanned by the real pipeline, in moto (test_browser.py) ----------


def scan_at(organization: Organization, when: datetime) -> Scan:
    """Plan and run a real scan whose one clock is ``when``.

    Every row a scan writes carries ``scan.started_at``, so running it with the
    clock moved back (still ticking) gives real history on past days. The scan
    runs when its transaction commits: call this in a
    ``django_db(transaction=True)`` test.
    """
    from unittest import mock

    from django.utils import timezone

    from collectors.pipeline import plan_scan

    real_now = timezone.now
    offset = when - real_now()
    with mock.patch("django.utils.timezone.now", lambda: real_now() + offset):
        scan = plan_scan(organization)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FINISHED, (scan.status, scan.message)
    return scan


def build_scanned_world(session) -> types.SimpleNamespace:
    """An organization in moto with S3 buckets, scanned on three days.

    ``session`` is the ``aws`` fixture's moto session. Accounts: the
    management account and "payments-prod" (team Payments: alice is its
    admin) and "data-lake" (team Data: bob). root is staff. Scans 60 and 20
    days ago and now; between the last two, "payments-invoices" (tagged with
    hostile text) was made public, so it has two snapshots and a PASS → FAIL
    change caused by the newer one. "payments-public-site" was public until
    it was fixed before the second scan.
    """
    from accounts.discovery import discover_accounts
    from collectors.tests.conftest import member_session

    orgs = session.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    member = {}
    for name in ("payments-prod", "data-lake"):
        created = orgs.create_account(AccountName=name, Email=f"aws-{name}@example.com")
        member[name] = created["CreateAccountStatus"]["AccountId"]
    org = Organization.objects.create(
        name="Acme",
        management_account_id=session.client("sts").get_caller_identity()["Account"],
        member_role_name="ParapetAudit",
        external_id="acme-7f3a9c",
        regions=["us-east-1"],
        services=["s3"],
        simulated=True,
    )
    discover_accounts(org)
    accounts = {a.account_id: a for a in org.accounts.all()}
    payments = accounts[member["payments-prod"]]
    data = accounts[member["data-lake"]]
    management = accounts[org.management_account_id]

    alice, bob = make_user("alice"), make_user("bob")
    root = make_user("root", staff=True)
    payments_team = make_team("Payments", accounts=[payments, management])
    Membership.objects.create(
        team=payments_team, user=alice, role=Membership.Role.ADMIN
    )
    make_team("Data", members=[bob], accounts=[data])

    s3 = member_session(payments.account_id).client("s3")
    s3.create_bucket(Bucket="payments-invoices")
    s3.put_bucket_tagging(
        Bucket="payments-invoices",
        Tagging={"TagSet": [{"Key": "team", "Value": HOSTILE}]},
    )
    s3.create_bucket(Bucket="payments-public-site")
    s3.put_bucket_acl(Bucket="payments-public-site", ACL="public-read")
    session.client("s3").create_bucket(Bucket="acme-cloudtrail-logs")
    lake = member_session(data.account_id).client("s3")
    lake.create_bucket(Bucket="lake-raw")
    lake.put_bucket_acl(Bucket="lake-raw", ACL="public-read")

    now = datetime.now(UTC).replace(microsecond=0)
    first = scan_at(org, now - timedelta(days=60))
    s3.put_bucket_acl(Bucket="payments-public-site", ACL="private")
    second = scan_at(org, now - timedelta(days=20))
    s3.put_bucket_acl(Bucket="payments-invoices", ACL="public-read")
    latest = scan_at(org, now)

    invoices = Resource.objects.get(account=payments, resource_id="payments-invoices")
    return types.SimpleNamespace(
        org=org,
        payments=payments,
        data=data,
        management=management,
        alice=alice,
        bob=bob,
        root=root,
        scans=[first, second, latest],
        invoices=invoices,
    )


# -- Exceptions and scans in progress of the two teams (test_authorization.py) -------


def make_exception(*, actor, days: int = 30, **fields) -> Suppression:
    """An exception made by the service, so its audit log starts with its
    CREATED event; ``fields`` as ``suppressions.create`` takes them."""
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return suppressions.create(actor=actor, expires_at=expires_at, **fields)


def add_two_team_exceptions(world: types.SimpleNamespace) -> None:
    """Exceptions on ``build_two_team_world()``: each team's, and Acme's.

    - ``team.exception``: the team's Acme account waives CTL_MFA, expiring
      within the digests' window; its reason and approver name the marker;
    - ``team.org_exception``: CTL_MFA waived for the team's private
      organization (scope "control": staff made it, only staff change it);
    - ``world.shared_exception``: CTL_S3 waived for all of Acme, so both
      teams see it, each counting only its own findings under it.
    """
    Scope = Suppression.Scope
    for team in world.teams.values():
        team.exception = make_exception(
            actor=world.carol if team.account == world.payments else world.root,
            days=7,
            control_id=CTL_MFA,
            scope=Scope.ACCOUNT,
            account=team.account,
            reason=f"Break-glass root kept by {team.marker}",
            approver=f"{team.marker}-approver",
        )
        team.org_exception = make_exception(
            actor=world.root,
            control_id=CTL_MFA,
            scope=Scope.CONTROL,
            organization=team.private.org,
            reason=f"Sandbox organization of {team.marker}",
            approver=f"{team.marker}-ciso",
        )
    world.shared_exception = make_exception(
        actor=world.root,
        days=60,
        control_id=CTL_S3,
        scope=Scope.CONTROL,
        organization=world.org,
        reason="Buckets behind CloudFront; reviewed quarterly",
        approver="Security council",
    )


def make_running_scan(organization: Organization, accounts: list[Account]) -> Scan:
    """A scan in progress: per account a unit collected, one failed (its error
    naming the account) and one still pending."""
    scan = Scan.objects.create(
        organization=organization,
        status=Scan.Status.RUNNING,
        started_at=datetime.now(UTC) - timedelta(minutes=5),
        services=["iam", "s3", "ec2"],
    )
    for account in accounts:
        make_unit(scan, account, service="s3")
        make_unit(
            scan,
            account,
            service="ec2",
            status=ScanUnit.Status.FAILED,
            error_kind="access_denied",
            error_message=f"ec2:DescribeInstances denied in {account.name}",
        )
        ScanUnit.objects.create(
            scan=scan, account=account, service="iam", region="global"
        )
    return scan
