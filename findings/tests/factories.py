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
from findings.models import ControlRollup, Finding, FindingChange

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
