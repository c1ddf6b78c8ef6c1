"""Security-service controls, evaluated on what the real collectors read.

moto builds KMS keys, secrets, certificates, the account's contact and
organization and IAM identity providers. What moto lacks (Access Analyzer,
Trusted Advisor results) is answered by a botocore ``before-call`` handler
with a response validated against the operation's output shape, so the
collector and the control see what AWS would return. The Backup and Systems
Manager controls have files of their own (test_controls_backup.py,
test_controls_ssm.py); the catalog test below covers the whole group.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

NOW = datetime.now(UTC)
REGION = "us-east-1"


def answer(session, service: str, operation: str, respond) -> None:
    """Answer ``service.operation`` with ``respond(request)`` in AWS's shape."""

    def handler(model, params, **kwargs):
        request = dict(params.get("query_string") or {})
        if params.get("body"):
            request.update(json.loads(params["body"]))
        parsed = respond(request)
        validate_parameters(parsed, model.output_shape)
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.{service}.{operation}", handler)


def results(control_id: str, records, **kwargs) -> dict:
    return evaluate(control_id, records, now=kwargs.pop("now", NOW), **kwargs)


def only(control_id: str, records, **kwargs):
    (result,) = results(control_id, records, **kwargs).values()
    return result


# -- catalog ------------------------------------------------------------------

CATALOG = [
    # id, section, severity, (CIS v3, v4), Security Hub, resource type
    (
        "kms.key.rotation",
        "service/security/kms",
        Severity.MEDIUM,
        ("3.6", "3.6"),
        ("KMS.4*",),
        "AWS::KMS::Key",
    ),
    (
        "kms.key.no-public-policy",
        "service/security/kms",
        Severity.CRITICAL,
        ("", ""),
        ("KMS.5",),
        "AWS::KMS::Key",
    ),
    (
        "kms.key.not-pending-deletion",
        "service/security/kms",
        Severity.HIGH,
        ("", ""),
        ("KMS.3",),
        "AWS::KMS::Key",
    ),
    (
        "secretsmanager.rotation-enabled",
        "service/security/secrets-manager",
        Severity.MEDIUM,
        ("", ""),
        ("SecretsManager.1",),
        "AWS::SecretsManager::Secret",
    ),
    (
        "secretsmanager.rotated-90d",
        "service/security/secrets-manager",
        Severity.MEDIUM,
        ("", ""),
        ("SecretsManager.4",),
        "AWS::SecretsManager::Secret",
    ),
    (
        "acm.certificate.not-expiring",
        "account-security/x509-certificates",
        Severity.MEDIUM,
        ("", ""),
        ("ACM.1",),
        "AWS::CertificateManager::Certificate",
    ),
    (
        "acm.certificate.strong-key",
        "account-security/x509-certificates",
        Severity.HIGH,
        ("", ""),
        ("ACM.2",),
        "AWS::CertificateManager::Certificate",
    ),
    (
        "backup.plan-with-selection",
        "business-continuity/backup",
        Severity.HIGH,
        ("", ""),
        (),
        "AWS::Backup::BackupPlan",
    ),
    (
        "backup.recovery-points-encrypted",
        "business-continuity/backup",
        Severity.MEDIUM,
        ("", ""),
        ("Backup.1",),
        "AWS::Backup::BackupVault",
    ),
    (
        "backup.vault-locked",
        "business-continuity/backup",
        Severity.MEDIUM,
        ("", ""),
        (),
        "AWS::Backup::BackupVault",
    ),
    (
        "backup.resources-protected",
        "business-continuity/backup",
        Severity.MEDIUM,
        ("", ""),
        ("EC2.28*", "RDS.26*", "DynamoDB.4*"),
        "AWS::Backup::ProtectedResources",
    ),
    (
        "trustedadvisor.security-checks-not-red",
        "account-security/trusted-advisor",
        Severity.HIGH,
        ("", ""),
        (),
        "AWS::TrustedAdvisor::SecurityChecks",
    ),
    (
        "iam.access-analyzer.enabled-all-regions",
        "account-security/individual-user-accounts",
        Severity.MEDIUM,
        ("1.20", "1.20"),
        ("IAM.28*",),
        "AWS::AccessAnalyzer::Analyzer",
    ),
    (
        "ec2.instance.ssm-managed",
        "service/compute/ec2/guest-os",
        Severity.MEDIUM,
        ("", ""),
        ("SSM.1",),
        "AWS::EC2::Instance",
    ),
    (
        "ec2.instance.patch-compliant",
        "service/compute/ec2/guest-os",
        Severity.HIGH,
        ("", ""),
        ("SSM.2",),
        "AWS::SSM::PatchCompliance",
    ),
    (
        "account.security-contact",
        "business-continuity/incident-response",
        Severity.MEDIUM,
        ("1.2", "1.2"),
        ("Account.1",),
        "AWS::::Account",
    ),
    (
        "account.organizations-member",
        "account-security/individual-user-accounts",
        Severity.HIGH,
        ("", ""),
        ("Account.2*",),
        "AWS::::Account",
    ),
    (
        "iam.identity-federation-configured",
        "account-security/individual-user-accounts",
        Severity.MEDIUM,
        ("1.21", "1.21"),
        (),
        "AWS::IAM::AccountSummary",
    ),
]


@pytest.mark.parametrize(
    ("control_id", "section", "severity", "cis", "security_hub", "resource_type"),
    CATALOG,
)
def test_catalog_entry_matches_the_reference(
    control_id, section, severity, cis, security_hub, resource_type
):
    ctl = REGISTRY[control_id]
    assert (ctl.section, ctl.severity, ctl.resource_type) == (
        section,
        severity,
        resource_type,
    )
    assert (ctl.cis_v3, ctl.cis_v4) == cis
    assert ctl.security_hub == security_hub
    assert ctl.rationale and ctl.remediation
    assert ctl.remediation_cli.startswith("aws ")


# -- KMS ----------------------------------------------------------------------


def kms_key(aws, **kwargs) -> str:
    return aws.client("kms").create_key(**kwargs)["KeyMetadata"]["KeyId"]


def kms_result(aws, control_id: str, key_id: str):
    return results(control_id, collect("kms", session=aws))[key_id]


def test_rotation_on_passes_and_off_fails(aws):
    rotating, still = kms_key(aws), kms_key(aws)
    aws.client("kms").enable_key_rotation(KeyId=rotating)

    outcome = results("kms.key.rotation", collect("kms", session=aws))

    assert outcome[rotating].status == Status.PASS
    assert outcome[still].status == Status.FAIL
    assert outcome[still].reason == "automatic key rotation is off"


def test_rotation_does_not_apply_to_asymmetric_or_disabled_keys(aws):
    signing = kms_key(aws, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    disabled = kms_key(aws)
    aws.client("kms").disable_key(KeyId=disabled)

    outcome = results("kms.key.rotation", collect("kms", session=aws))

    assert outcome[signing].status == Status.NOT_APPLICABLE
    assert "KeySpec ECC_NIST_P256" in outcome[signing].reason
    assert outcome[disabled].status == Status.NOT_APPLICABLE


def test_aws_managed_key_is_not_judged(aws):
    key_id = kms_key(aws)
    metadata = aws.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    answer(
        aws,
        "kms",
        "DescribeKey",
        lambda request: {"KeyMetadata": {**metadata, "KeyManager": "AWS"}},
    )
    records = collect("kms", session=aws)

    for control_id in (
        "kms.key.rotation",
        "kms.key.no-public-policy",
        "kms.key.not-pending-deletion",
    ):
        result = results(control_id, records)[key_id]
        assert result.status == Status.NOT_APPLICABLE, control_id
        assert result.reason.startswith("AWS managed key")


def test_denied_rotation_status_is_error(aws):
    key_id = kms_key(aws)
    deny(aws, "kms", "GetKeyRotationStatus")
    assert kms_result(aws, "kms.key.rotation", key_id).status == Status.ERROR


def test_default_key_policy_is_not_public(aws):
    key_id = kms_key(aws)
    result = kms_result(aws, "kms.key.no-public-policy", key_id)
    assert result.status == Status.PASS


def key_policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


OWNER = {
    "Sid": "Owner",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_key_policy_open_to_everyone_fails(aws):
    key_id = kms_key(
        aws,
        Policy=key_policy(
            OWNER,
            {
                "Sid": "Everyone",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
        ),
    )

    result = kms_result(aws, "kms.key.no-public-policy", key_id)

    assert result.status == Status.FAIL
    assert result.reason == (
        "key policy allows Principal * to kms:Decrypt, kms:DescribeKey "
        "(statement Everyone)"
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # AWS's own pattern: anyone in the account, through one service.
        (
            {
                "StringEquals": {
                    "kms:CallerAccount": ACCOUNT_ID,
                    "kms:ViaService": "ec2.us-east-1.amazonaws.com",
                }
            },
            Status.PASS,
        ),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, Status.PASS),
        ({"StringNotEquals": {"kms:CallerAccount": "999999999999"}}, Status.FAIL),
        ({"StringLike": {"kms:CallerAccount": "*"}}, Status.FAIL),
        ({"StringEquals": {"kms:ViaService": "s3.amazonaws.com"}}, Status.FAIL),
    ],
)
def test_conditions_that_pin_the_caller_make_a_policy_private(aws, condition, expected):
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": condition,
    }
    key_id = kms_key(aws, Policy=key_policy(OWNER, statement))
    assert kms_result(aws, "kms.key.no-public-policy", key_id).status == expected


def test_denied_key_policy_is_error(aws):
    key_id = kms_key(aws)
    deny(aws, "kms", "GetKeyPolicy")
    result = kms_result(aws, "kms.key.no-public-policy", key_id)
    assert result.status == Status.ERROR
    assert "KeyPolicy" in result.reason


def test_key_pending_deletion_fails_unless_tagged_retired(aws):
    kms = aws.client("kms")
    live = kms_key(aws)
    doomed = kms_key(aws)
    retired = kms_key(aws, Tags=[{"TagKey": "lifecycle", "TagValue": "retired"}])
    for key_id in (doomed, retired):
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    records = collect("kms", session=aws)
    outcome = results("kms.key.not-pending-deletion", records)

    assert outcome[live].status == Status.PASS
    assert outcome[doomed].status == Status.FAIL
    assert outcome[doomed].reason.startswith("key is PendingDeletion")
    assert outcome[retired].status == Status.PASS
    assert "lifecycle=retired" in outcome[retired].reason
    # A key that can no longer be used is not judged on its policy.
    policy = results("kms.key.no-public-policy", records)[doomed]
    assert policy.status == Status.NOT_APPLICABLE


def test_denied_tags_of_a_key_pending_deletion_is_error(aws):
    key_id = kms_key(aws)
    aws.client("kms").schedule_key_deletion(KeyId=key_id)
    deny(aws, "kms", "ListResourceTags")
    result = kms_result(aws, "kms.key.not-pending-deletion", key_id)
    assert result.status == Status.ERROR


# -- Secrets Manager ----------------------------------------------------------


def test_secret_rotation_enabled(aws):
    secrets = aws.client("secretsmanager")
    rotated = secrets.create_secret(Name="db", SecretString="x")["ARN"]
    secrets.rotate_secret(SecretId=rotated, RotationRules={"AutomaticallyAfterDays": 7})
    static = secrets.create_secret(Name="api-key", SecretString="y")["ARN"]

    outcome = results(
        "secretsmanager.rotation-enabled", collect("secretsmanager", session=aws)
    )

    assert outcome[rotated].status == Status.PASS
    assert outcome[rotated].reason == "automatic rotation is on every 7 days"
    assert outcome[static].status == Status.FAIL


def test_secret_rotated_within_90_days(aws):
    secrets = aws.client("secretsmanager")
    rotated = secrets.create_secret(Name="db", SecretString="x")["ARN"]
    secrets.rotate_secret(SecretId=rotated, RotationRules={"AutomaticallyAfterDays": 7})
    static = secrets.create_secret(Name="api-key", SecretString="y")["ARN"]
    records = collect("secretsmanager", session=aws)

    today = results("secretsmanager.rotated-90d", records)
    later = results("secretsmanager.rotated-90d", records, now=NOW + timedelta(100))

    assert today[rotated].status == today[static].status == Status.PASS
    assert later[rotated].status == Status.FAIL
    assert later[rotated].reason.startswith("last rotated ")
    assert later[static].status == Status.FAIL
    assert later[static].reason.startswith("never rotated; created ")
    assert "more than 90 days" in later[static].reason


# -- ACM ----------------------------------------------------------------------


def certificate(domain: str, days: int, key=None) -> tuple[bytes, bytes]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.fixture(scope="module")
def certificates():
    """One moto account with certificates, some used by a load balancer."""
    specs = {
        "long": (365, True, None),
        "soon": (10, True, None),
        "idle": (10, False, None),
        "weak": (365, False, rsa.generate_private_key(65537, 1024)),
    }
    with mock_aws():
        forget_credentials()
        session = new_session(region_name=REGION)
        acm = session.client("acm")
        arns, listeners = {}, []
        for port, (label, (days, used, key)) in enumerate(specs.items(), 8440):
            cert, pem_key = certificate(f"{label}.example.com", days, key)
            arn = acm.import_certificate(Certificate=cert, PrivateKey=pem_key)[
                "CertificateArn"
            ]
            arns[label] = arn
            if used:
                listeners.append(
                    {
                        "Protocol": "HTTPS",
                        "LoadBalancerPort": port,
                        "InstanceProtocol": "HTTP",
                        "InstancePort": 80,
                        "SSLCertificateId": arn,
                    }
                )
        session.client("elb").create_load_balancer(
            LoadBalancerName="web",
            Listeners=listeners,
            AvailabilityZones=["us-east-1a"],
        )
        records = collect("acm", session=session)
    forget_credentials()
    # Outside the mock: while a module-wide mock is active, the mocks of the
    # tests after it would not start from a clean account.
    yield arns, records


def test_certificate_in_use_and_far_from_expiry_passes(certificates):
    arns, records = certificates
    result = results("acm.certificate.not-expiring", records)[arns["long"]]
    assert result.status == Status.PASS
    assert result.reason.startswith("valid until ")


def test_certificate_in_use_expiring_within_30_days_fails(certificates):
    arns, records = certificates
    result = results("acm.certificate.not-expiring", records)[arns["soon"]]
    assert result.status == Status.FAIL
    assert "in 9 days" in result.reason or "in 10 days" in result.reason
    assert "in use by" in result.reason
    assert "imported certificates are not renewed by ACM" in result.reason


def test_certificate_still_in_use_after_expiry_fails(certificates):
    arns, records = certificates
    later = NOW + timedelta(days=400)
    result = results("acm.certificate.not-expiring", records, now=later)[arns["long"]]
    assert result.status == Status.FAIL
    assert result.reason.startswith("expired on ")


def test_unused_certificate_is_not_applicable(certificates):
    arns, records = certificates
    result = results("acm.certificate.not-expiring", records)[arns["idle"]]
    assert result.status == Status.NOT_APPLICABLE


def test_certificate_key_strength(certificates):
    arns, records = certificates
    outcome = results("acm.certificate.strong-key", records)
    assert outcome[arns["long"]].status == Status.PASS
    assert outcome[arns["long"]].reason == "key algorithm is EC_prime256v1"
    assert outcome[arns["weak"]].status == Status.FAIL
    assert outcome[arns["weak"]].reason.startswith("key algorithm is RSA_1024")


def test_certificate_without_description_or_summary_fields_is_error(aws):
    arn = f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:certificate/0000-1111"
    # An older-style summary: only the ARN and domain name.
    answer(
        aws,
        "acm",
        "ListCertificates",
        lambda request: {
            "CertificateSummaryList": [
                {"CertificateArn": arn, "DomainName": "legacy.example.com"}
            ]
        },
    )
    deny(aws, "acm", "DescribeCertificate")
    records = collect("acm", session=aws)

    for control_id in ("acm.certificate.not-expiring", "acm.certificate.strong-key"):
        assert results(control_id, records)[arn].status == Status.ERROR


def test_denied_description_still_evaluates_the_summary(aws):
    cert, key = certificate("api.example.com", 365)
    arn = aws.client("acm").import_certificate(Certificate=cert, PrivateKey=key)[
        "CertificateArn"
    ]
    deny(aws, "acm", "DescribeCertificate")
    records = collect("acm", session=aws)

    assert results("acm.certificate.strong-key", records)[arn].status == Status.PASS
    # Not in use according to the summary's InUse flag.
    result = results("acm.certificate.not-expiring", records)[arn]
    assert result.status == Status.NOT_APPLICABLE


# -- Trusted Advisor ----------------------------------------------------------

TA_CHECKS = {
    "12Fnkpl8Y5": "Exposed Access Keys",
    "HCP4007jGY": "Security Groups - Specific Ports Unrestricted",
    "7DAFEmoDos": "MFA on Root Account",
}


def stub_trusted_advisor(aws, statuses: dict[str, str]) -> None:
    answer(
        aws,
        "support",
        "DescribeTrustedAdvisorChecks",
        lambda request: {
            "checks": [
                {
                    "id": check_id,
                    "name": name,
                    "description": name,
                    "category": "security",
                    "metadata": [],
                }
                for check_id, name in TA_CHECKS.items()
            ]
        },
    )

    def result(request):
        status = statuses[request["checkId"]]
        flagged = 0 if status == "ok" else 2
        return {
            "result": {
                "checkId": request["checkId"],
                "timestamp": NOW.isoformat(),
                "status": status,
                "resourcesSummary": {
                    "resourcesProcessed": 5,
                    "resourcesFlagged": flagged,
                    "resourcesIgnored": 0,
                    "resourcesSuppressed": 0,
                },
                "categorySpecificSummary": {},
                "flaggedResources": [],
            }
        }

    answer(aws, "support", "DescribeTrustedAdvisorCheckResult", result)


def trusted_advisor(aws):
    return only(
        "trustedadvisor.security-checks-not-red", collect("support", session=aws)
    )


def test_red_security_check_fails_naming_it(aws):
    stub_trusted_advisor(
        aws, {"12Fnkpl8Y5": "error", "HCP4007jGY": "warning", "7DAFEmoDos": "ok"}
    )
    result = trusted_advisor(aws)
    assert result.status == Status.FAIL
    assert result.reason == "Exposed Access Keys (2 flagged) is red"


def test_no_red_security_check_passes(aws):
    stub_trusted_advisor(
        aws,
        {"12Fnkpl8Y5": "ok", "HCP4007jGY": "warning", "7DAFEmoDos": "not_available"},
    )
    result = trusted_advisor(aws)
    assert result.status == Status.PASS
    assert result.reason == "none of 3 security checks is red (1 in warning)"


def test_basic_support_plan_is_not_evaluable_never_pass(aws):
    deny(
        aws, "support", "DescribeTrustedAdvisorChecks", "SubscriptionRequiredException"
    )
    result = trusted_advisor(aws)
    assert result.status == Status.ERROR
    assert "SubscriptionRequiredException" in result.reason
    assert "Business" in result.reason


def test_unreadable_check_results_are_error(aws):
    deny(aws, "support", "DescribeTrustedAdvisorCheckResult")
    stub_trusted_advisor(aws, {})
    result = trusted_advisor(aws)
    assert result.status == Status.ERROR
    assert "CheckResults" in result.reason


# -- Access Analyzer ----------------------------------------------------------


def analyzers(aws, *items: dict) -> None:
    answer(
        aws,
        "accessanalyzer",
        "ListAnalyzers",
        lambda request: {"analyzers": list(items)},
    )


def analyzer(name: str, kind: str = "ACCOUNT", status: str = "ACTIVE", **extra):
    return {
        "arn": f"arn:aws:access-analyzer:{REGION}:{ACCOUNT_ID}:analyzer/{name}",
        "name": name,
        "type": kind,
        "createdAt": NOW,
        "status": status,
        **extra,
    }


def analyzer_result(aws, region: str = REGION):
    records = collect("accessanalyzer", region, session=aws)
    return results("iam.access-analyzer.enabled-all-regions", records)[region]


def test_active_external_access_analyzer_passes(aws):
    analyzers(aws, analyzer("unused", "ACCOUNT_UNUSED_ACCESS"), analyzer("external"))
    result = analyzer_result(aws)
    assert result.status == Status.PASS
    assert result.reason == "ACCOUNT analyzer external is ACTIVE in us-east-1"


def test_each_region_needs_its_own_analyzer(aws):
    analyzers(aws)
    result = analyzer_result(aws, "eu-west-1")
    assert result.status == Status.FAIL
    assert result.reason == "no IAM Access Analyzer in eu-west-1"


def test_unused_access_analyzer_alone_fails(aws):
    analyzers(aws, analyzer("unused", "ACCOUNT_UNUSED_ACCESS"))
    result = analyzer_result(aws)
    assert result.status == Status.FAIL
    assert "none analyses external access" in result.reason


def test_failed_analyzer_fails_with_its_reason(aws):
    analyzers(
        aws,
        analyzer(
            "org",
            "ORGANIZATION",
            "FAILED",
            statusReason={"code": "SERVICE_LINKED_ROLE_CREATION_FAILED"},
        ),
    )
    result = analyzer_result(aws)
    assert result.status == Status.FAIL
    assert "FAILED (SERVICE_LINKED_ROLE_CREATION_FAILED)" in result.reason


# -- The account --------------------------------------------------------------


def account_result(aws, control_id: str):
    return only(control_id, collect("account", session=aws))


def test_security_contact_registered_passes(aws):
    aws.client("account").put_alternate_contact(
        AlternateContactType="SECURITY",
        EmailAddress="soc@example.com",
        Name="SOC",
        PhoneNumber="+1-555-0100",
        Title="Security operations",
    )
    result = account_result(aws, "account.security-contact")
    assert result.status == Status.PASS
    assert result.reason == "security contact: SOC <soc@example.com>"


def test_missing_security_contact_fails(aws):
    result = account_result(aws, "account.security-contact")
    assert result.status == Status.FAIL


def test_denied_alternate_contact_is_error(aws):
    deny(aws, "account", "GetAlternateContact", "AccessDeniedException")
    assert account_result(aws, "account.security-contact").status == Status.ERROR


def test_organization_management_account_passes(aws):
    org = aws.client("organizations").create_organization(FeatureSet="ALL")
    result = account_result(aws, "account.organizations-member")
    assert result.status == Status.PASS
    assert result.reason == (
        f"management account of organization {org['Organization']['Id']} "
        "(feature set ALL)"
    )


def test_member_account_passes(aws):
    answer(
        aws,
        "organizations",
        "DescribeOrganization",
        lambda request: {
            "Organization": {
                "Id": "o-a1b2c3d4e5",
                "Arn": "arn:aws:organizations::210987654321:organization/o-a1b2c3d4e5",
                "FeatureSet": "ALL",
                "MasterAccountId": "210987654321",
            }
        },
    )
    result = account_result(aws, "account.organizations-member")
    assert result.status == Status.PASS
    assert result.reason.startswith("member of organization o-a1b2c3d4e5")


def test_standalone_account_fails(aws):
    result = account_result(aws, "account.organizations-member")
    assert result.status == Status.FAIL


def test_denied_organization_is_error(aws):
    deny(aws, "organizations", "DescribeOrganization", "AccessDeniedException")
    assert account_result(aws, "account.organizations-member").status == Status.ERROR


# -- IAM: identity federation -------------------------------------------------

# IAM wants 1,000+ characters of metadata; moto does not parse it.
SAML_METADATA = (
    '<?xml version="1.0"?><EntityDescriptor '
    'xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">'
    "<!--" + "x" * 1000 + "--></EntityDescriptor>"
)
FEDERATION = "iam.identity-federation-configured"


def no_identity_center(aws) -> None:
    # moto invents an ACTIVE instance in every account; AWS has none unless
    # IAM Identity Center was enabled.
    answer(aws, "sso-admin", "ListInstances", lambda request: {"Instances": []})


def federation(aws):
    return results(FEDERATION, collect("iam", session=aws))[ACCOUNT_ID]


def test_saml_provider_passes(aws):
    no_identity_center(aws)
    aws.client("iam").create_saml_provider(
        Name="corp-idp", SAMLMetadataDocument=SAML_METADATA
    )
    result = federation(aws)
    assert result.status == Status.PASS
    assert result.reason == "SAML identity provider corp-idp"


def test_identity_center_instance_passes(aws):
    result = federation(aws)  # moto's own instance
    assert result.status == Status.PASS
    assert result.reason.startswith("IAM Identity Center instance arn:aws:sso:::")


def test_no_federation_fails_even_with_oidc_providers(aws):
    no_identity_center(aws)
    aws.client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )
    result = federation(aws)
    assert result.status == Status.FAIL
    assert result.reason == (
        "no SAML identity provider and no IAM Identity Center instance; "
        "the 1 OIDC provider(s) serve workloads, not people"
    )


def test_unreadable_identity_center_is_error_without_saml(aws):
    deny(aws, "sso-admin", "ListInstances", "AccessDeniedException")
    result = federation(aws)
    assert result.status == Status.ERROR
    assert "IdentityCenterInstances" in result.reason


def test_identity_center_passes_even_if_saml_listing_is_denied(aws):
    deny(aws, "iam", "ListSAMLProviders")
    assert federation(aws).status == Status.PASS
