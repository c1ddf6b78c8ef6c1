"""IAM controls, evaluated on records the real collector built from moto.

Where moto fakes a value (root MFA and access-key flags, the missing
``<root_account>`` credential-report row, access-key last use, server
certificate expiry), the other path is driven by answers shaped exactly like
AWS's documented responses, fed through the real collector.
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts.aws import new_session
from findings.controls.base import REGISTRY, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

NOW = datetime.now(UTC)
LATER_50_DAYS = NOW + timedelta(days=50)

SUPPORT = "arn:aws:iam::aws:policy/AWSSupportAccess"
CLOUDSHELL = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess"
READ_DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
    }
)
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,"
    "password_last_changed,password_next_rotation,mfa_active,access_key_1_active,"
    "access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
# GetAccountSummary as AWS documents it for an account whose root user has
# MFA; moto hard-codes AccountMFAEnabled=0 and AccountAccessKeysPresent=0.
AWS_SUMMARY_MAP = {
    "Users": 27,
    "UsersQuota": 5000,
    "Groups": 15,
    "GroupsQuota": 100,
    "Policies": 8,
    "PoliciesQuota": 1000,
    "Roles": 14,
    "RolesQuota": 1000,
    "ServerCertificates": 0,
    "ServerCertificatesQuota": 20,
    "MFADevices": 6,
    "MFADevicesInUse": 3,
    "AccountMFAEnabled": 1,
    "AccountAccessKeysPresent": 0,
    "AccountSigningCertificatesPresent": 0,
    "SigningCertificatesPerUserQuota": 2,
}


def stamp(moment: datetime) -> str:
    """A credential-report timestamp (AWS writes ISO 8601 with +00:00)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def root_row(password_used: str = "N/A", key_used: str = "N/A") -> str:
    return (
        f"<root_account>,arn:aws:iam::{ACCOUNT_ID}:root,2019-04-01T10:00:00+00:00,"
        f"not_supported,{password_used},not_supported,not_supported,true,"
        f"{'true' if key_used != 'N/A' else 'false'},N/A,{key_used},N/A,N/A,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )


def respond(session: boto3.Session, operation: str, parsed: dict) -> None:
    """Answer every ``iam.operation`` call with ``parsed`` (an AWS-shaped reply)."""

    def answer(**kwargs):
        http = AWSResponse("https://iam.amazonaws.com", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.iam.{operation}", answer)


def report_with(session: boto3.Session, *rows: str) -> None:
    respond(
        session,
        "GetCredentialReport",
        {
            "Content": "\n".join([REPORT_HEADER, *rows, ""]).encode(),
            "ReportFormat": "text/csv",
            "GeneratedTime": NOW,
        },
    )


def results(control_id: str, session: boto3.Session, now: datetime = NOW) -> dict:
    return evaluate(control_id, collect("iam", session=session, now=now), now=now)


def status(control_id: str, session: boto3.Session, now: datetime = NOW) -> dict:
    return {rid: r.status for rid, r in results(control_id, session, now).items()}


def new_user(iam, name: str, *, password: bool = False, keys: int = 0) -> list[str]:
    iam.create_user(UserName=name)
    if password:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-9!")
    return [
        iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        for _ in range(keys)
    ]


def enable_virtual_mfa(iam, user: str) -> None:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user}-phone")
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=device["VirtualMFADevice"]["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )


def certificate_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "legacy-soap")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_every_iam_control_is_declared_with_its_references():
    expected = {
        "iam.root.mfa-enabled": ("critical", "1.5", ("IAM.9*",)),
        "iam.root.hardware-mfa": ("high", "1.6", ("IAM.6",)),
        "iam.root.no-access-keys": ("critical", "1.4", ("IAM.4",)),
        "iam.root.not-recently-used": ("high", "1.7", ("IAM.20*",)),
        "iam.password-policy.min-length-14": ("medium", "1.8", ("IAM.15*",)),
        "iam.password-policy.reuse-24": ("low", "1.9", ("IAM.16*",)),
        "iam.password-policy.complexity": ("medium", "", ("IAM.7",)),
        "iam.user.console-mfa": ("high", "1.10", ("IAM.5",)),
        "iam.user.access-key-rotated-90d": ("medium", "1.14", ("IAM.3",)),
        "iam.user.single-active-access-key": ("medium", "1.13", ()),
        "iam.user.no-initial-access-key": ("low", "1.11", ()),
        "iam.user.console-password-unused-45d": ("medium", "1.12", ("IAM.22*",)),
        "iam.user.access-key-unused-45d": ("medium", "1.12", ("IAM.22*",)),
        "iam.user.no-direct-policies": ("low", "1.15", ("IAM.2",)),
        "iam.policy.no-full-admin": ("high", "1.16", ("IAM.1",)),
        "iam.role.support-role-exists": ("low", "1.17", ("IAM.18*",)),
        "iam.policy.cloudshell-full-access-restricted": (
            "medium",
            "1.22",
            ("IAM.27*",),
        ),
        "iam.server-certificate.not-expired": ("medium", "1.19", ("IAM.26*",)),
        "iam.user.no-active-signing-certificate": ("low", "", ()),
    }
    declared = {cid: c for cid, c in REGISTRY.items() if cid.startswith("iam.")}
    # Other iam.* rows (Access Analyzer, federation) belong to other modules.
    assert set(expected) <= set(declared)
    for cid, (severity, cis, security_hub) in expected.items():
        ctl = declared[cid]
        assert (ctl.severity, ctl.cis_v3, ctl.cis_v4, ctl.security_hub) == (
            severity,
            cis,
            cis,
            security_hub,
        ), cid
        assert ctl.remediation and ctl.remediation_cli.startswith("aws "), cid


# -- root user -------------------------------------------------------------


def test_root_mfa_fails_without_mfa_and_passes_with_it(aws):
    assert status("iam.root.mfa-enabled", aws) == {ACCOUNT_ID: Status.FAIL}

    respond(aws, "GetAccountSummary", {"SummaryMap": AWS_SUMMARY_MAP})
    result = results("iam.root.mfa-enabled", aws)[ACCOUNT_ID]

    assert result.status == Status.PASS


def test_root_hardware_mfa(aws):
    # moto: no root MFA at all.
    result = results("iam.root.hardware-mfa", aws)[ACCOUNT_ID]
    assert result.status == Status.FAIL
    assert "no MFA" in result.reason

    respond(aws, "GetAccountSummary", {"SummaryMap": AWS_SUMMARY_MAP})
    assert status("iam.root.hardware-mfa", aws) == {ACCOUNT_ID: Status.PASS}

    # AWS names the root user's virtual device root-account-mfa-device.
    serial = f"arn:aws:iam::{ACCOUNT_ID}:mfa/root-account-mfa-device"
    respond(
        aws,
        "ListVirtualMFADevices",
        {
            "VirtualMFADevices": [
                {
                    "SerialNumber": serial,
                    "User": {
                        "UserId": ACCOUNT_ID,
                        "Arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
                        "CreateDate": datetime(2019, 4, 1, tzinfo=UTC),
                        "PasswordLastUsed": NOW,
                    },
                    "EnableDate": datetime(2019, 4, 2, tzinfo=UTC),
                }
            ],
            "IsTruncated": False,
        },
    )
    result = results("iam.root.hardware-mfa", aws)[ACCOUNT_ID]
    assert result.status == Status.FAIL
    assert serial in result.reason


def test_root_access_keys(aws):
    # moto always reports AccountAccessKeysPresent=0.
    assert status("iam.root.no-access-keys", aws) == {ACCOUNT_ID: Status.PASS}

    respond(
        aws,
        "GetAccountSummary",
        {"SummaryMap": {**AWS_SUMMARY_MAP, "AccountAccessKeysPresent": 1}},
    )
    result = results("iam.root.no-access-keys", aws)[ACCOUNT_ID]

    assert result.status == Status.FAIL
    assert "AccountAccessKeysPresent is 1" in result.reason


def test_root_use_is_unknown_when_the_report_has_no_root_row(aws):
    # moto's report has no <root_account> row: that must not read as unused.
    result = results("iam.root.not-recently-used", aws)[ACCOUNT_ID]

    assert result.status == Status.ERROR
    assert "<root_account>" in result.reason


def test_root_recently_used_fails_and_long_unused_passes(aws):
    report_with(aws, root_row(password_used=stamp(NOW - timedelta(days=3))))
    result = results("iam.root.not-recently-used", aws)[ACCOUNT_ID]
    assert result.status == Status.FAIL
    assert "password used" in result.reason and "3 days ago" in result.reason

    fresh = new_session(region_name="us-east-1")
    report_with(
        fresh,
        root_row(
            password_used=stamp(NOW - timedelta(days=200)),
            key_used=stamp(NOW - timedelta(days=31)),
        ),
    )
    assert status("iam.root.not-recently-used", fresh) == {ACCOUNT_ID: Status.PASS}


def test_root_access_key_used_recently_fails(aws):
    report_with(aws, root_row(key_used=stamp(NOW - timedelta(days=10))))

    result = results("iam.root.not-recently-used", aws)[ACCOUNT_ID]

    assert result.status == Status.FAIL
    assert "access key 1 used" in result.reason


# -- password policy ------------------------------------------------------------


def test_no_password_policy_fails_every_password_rule(aws):
    for control_id in (
        "iam.password-policy.min-length-14",
        "iam.password-policy.reuse-24",
        "iam.password-policy.complexity",
    ):
        result = results(control_id, aws)[ACCOUNT_ID]
        assert result.status == Status.FAIL, control_id
        assert "no password policy" in result.reason


def test_password_policy_meeting_cis_passes_every_rule(aws):
    aws.client("iam").update_account_password_policy(
        MinimumPasswordLength=14,
        PasswordReusePrevention=24,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        RequireNumbers=True,
        RequireSymbols=True,
    )
    records = collect("iam", session=aws)

    for control_id in (
        "iam.password-policy.min-length-14",
        "iam.password-policy.reuse-24",
        "iam.password-policy.complexity",
    ):
        result = evaluate(control_id, records)[ACCOUNT_ID]
        assert result.status == Status.PASS, control_id


def test_weak_password_policy_fails_with_the_offending_values(aws):
    aws.client("iam").update_account_password_policy(
        MinimumPasswordLength=10,
        PasswordReusePrevention=5,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        RequireNumbers=True,
        RequireSymbols=False,
    )
    records = collect("iam", session=aws)

    length = evaluate("iam.password-policy.min-length-14", records)[ACCOUNT_ID]
    reuse = evaluate("iam.password-policy.reuse-24", records)[ACCOUNT_ID]
    complexity = evaluate("iam.password-policy.complexity", records)[ACCOUNT_ID]

    assert (length.status, length.reason) == (
        Status.FAIL,
        "MinimumPasswordLength is 10, below 14",
    )
    assert (reuse.status, reuse.reason) == (
        Status.FAIL,
        "PasswordReusePrevention is 5, below 24",
    )
    assert (complexity.status, complexity.reason) == (
        Status.FAIL,
        "RequireSymbols is off",
    )


def test_password_policy_without_reuse_prevention_fails(aws):
    aws.client("iam").update_account_password_policy(MinimumPasswordLength=14)

    result = results("iam.password-policy.reuse-24", aws)[ACCOUNT_ID]

    assert result.status == Status.FAIL
    assert "not set" in result.reason


# -- users: credential-report controls -----------------------------------------


def test_console_mfa_per_user(aws):
    iam = aws.client("iam")
    new_user(iam, "with-mfa", password=True)
    enable_virtual_mfa(iam, "with-mfa")
    new_user(iam, "no-mfa", password=True)
    new_user(iam, "api-only", keys=1)

    outcome = results("iam.user.console-mfa", aws)

    assert {u: r.status for u, r in outcome.items()} == {
        "with-mfa": Status.PASS,
        "no-mfa": Status.FAIL,
        "api-only": Status.NOT_APPLICABLE,
    }
    assert outcome["no-mfa"].reason == "user has a console password but no MFA device"


def test_no_initial_access_key_per_user(aws):
    iam = aws.client("iam")
    new_user(iam, "setup-key", password=True, keys=1)
    new_user(iam, "console-only", password=True)
    new_user(iam, "api-only", keys=1)

    assert status("iam.user.no-initial-access-key", aws) == {
        "setup-key": Status.FAIL,
        "console-only": Status.PASS,
        "api-only": Status.NOT_APPLICABLE,
    }


def test_console_user_whose_key_was_used_passes_no_initial_key(aws):
    new_user(aws.client("iam"), "dev", password=True, keys=1)
    used = stamp(NOW - timedelta(days=2))
    report_with(
        aws,
        f"dev,arn:aws:iam::{ACCOUNT_ID}:user/dev,2026-01-05T09:00:00+00:00,true,"
        f"{used},2026-01-05T09:00:00+00:00,N/A,true,true,"
        f"2026-01-05T09:00:00+00:00,{used},us-east-1,s3,false,N/A,N/A,N/A,N/A,"
        "false,N/A,false,N/A",
    )

    assert status("iam.user.no-initial-access-key", aws) == {"dev": Status.PASS}


def test_console_password_unused_for_45_days(aws):
    iam = aws.client("iam")
    new_user(iam, "console", password=True)
    new_user(iam, "api-only", keys=1)

    assert status("iam.user.console-password-unused-45d", aws) == {
        "console": Status.PASS,
        "api-only": Status.NOT_APPLICABLE,
    }
    later = results("iam.user.console-password-unused-45d", aws, LATER_50_DAYS)
    assert later["console"].status == Status.FAIL
    assert "never used since set" in later["console"].reason


def test_console_password_last_used_date_decides(aws):
    iam = aws.client("iam")
    new_user(iam, "active", password=True)
    new_user(iam, "dormant", password=True)

    def row(user: str, used: datetime) -> str:
        return (
            f"{user},arn:aws:iam::{ACCOUNT_ID}:user/{user},2025-01-05T09:00:00+00:00,"
            f"true,{stamp(used)},2025-01-05T09:00:00+00:00,N/A,true,false,N/A,N/A,"
            "N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
        )

    report_with(
        aws,
        row("active", NOW - timedelta(days=1)),
        row("dormant", NOW - timedelta(days=46)),
    )
    outcome = results("iam.user.console-password-unused-45d", aws)

    assert outcome["active"].status == Status.PASS
    assert outcome["dormant"].status == Status.FAIL
    assert "46 days ago" in outcome["dormant"].reason


# -- users: access keys ------------------------------------------------------------


def test_access_key_rotation_per_user(aws):
    iam = aws.client("iam")
    (key,) = new_user(iam, "alice", keys=1)
    (retired,) = new_user(iam, "retired", keys=1)
    iam.update_access_key(UserName="retired", AccessKeyId=retired, Status="Inactive")
    new_user(iam, "no-keys")

    assert status("iam.user.access-key-rotated-90d", aws) == {
        "alice": Status.PASS,
        "retired": Status.NOT_APPLICABLE,
        "no-keys": Status.NOT_APPLICABLE,
    }
    later = results(
        "iam.user.access-key-rotated-90d", aws, datetime.now(UTC) + timedelta(days=101)
    )
    assert later["alice"].status == Status.FAIL
    assert key in later["alice"].reason and "101 days old" in later["alice"].reason


def test_single_active_access_key_per_user(aws):
    iam = aws.client("iam")
    new_user(iam, "two-keys", keys=2)
    _, old = new_user(iam, "rotated", keys=2)
    iam.update_access_key(UserName="rotated", AccessKeyId=old, Status="Inactive")
    new_user(iam, "no-keys")

    outcome = results("iam.user.single-active-access-key", aws)

    assert {u: r.status for u, r in outcome.items()} == {
        "two-keys": Status.FAIL,
        "rotated": Status.PASS,
        "no-keys": Status.PASS,
    }
    assert outcome["two-keys"].reason.startswith("2 active access keys")


def test_access_key_never_used_counts_from_creation(aws):
    iam = aws.client("iam")
    (key,) = new_user(iam, "alice", keys=1)
    new_user(iam, "no-keys")

    assert status("iam.user.access-key-unused-45d", aws) == {
        "alice": Status.PASS,
        "no-keys": Status.NOT_APPLICABLE,
    }
    later = results("iam.user.access-key-unused-45d", aws, LATER_50_DAYS)
    assert later["alice"].status == Status.FAIL
    assert f"{key} never used" in later["alice"].reason


@pytest.mark.parametrize(
    ("days_ago", "expected"), [(2, Status.PASS), (60, Status.FAIL)]
)
def test_access_key_last_use_decides(aws, days_ago, expected):
    new_user(aws.client("iam"), "alice", keys=1)
    # moto stamps key use only with the current time; this is AWS's reply
    # shape for a key last used some days ago.
    respond(
        aws,
        "GetAccessKeyLastUsed",
        {
            "UserName": "alice",
            "AccessKeyLastUsed": {
                "LastUsedDate": NOW - timedelta(days=days_ago),
                "ServiceName": "s3",
                "Region": "us-east-1",
            },
        },
    )

    assert status("iam.user.access-key-unused-45d", aws) == {"alice": expected}


# -- users: policies and signing certificates -----------------------------------


def test_permissions_only_through_groups(aws):
    iam = aws.client("iam")
    read = iam.create_policy(PolicyName="s3-reader", PolicyDocument=READ_DOCUMENT)
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=read["Policy"]["Arn"])
    new_user(iam, "grouped")
    iam.add_user_to_group(GroupName="readers", UserName="grouped")
    new_user(iam, "attached")
    iam.attach_user_policy(UserName="attached", PolicyArn=read["Policy"]["Arn"])
    new_user(iam, "inline")
    iam.put_user_policy(
        UserName="inline", PolicyName="s3-read", PolicyDocument=READ_DOCUMENT
    )

    outcome = results("iam.user.no-direct-policies", aws)

    assert {u: r.status for u, r in outcome.items()} == {
        "grouped": Status.PASS,
        "attached": Status.FAIL,
        "inline": Status.FAIL,
    }
    assert outcome["attached"].reason == (
        "1 managed policy attached directly (s3-reader)"
    )
    assert outcome["inline"].reason == "1 inline policy (s3-read)"


def test_active_signing_certificate_fails(aws):
    iam = aws.client("iam")
    new_user(iam, "legacy")
    cert = iam.upload_signing_certificate(
        UserName="legacy", CertificateBody=certificate_pem()
    )["Certificate"]
    new_user(iam, "retired")
    old = iam.upload_signing_certificate(
        UserName="retired", CertificateBody=certificate_pem()
    )["Certificate"]
    iam.update_signing_certificate(
        UserName="retired", CertificateId=old["CertificateId"], Status="Inactive"
    )
    new_user(iam, "none")

    outcome = results("iam.user.no-active-signing-certificate", aws)

    assert {u: r.status for u, r in outcome.items()} == {
        "legacy": Status.FAIL,
        "retired": Status.PASS,
        "none": Status.PASS,
    }
    assert cert["CertificateId"] in outcome["legacy"].reason


def test_no_users_means_no_user_findings(aws):
    assert results("iam.user.console-mfa", aws) == {}


# -- customer policies and managed-policy attachments -------------------------------


def test_full_admin_customer_policy_fails(aws):
    iam = aws.client("iam")
    new_user(iam, "alice")
    documents = {
        "admin": {"Effect": "Allow", "Action": "*", "Resource": "*"},
        "admin-in-lists": {
            "Sid": "Everything",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "*"],
            "Resource": ["*"],
        },
        "read": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
        "deny-all": {"Effect": "Deny", "Action": "*", "Resource": "*"},
    }
    for name, statement in documents.items():
        arn = iam.create_policy(
            PolicyName=name,
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [statement]}
            ),
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName="alice", PolicyArn=arn)
    iam.create_policy(
        PolicyName="unattached-admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [documents["admin"]]}
        ),
    )

    outcome = results("iam.policy.no-full-admin", aws)

    assert {p: r.status for p, r in outcome.items()} == {
        "admin": Status.FAIL,
        "admin-in-lists": Status.FAIL,
        "read": Status.PASS,
        "deny-all": Status.PASS,
    }
    assert 'statement "Everything"' in outcome["admin-in-lists"].reason


def test_support_role(aws_managed_policies):
    aws = aws_managed_policies
    iam = aws.client("iam")
    new_user(iam, "helpdesk")
    iam.attach_user_policy(UserName="helpdesk", PolicyArn=SUPPORT)

    result = results("iam.role.support-role-exists", aws)[ACCOUNT_ID]
    assert result.status == Status.FAIL
    assert "only to users or groups: helpdesk" in result.reason

    iam.create_role(RoleName="aws-support", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="aws-support", PolicyArn=SUPPORT)
    result = results("iam.role.support-role-exists", aws)[ACCOUNT_ID]
    assert result.status == Status.PASS
    assert "aws-support" in result.reason


def test_cloudshell_full_access(aws_managed_policies):
    aws = aws_managed_policies
    assert status("iam.policy.cloudshell-full-access-restricted", aws) == {
        ACCOUNT_ID: Status.PASS
    }

    iam = aws.client("iam")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="ops", PolicyArn=CLOUDSHELL)
    result = results("iam.policy.cloudshell-full-access-restricted", aws)[ACCOUNT_ID]

    assert result.status == Status.FAIL
    assert result.reason == "AWSCloudShellFullAccess is attached to role ops"


def test_managed_policy_missing_from_the_partition(aws):
    # AWS answers NoSuchEntity for a policy ARN that does not exist.
    deny(aws, "iam", "ListEntitiesForPolicy", code="NoSuchEntity")
    records = collect("iam", session=aws)

    support = evaluate("iam.role.support-role-exists", records)[ACCOUNT_ID]
    cloudshell = evaluate("iam.policy.cloudshell-full-access-restricted", records)[
        ACCOUNT_ID
    ]

    assert support.status == Status.FAIL
    assert cloudshell.status == Status.PASS


# -- server certificates --------------------------------------------------------------


def test_expired_server_certificate_fails(aws):
    # moto stamps every server certificate with Expiration 2012-05-08.
    aws.client("iam").upload_server_certificate(
        ServerCertificateName="old-www", CertificateBody="body", PrivateKey="key"
    )

    result = results("iam.server-certificate.not-expired", aws)["old-www"]

    assert result.status == Status.FAIL
    assert "expired on 2012-05-08" in result.reason


def test_valid_server_certificate_passes(aws):
    # ListServerCertificates as AWS returns it for a certificate still valid.
    respond(
        aws,
        "ListServerCertificates",
        {
            "ServerCertificateMetadataList": [
                {
                    "Path": "/cloudfront/",
                    "ServerCertificateName": "www",
                    "ServerCertificateId": "ASCACKCEVSQ6C2EXAMPLE",
                    "Arn": f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/www",
                    "UploadDate": NOW - timedelta(days=30),
                    "Expiration": NOW + timedelta(days=335),
                }
            ],
            "IsTruncated": False,
        },
    )

    result = results("iam.server-certificate.not-expired", aws)["www"]

    assert result.status == Status.PASS
    assert "in 334 days" in result.reason or "in 335 days" in result.reason


# -- a denied sub-call is ERROR, never PASS -------------------------------------


@pytest.fixture(scope="class")
def iam_world():
    """One moto account where every control has something to evaluate.

    Class-scoped because loading moto's AWS managed policies takes seconds;
    each test denies a different call on a fresh session of the same world.
    """
    from moto import mock_aws

    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        iam = new_session(region_name="us-east-1").client("iam")
        iam.update_account_password_policy(
            MinimumPasswordLength=14,
            PasswordReusePrevention=24,
            RequireUppercaseCharacters=True,
            RequireLowercaseCharacters=True,
            RequireNumbers=True,
            RequireSymbols=True,
        )
        new_user(iam, "alice", password=True, keys=1)
        enable_virtual_mfa(iam, "alice")
        iam.upload_signing_certificate(
            UserName="alice", CertificateBody=certificate_pem()
        )
        arn = iam.create_policy(PolicyName="read", PolicyDocument=READ_DOCUMENT)[
            "Policy"
        ]["Arn"]
        iam.attach_user_policy(UserName="alice", PolicyArn=arn)
        iam.create_role(RoleName="aws-support", AssumeRolePolicyDocument="{}")
        iam.attach_role_policy(RoleName="aws-support", PolicyArn=SUPPORT)
        yield


def world_session(denied: str = "") -> boto3.Session:
    session = new_session(region_name="us-east-1")
    if denied:
        # Registered first: the stubbed report below would answer before it.
        deny(session, "iam", denied)
    # So the root-use control has a root row to read when nothing is denied.
    report_with(
        session,
        root_row(password_used=stamp(NOW - timedelta(days=90))),
        f"alice,arn:aws:iam::{ACCOUNT_ID}:user/alice,2026-01-05T09:00:00+00:00,"
        f"true,N/A,{stamp(NOW)},N/A,true,true,{stamp(NOW)},N/A,N/A,N/A,"
        "false,N/A,N/A,N/A,N/A,true,N/A,false,N/A",
    )
    return session


@pytest.fixture(scope="class")
def world_records(iam_world):
    """The world collected with nothing denied: the baseline each test compares."""
    return collect("iam", session=world_session(), now=NOW)


class TestDeniedSubCallIsError:
    @pytest.mark.parametrize(
        ("control_id", "operation", "resource_id"),
        [
            ("iam.root.mfa-enabled", "GetAccountSummary", ACCOUNT_ID),
            ("iam.root.hardware-mfa", "GetAccountSummary", ACCOUNT_ID),
            ("iam.root.no-access-keys", "GetAccountSummary", ACCOUNT_ID),
            ("iam.root.not-recently-used", "GenerateCredentialReport", ACCOUNT_ID),
            ("iam.root.not-recently-used", "GetCredentialReport", ACCOUNT_ID),
            (
                "iam.password-policy.min-length-14",
                "GetAccountPasswordPolicy",
                ACCOUNT_ID,
            ),
            ("iam.password-policy.reuse-24", "GetAccountPasswordPolicy", ACCOUNT_ID),
            (
                "iam.password-policy.complexity",
                "GetAccountPasswordPolicy",
                ACCOUNT_ID,
            ),
            ("iam.user.console-mfa", "GetCredentialReport", "alice"),
            ("iam.user.access-key-rotated-90d", "ListAccessKeys", "alice"),
            ("iam.user.single-active-access-key", "ListAccessKeys", "alice"),
            ("iam.user.no-initial-access-key", "GenerateCredentialReport", "alice"),
            ("iam.user.console-password-unused-45d", "GetCredentialReport", "alice"),
            ("iam.user.access-key-unused-45d", "GetAccessKeyLastUsed", "alice"),
            ("iam.user.no-direct-policies", "ListAttachedUserPolicies", "alice"),
            ("iam.user.no-direct-policies", "ListUserPolicies", "alice"),
            ("iam.policy.no-full-admin", "GetPolicyVersion", "read"),
            ("iam.role.support-role-exists", "ListEntitiesForPolicy", ACCOUNT_ID),
            (
                "iam.policy.cloudshell-full-access-restricted",
                "ListEntitiesForPolicy",
                ACCOUNT_ID,
            ),
            (
                "iam.user.no-active-signing-certificate",
                "ListSigningCertificates",
                "alice",
            ),
        ],
    )
    def test_denied_sub_call_gives_error(
        self, world_records, control_id, operation, resource_id
    ):
        allowed = evaluate(control_id, world_records, now=NOW)[resource_id]
        denied = results(control_id, world_session(denied=operation))[resource_id]

        assert allowed.status != Status.ERROR, allowed.reason
        assert denied.status == Status.ERROR
        assert "AccessDenied" in denied.reason
