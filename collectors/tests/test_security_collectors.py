"""The security-service collectors: KMS, Secrets Manager, ACM, Backup, Support,
Access Analyzer, Systems Manager, the account record and IAM federation.

moto builds what it can. Where it lacks a call (Access Analyzer, Trusted
Advisor results, SSM instance information and patch states, the Backup
selection, recovery-point and protected-resource listings) a botocore
``before-call`` handler answers in its place; every such answer is validated
against the operation's output shape in the botocore model, as botocore's
Stubber does, so it is a response AWS could send.
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from findings.testing import ACCOUNT_ID, collect, deny

NOW = datetime.now(UTC)


def answer(session: boto3.Session, service: str, operation: str, respond) -> list:
    """Answer ``service.operation`` with ``respond(request)``; returns the requests.

    ``request`` holds the call's serialized parameters (JSON body and query
    string merged, plus ``url_path``).
    """
    requests: list[dict] = []

    def handler(model, params, **kwargs):
        request = dict(params.get("query_string") or {})
        if params.get("body"):
            request.update(json.loads(params["body"]))
        request["url_path"] = params.get("url_path", "")
        requests.append(request)
        parsed = respond(request)
        validate_parameters(parsed, model.output_shape)
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.{service}.{operation}", handler)
    return requests


def by_id(records, resource_type=None):
    return {
        r.resource_id: r
        for r in records
        if resource_type is None or r.resource_type == resource_type
    }


def same_configs(first, second) -> bool:
    dump = lambda records: json.dumps(  # noqa: E731
        {r.resource_id: r.config for r in records}, sort_keys=True
    )
    return dump(first) == dump(second)


# -- KMS ----------------------------------------------------------------------

KEY = "AWS::KMS::Key"


def test_customer_key_carries_policy_rotation_aliases_and_tags(aws):
    kms = aws.client("kms")
    key_id = kms.create_key(
        Description="orders data", Tags=[{"TagKey": "team", "TagValue": "orders"}]
    )["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key_id)
    kms.enable_key_rotation(KeyId=key_id)

    key = by_id(collect("kms", session=aws))[key_id]

    assert key.resource_type == KEY
    assert key.name == "alias/orders"
    assert key.arn.endswith(f":key/{key_id}")
    assert key.tags == {"team": "orders"}
    config = key.config
    assert config["KeyMetadata"]["KeyManager"] == "CUSTOMER"
    assert config["Aliases"] == ["alias/orders"]
    assert config["KeyPolicy"]["Statement"][0]["Effect"] == "Allow"  # parsed
    assert config["KeyRotation"]["KeyRotationEnabled"] is True
    assert "_errors" not in config


def test_rotation_is_asked_only_where_kms_can_rotate(aws):
    kms = aws.client("kms")
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    doomed = kms.create_key(Description="old")
    kms.schedule_key_deletion(KeyId=doomed["KeyMetadata"]["KeyId"])
    deny(aws, "kms", "GetKeyRotationStatus")  # would show up in _errors

    keys = by_id(collect("kms", session=aws))

    signing_config = keys[signing["KeyMetadata"]["KeyId"]].config
    assert "KeyRotation" not in signing_config and "_errors" not in signing_config
    doomed_config = keys[doomed["KeyMetadata"]["KeyId"]].config
    assert doomed_config["KeyMetadata"]["KeyState"] == "PendingDeletion"
    # A key pending deletion cannot be used: its policy is not read either.
    assert "KeyPolicy" not in doomed_config and "KeyRotation" not in doomed_config


def test_aws_managed_key_gets_no_customer_key_calls(aws):
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    original = kms.describe_key(KeyId=key_id)

    def aws_managed(request):
        metadata = {**original["KeyMetadata"], "KeyManager": "AWS"}
        return {"KeyMetadata": metadata}

    answer(aws, "kms", "DescribeKey", aws_managed)
    for operation in ("GetKeyPolicy", "ListResourceTags", "GetKeyRotationStatus"):
        deny(aws, "kms", operation)

    config = by_id(collect("kms", session=aws))[key_id].config

    assert config["KeyMetadata"]["KeyManager"] == "AWS"
    assert set(config) == {"KeyMetadata", "Aliases"}


def test_denied_key_calls_are_recorded(aws):
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    deny(aws, "kms", "GetKeyPolicy")
    deny(aws, "kms", "ListResourceTags")

    config = by_id(collect("kms", session=aws))[key_id].config

    assert set(config["_errors"]) == {"KeyPolicy", "Tags"}
    assert config["_errors"]["KeyPolicy"].startswith("access_denied")
    assert config["KeyPolicy"] is None
    assert config["KeyRotation"] == {"KeyRotationEnabled": False}


def test_denied_describe_key_keeps_the_key_as_unknown(aws):
    key_id = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    deny(aws, "kms", "DescribeKey")

    config = by_id(collect("kms", session=aws))[key_id].config

    assert config["KeyMetadata"] is None
    assert "access_denied" in config["_errors"]["KeyMetadata"]


def test_key_deleted_after_listing_is_skipped(aws):
    aws.client("kms").create_key()
    deny(aws, "kms", "DescribeKey", code="NotFoundException")

    assert collect("kms", session=aws) == []


def test_list_keys_follows_markers(aws):
    kms = aws.client("kms")
    ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]

    def pages(request):
        if request.get("Marker") == "page-2":
            return {"Keys": [{"KeyId": ids[2]}], "Truncated": False}
        keys = [{"KeyId": key_id} for key_id in ids[:2]]
        return {"Keys": keys, "Truncated": True, "NextMarker": "page-2"}

    requests = answer(aws, "kms", "ListKeys", pages)

    assert sorted(by_id(collect("kms", session=aws))) == sorted(ids)
    assert [r.get("Marker") for r in requests] == [None, "page-2"]


def test_denied_key_listing_raises(aws):
    deny(aws, "kms", "ListKeys")
    with pytest.raises(ClientError):
        collect("kms", session=aws)


def test_kms_config_is_stable(aws):
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    first = collect("kms", session=aws)
    kms.encrypt(KeyId=key_id, Plaintext=b"x")  # use is not a change
    assert same_configs(first, collect("kms", session=aws))


# -- Secrets Manager ----------------------------------------------------------


def test_secret_record_keeps_rotation_and_drops_volatile_fields(aws):
    secrets = aws.client("secretsmanager")
    arn = secrets.create_secret(
        Name="prod/db", SecretString="s3cr3t", Tags=[{"Key": "app", "Value": "db"}]
    )["ARN"]
    secrets.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30})

    secret = by_id(collect("secretsmanager", session=aws))[arn]

    assert (secret.resource_type, secret.name) == (
        "AWS::SecretsManager::Secret",
        "prod/db",
    )
    assert secret.tags == {"app": "db"}
    config = secret.config
    assert config["RotationEnabled"] is True
    assert config["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert "LastRotatedDate" in config and "CreatedDate" in config
    for volatile in ("LastAccessedDate", "LastChangedDate", "SecretVersionsToStages"):
        assert volatile not in config
    assert "s3cr3t" not in json.dumps(config)


def test_reading_a_secret_does_not_change_its_record(aws):
    secrets = aws.client("secretsmanager")
    arn = secrets.create_secret(Name="api-key", SecretString="k")["ARN"]
    first = collect("secretsmanager", session=aws)

    secrets.get_secret_value(SecretId=arn)  # moves LastAccessedDate

    assert same_configs(first, collect("secretsmanager", session=aws))


def test_denied_secret_listing_raises(aws):
    deny(aws, "secrets-manager", "ListSecrets")
    with pytest.raises(ClientError):
        collect("secretsmanager", session=aws)


# -- ACM ----------------------------------------------------------------------

CERTIFICATE = "AWS::CertificateManager::Certificate"


def self_signed(domain: str, days: int = 365):
    """An ECDSA certificate and key (PEM), valid for ``days`` from now."""
    key = ec.generate_private_key(ec.SECP256R1())
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
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def import_certificate(session, domain: str, days: int = 365) -> str:
    cert, key = self_signed(domain, days)
    return session.client("acm").import_certificate(Certificate=cert, PrivateKey=key)[
        "CertificateArn"
    ]


def test_certificates_of_every_key_type_are_described(aws):
    arn = import_certificate(aws, "shop.example.com")
    listed = []
    aws.events.register(
        "provide-client-params.acm.ListCertificates",
        lambda params, **kwargs: listed.append(params),
    )

    cert = by_id(collect("acm", session=aws))[arn]

    # Without Includes, ACM lists only RSA_1024 and RSA_2048 certificates.
    assert "EC_prime256v1" in listed[0]["Includes"]["keyTypes"]
    assert (cert.resource_type, cert.name) == (CERTIFICATE, "shop.example.com")
    assert cert.config["KeyAlgorithm"] == "EC_prime256v1"
    assert cert.config["Status"] == "ISSUED"
    assert cert.config["InUseBy"] == []
    assert "_errors" not in cert.config


def test_certificate_in_use_names_its_users(aws):
    arn = import_certificate(aws, "api.example.com")
    aws.client("elb").create_load_balancer(
        LoadBalancerName="api",
        Listeners=[
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstanceProtocol": "HTTP",
                "InstancePort": 80,
                "SSLCertificateId": arn,
            }
        ],
        AvailabilityZones=["us-east-1a"],
    )

    cert = by_id(collect("acm", session=aws))[arn]

    assert len(cert.config["InUseBy"]) == 1


def test_denied_describe_keeps_the_summary(aws):
    arn = import_certificate(aws, "old.example.com")
    deny(aws, "acm", "DescribeCertificate")

    config = by_id(collect("acm", session=aws))[arn].config

    assert config["KeyAlgorithm"] == "EC_prime256v1"
    assert "InUseBy" not in config
    assert config["_errors"]["Certificate"].startswith("access_denied")


def test_denied_certificate_listing_raises(aws):
    deny(aws, "acm", "ListCertificates")
    with pytest.raises(ClientError):
        collect("acm", session=aws)


# -- Backup -------------------------------------------------------------------

PLAN = "AWS::Backup::BackupPlan"
VAULT = "AWS::Backup::BackupVault"
PROTECTED = "AWS::Backup::ProtectedResources"
REGION = "us-east-1"
VOLUME_ARN = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:volume/vol-0123456789abcdef0"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders"
VAULT_ARN_PREFIX = f"arn:aws:backup:{REGION}:{ACCOUNT_ID}:backup-vault:"


def make_plan(session, name: str = "daily") -> str:
    backup = session.client("backup")
    backup.create_backup_vault(BackupVaultName="main")
    return backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": name,
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "main"}],
        }
    )["BackupPlanId"]


def recovery_point(arn: str, encrypted: bool, created: datetime = NOW) -> dict:
    return {
        "RecoveryPointArn": f"arn:aws:ec2:{REGION}::snapshot/snap-{arn[-4:]}",
        "BackupVaultName": "main",
        "ResourceArn": arn,
        "ResourceType": "EBS",
        "ResourceName": "data-volume",
        "Status": "COMPLETED",
        "CreationDate": created,
        "IsEncrypted": encrypted,
        "LastRestoreTime": NOW,
    }


def stub_backup_listings(
    session, *, selections=(), points=(), protected=()
) -> dict[str, list]:
    """moto lacks these three listings: answer them as AWS does."""
    return {
        "selections": answer(
            session,
            "backup",
            "ListBackupSelections",
            lambda request: {"BackupSelectionsList": list(selections)},
        ),
        "points": answer(
            session,
            "backup",
            "ListRecoveryPointsByBackupVault",
            lambda request: {"RecoveryPoints": list(points)},
        ),
        "protected": answer(
            session,
            "backup",
            "ListProtectedResources",
            lambda request: {"Results": list(protected)},
        ),
    }


def test_backup_records_plans_vaults_and_protection(aws):
    plan_id = make_plan(aws)
    backup = aws.client("backup")
    backup.tag_resource(
        ResourceArn=backup.describe_backup_vault(BackupVaultName="main")[
            "BackupVaultArn"
        ],
        Tags={"criticality": "high"},
    )
    backup.put_backup_vault_lock_configuration(
        BackupVaultName="main", MinRetentionDays=35
    )
    selection = {
        "SelectionId": "sel-1",
        "SelectionName": "tagged",
        "BackupPlanId": plan_id,
        "CreationDate": NOW,
        "IamRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/backup",
    }
    stub_backup_listings(
        aws,
        selections=[selection],
        points=[recovery_point(VOLUME_ARN, False), recovery_point(TABLE_ARN, True)],
        protected=[
            {
                "ResourceArn": VOLUME_ARN,
                "ResourceType": "EBS",
                "LastBackupTime": NOW - timedelta(hours=3),
            },
            {
                "ResourceArn": TABLE_ARN,
                "ResourceType": "DynamoDB",
                "LastBackupTime": NOW - timedelta(days=5),
            },
        ],
    )

    records = collect("backup", session=aws, now=NOW)

    plans = by_id(records, PLAN)[REGION].config["BackupPlans"]
    assert [p["BackupPlanName"] for p in plans] == ["daily"]
    assert plans[0]["BackupSelections"][0]["SelectionName"] == "tagged"
    vault = by_id(records, VAULT)["main"]
    assert vault.tags == {"criticality": "high"}
    assert vault.config["Locked"] is True and vault.config["MinRetentionDays"] == 35
    assert "NumberOfRecoveryPoints" not in vault.config
    assert vault.config["HasRecoveryPoints"] is True
    (unencrypted,) = vault.config["UnencryptedRecoveryPoints"]
    assert unencrypted["ResourceArn"] == VOLUME_ARN
    assert "LastRestoreTime" not in unencrypted
    protected = by_id(records, PROTECTED)[REGION].config["ProtectedResources"]
    assert protected[0] == {
        "ResourceArn": TABLE_ARN,
        "ResourceType": "DynamoDB",
        "BackedUpInLast48Hours": False,
        "LastBackupTime": (NOW - timedelta(days=5)).isoformat(),
    }
    # A recent backup is only a flag: the next one will not change the record.
    assert protected[1] == {
        "ResourceArn": VOLUME_ARN,
        "ResourceType": "EBS",
        "BackedUpInLast48Hours": True,
    }


def test_empty_region_still_has_its_region_records(aws):
    stub_backup_listings(aws)

    records = collect("backup", session=aws)

    assert {(r.resource_type, r.resource_id) for r in records} == {
        (PLAN, REGION),
        (PROTECTED, REGION),
    }
    assert by_id(records, PLAN)[REGION].config == {"BackupPlans": []}
    assert by_id(records, PROTECTED)[REGION].config == {"ProtectedResources": []}


def test_failed_backup_sub_listings_are_recorded(aws):
    plan_id = make_plan(aws)
    for operation in (
        "ListBackupSelections",
        "ListRecoveryPointsByBackupVault",
        "ListProtectedResources",
    ):
        deny(aws, "backup", operation)

    records = collect("backup", session=aws)

    plan = by_id(records, PLAN)[REGION].config
    assert plan["BackupPlans"][0]["BackupSelections"] is None
    assert set(plan["_errors"]) == {f"BackupSelections:{plan_id}"}
    vault = by_id(records, VAULT)["main"].config
    assert set(vault["_errors"]) == {"UnencryptedRecoveryPoints"}
    assert "HasRecoveryPoints" not in vault
    protected = by_id(records, PROTECTED)[REGION].config
    assert set(protected["_errors"]) == {"ProtectedResources"}


def test_backup_vault_listing_follows_next_tokens(aws):
    stub_backup_listings(aws)

    def vault(name: str) -> dict:
        return {
            "BackupVaultName": name,
            "BackupVaultArn": f"{VAULT_ARN_PREFIX}{name}",
            "CreationDate": NOW,
            "NumberOfRecoveryPoints": 3,
            "Locked": False,
        }

    def pages(request):
        if request.get("nextToken") == "page-2":
            return {"BackupVaultList": [vault("second")]}
        return {"BackupVaultList": [vault("first")], "NextToken": "page-2"}

    answer(aws, "backup", "ListBackupVaults", pages)
    answer(aws, "backup", "ListTags", lambda request: {"Tags": {}})

    vaults = by_id(collect("backup", session=aws), VAULT)

    assert sorted(vaults) == ["first", "second"]


def test_denied_backup_plan_listing_raises(aws):
    deny(aws, "backup", "ListBackupPlans")
    with pytest.raises(ClientError):
        collect("backup", session=aws)


# -- Support (Trusted Advisor) ------------------------------------------------

TRUSTED_ADVISOR = "AWS::TrustedAdvisor::SecurityChecks"
CHECKS = [
    ("12Fnkpl8Y5", "Exposed Access Keys", "security"),
    ("HCP4007jGY", "Security Groups - Specific Ports Unrestricted", "security"),
    ("Qch7DwouX1", "Low Utilization Amazon EC2 Instances", "cost_optimizing"),
]


def stub_checks(session, statuses: dict[str, str]) -> list:
    answer(
        session,
        "support",
        "DescribeTrustedAdvisorChecks",
        lambda request: {
            "checks": [
                {
                    "id": check_id,
                    "name": name,
                    "description": name,
                    "category": category,
                    "metadata": ["Region", "Resource"],
                }
                for check_id, name, category in CHECKS
            ]
        },
    )

    def result(request):
        check_id = request["checkId"]
        return {
            "result": {
                "checkId": check_id,
                "timestamp": NOW.isoformat(),
                "status": statuses[check_id],
                "resourcesSummary": {
                    "resourcesProcessed": 10,
                    "resourcesFlagged": 2 if statuses[check_id] != "ok" else 0,
                    "resourcesIgnored": 0,
                    "resourcesSuppressed": 0,
                },
                "categorySpecificSummary": {},
                "flaggedResources": [],
            }
        }

    return answer(session, "support", "DescribeTrustedAdvisorCheckResult", result)


def test_trusted_advisor_security_check_statuses(aws):
    requests = stub_checks(aws, {"12Fnkpl8Y5": "error", "HCP4007jGY": "ok"})

    (record,) = collect("support", session=aws)

    assert (record.resource_type, record.resource_id) == (TRUSTED_ADVISOR, ACCOUNT_ID)
    assert record.region == "global"
    assert record.config == {
        "SubscriptionRequired": False,
        "Checks": [
            {
                "id": "12Fnkpl8Y5",
                "name": "Exposed Access Keys",
                "status": "error",
                "resourcesFlagged": 2,
            },
            {
                "id": "HCP4007jGY",
                "name": "Security Groups - Specific Ports Unrestricted",
                "status": "ok",
                "resourcesFlagged": 0,
            },
        ],
    }
    # Only the security checks' results are asked for.
    assert [r["checkId"] for r in requests] == ["12Fnkpl8Y5", "HCP4007jGY"]


def test_basic_support_is_recorded_as_subscription_required(aws):
    deny(
        aws, "support", "DescribeTrustedAdvisorChecks", "SubscriptionRequiredException"
    )

    (record,) = collect("support", session=aws)

    assert record.config == {"SubscriptionRequired": True, "Checks": None}


def test_failed_check_result_stops_further_result_calls(aws):
    calls = []
    aws.events.register(
        "before-call.support.DescribeTrustedAdvisorCheckResult",
        lambda **kwargs: calls.append(1),
    )
    # The first handler that answers wins: the denial, not the stub below.
    deny(aws, "support", "DescribeTrustedAdvisorCheckResult")
    stub_checks(aws, {})

    (record,) = collect("support", session=aws)

    assert [c["status"] for c in record.config["Checks"]] == [None, None]
    assert record.config["_errors"]["CheckResults"].startswith("access_denied")
    assert len(calls) == 1


def test_denied_trusted_advisor_listing_raises(aws):
    deny(aws, "support", "DescribeTrustedAdvisorChecks")
    with pytest.raises(ClientError):
        collect("support", session=aws)


# -- Access Analyzer ----------------------------------------------------------

ANALYZER = "AWS::AccessAnalyzer::Analyzer"


def analyzer(name: str, kind: str = "ACCOUNT", status: str = "ACTIVE") -> dict:
    return {
        "arn": f"arn:aws:access-analyzer:{REGION}:{ACCOUNT_ID}:analyzer/{name}",
        "name": name,
        "type": kind,
        "createdAt": NOW,
        "lastResourceAnalyzed": "arn:aws:s3:::some-bucket",
        "lastResourceAnalyzedAt": NOW,
        "status": status,
        "tags": {"team": "security"},
    }


def test_analyzers_of_a_region_across_pages(aws):
    def pages(request):
        if request.get("nextToken") == "page-2":
            return {"analyzers": [analyzer("unused", "ACCOUNT_UNUSED_ACCESS")]}
        return {"analyzers": [analyzer("external")], "nextToken": "page-2"}

    answer(aws, "accessanalyzer", "ListAnalyzers", pages)

    (record,) = collect("accessanalyzer", "eu-west-1", session=aws)

    assert (record.resource_type, record.resource_id) == (ANALYZER, "eu-west-1")
    names = [a["name"] for a in record.config["analyzers"]]
    assert names == ["external", "unused"]
    assert "lastResourceAnalyzedAt" not in record.config["analyzers"][0]


def test_region_without_analyzers_still_has_a_record(aws):
    answer(aws, "accessanalyzer", "ListAnalyzers", lambda request: {"analyzers": []})

    (record,) = collect("accessanalyzer", session=aws)

    assert record.config == {"analyzers": []}


def test_denied_analyzer_listing_raises(aws):
    deny(aws, "accessanalyzer", "ListAnalyzers", "AccessDeniedException")
    with pytest.raises(ClientError):
        collect("accessanalyzer", session=aws)


# -- Systems Manager ----------------------------------------------------------

PATCH_COMPLIANCE = "AWS::SSM::PatchCompliance"


def instance_information(instance_id: str, ping: str = "Online") -> dict:
    return {
        "InstanceId": instance_id,
        "PingStatus": ping,
        "LastPingDateTime": NOW,
        "AgentVersion": "3.3.40.0",
        "IsLatestVersion": False,
        "PlatformType": "Linux",
        "PlatformName": "Amazon Linux",
        "PlatformVersion": "2023",
        "ResourceType": "EC2Instance",
        "ComputerName": f"{instance_id}.ec2.internal",
        "AssociationStatus": "Success",
        "LastAssociationExecutionDate": NOW,
    }


def patch_state(instance_id: str, missing: int = 0, failures: int = 0) -> dict:
    return {
        "InstanceId": instance_id,
        "PatchGroup": "web",
        "BaselineId": "pb-0123456789abcdef0",
        "SnapshotId": "4b2a1c3d-0000-4000-8000-000000000000",
        "InstalledCount": 120,
        "MissingCount": missing,
        "FailedCount": failures,
        "NotApplicableCount": 400,
        "OperationStartTime": NOW - timedelta(minutes=5),
        "OperationEndTime": NOW,
        "Operation": "Scan",
    }


def stub_ssm(session, instances: list[dict], states: list[dict]) -> dict:
    pages_seen = answer(
        session,
        "ssm",
        "DescribeInstanceInformation",
        lambda request: (
            {"InstanceInformationList": instances[50:]}
            if request.get("NextToken") == "page-2"
            else {
                "InstanceInformationList": instances[:50],
                **({"NextToken": "page-2"} if len(instances) > 50 else {}),
            }
        ),
    )
    by_instance = {s["InstanceId"]: s for s in states}
    batches = answer(
        session,
        "ssm",
        "DescribeInstancePatchStates",
        lambda request: {
            "InstancePatchStates": [
                by_instance[i] for i in request["InstanceIds"] if i in by_instance
            ]
        },
    )
    return {"pages": pages_seen, "batches": batches}


def test_managed_instances_carry_information_and_patch_state(aws):
    stub_ssm(
        aws,
        [
            instance_information("i-0aaa"),
            instance_information("mi-0bbb", "ConnectionLost"),
        ],
        [patch_state("i-0aaa", missing=3)],
    )

    records = by_id(collect("ssm", session=aws))

    ec2_node, hybrid = records["i-0aaa"], records["mi-0bbb"]
    assert ec2_node.resource_type == PATCH_COMPLIANCE
    assert ec2_node.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/i-0aaa"
    assert hybrid.arn == f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:managed-instance/mi-0bbb"
    information = ec2_node.config["InstanceInformation"]
    assert information["PingStatus"] == "Online"
    assert "LastPingDateTime" not in information
    assert "AssociationStatus" not in information
    state = ec2_node.config["PatchState"]
    assert (state["MissingCount"], state["FailedCount"]) == (3, 0)
    assert "OperationEndTime" not in state and "SnapshotId" not in state
    assert hybrid.config["PatchState"] is None  # never scanned


def test_patch_states_are_asked_fifty_instances_at_a_time(aws):
    instances = [instance_information(f"i-{n:04d}") for n in range(60)]
    seen = stub_ssm(aws, instances, [])

    records = collect("ssm", session=aws)

    assert len(records) == 60
    assert len(seen["pages"]) == 2  # both pages of instance information
    assert [len(b["InstanceIds"]) for b in seen["batches"]] == [50, 10]


def test_denied_patch_states_are_recorded_on_each_instance(aws):
    answer(
        aws,
        "ssm",
        "DescribeInstanceInformation",
        lambda request: {"InstanceInformationList": [instance_information("i-0aaa")]},
    )
    deny(aws, "ssm", "DescribeInstancePatchStates", "AccessDeniedException")

    (record,) = collect("ssm", session=aws)

    assert record.config["InstanceInformation"]["PingStatus"] == "Online"
    assert record.config["_errors"]["PatchState"].startswith("access_denied")


def test_denied_instance_information_raises(aws):
    deny(aws, "ssm", "DescribeInstanceInformation", "AccessDeniedException")
    with pytest.raises(ClientError):
        collect("ssm", session=aws)


# -- The account --------------------------------------------------------------

ACCOUNT = "AWS::::Account"


def test_account_without_contact_or_organization(aws):
    (record,) = collect("account", session=aws)

    assert (record.resource_type, record.resource_id) == (ACCOUNT, ACCOUNT_ID)
    assert record.config == {"SecurityContact": None, "Organization": None}


def test_account_with_security_contact_and_organization(aws):
    aws.client("account").put_alternate_contact(
        AlternateContactType="SECURITY",
        EmailAddress="security@example.com",
        Name="Security team",
        PhoneNumber="+1-555-0100",
        Title="SOC",
    )
    org = aws.client("organizations").create_organization(FeatureSet="ALL")

    (record,) = collect("account", session=aws)

    assert record.config["SecurityContact"] == {
        "Name": "Security team",
        "Title": "SOC",
        "EmailAddress": "security@example.com",
        "PhoneNumber": "+1-555-0100",
    }
    organization = record.config["Organization"]
    assert organization["Id"] == org["Organization"]["Id"]
    assert organization["MasterAccountId"] == ACCOUNT_ID
    assert "AvailablePolicyTypes" not in organization


def test_denied_account_calls_are_recorded(aws):
    deny(aws, "account", "GetAlternateContact", "AccessDeniedException")
    deny(aws, "organizations", "DescribeOrganization", "AccessDeniedException")

    (record,) = collect("account", session=aws)

    assert set(record.config["_errors"]) == {"SecurityContact", "Organization"}
    assert record.config["SecurityContact"] is None


# -- IAM: identity federation -------------------------------------------------

SUMMARY = "AWS::IAM::AccountSummary"
# IAM wants 1,000+ characters of metadata; moto does not parse it.
SAML_METADATA = (
    '<?xml version="1.0"?><EntityDescriptor '
    'xmlns="urn:oasis:names:tc:SAML:2.0:metadata" '
    'entityID="https://idp.example.com/saml"><IDPSSODescriptor '
    'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<KeyDescriptor use="signing"><KeyInfo '
    'xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>'
    + "MIIC"
    + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * 30
    + "</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
    "</IDPSSODescriptor></EntityDescriptor>"
)


def test_summary_lists_identity_providers_and_identity_center(aws):
    iam = aws.client("iam")
    iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=SAML_METADATA)
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )
    scopes = []
    aws.events.register(
        "provide-client-params.sso-admin.ListInstances",
        lambda params, **kwargs: scopes.append(params.get("RegionScope")),
    )

    config = by_id(collect("iam", session=aws), SUMMARY)[ACCOUNT_ID].config

    assert [p["Arn"] for p in config["SAMLProviders"]] == [
        f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/corp-idp"
    ]
    assert config["OpenIDConnectProviders"] == [
        f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
    ]
    # moto invents an ACTIVE Identity Center instance in every account.
    assert [i["Status"] for i in config["IdentityCenterInstances"]] == ["ACTIVE"]
    # The instance lives in one home region: one call finds it in any.
    assert scopes == ["ALL_REGIONS"]


def test_denied_identity_center_listing_is_recorded(aws):
    deny(aws, "sso-admin", "ListInstances", "AccessDeniedException")

    config = by_id(collect("iam", session=aws), SUMMARY)[ACCOUNT_ID].config

    assert "IdentityCenterInstances" not in config
    assert config["_errors"]["IdentityCenterInstances"].startswith("access_denied")
    assert config["SAMLProviders"] == []
