"""AWS Backup controls, evaluated on what the real collector reads.

moto builds vaults (tags, Vault Lock) and plans; it lacks the selection,
recovery-point and protected-resource listings, which a botocore
``before-call`` handler answers with responses validated against the
operation's output shape. backup.resources-protected also reads the region's
EC2 volumes (built in moto) and RDS instances and DynamoDB tables (records in
the shape their collectors store).
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls.base import Status
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


# -- Backup -------------------------------------------------------------------

PLAN = "AWS::Backup::BackupPlan"
VAULT = "AWS::Backup::BackupVault"
PROTECTED = "AWS::Backup::ProtectedResources"


def stub_backup(aws, *, selections=(), points=(), protected=()) -> None:
    answer(
        aws,
        "backup",
        "ListBackupSelections",
        lambda request: {
            "BackupSelectionsList": [
                {"SelectionId": f"sel-{n}", "SelectionName": name}
                for n, name in enumerate(selections)
            ]
        },
    )
    answer(
        aws,
        "backup",
        "ListRecoveryPointsByBackupVault",
        lambda request: {"RecoveryPoints": list(points)},
    )
    answer(
        aws,
        "backup",
        "ListProtectedResources",
        lambda request: {"Results": list(protected)},
    )


def make_vault(aws, name: str = "main", tags: dict | None = None) -> None:
    aws.client("backup").create_backup_vault(
        BackupVaultName=name, BackupVaultTags=tags or {}
    )


def make_plan(aws, name: str = "daily") -> None:
    aws.client("backup").create_backup_plan(
        BackupPlan={
            "BackupPlanName": name,
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "main"}],
        }
    )


def test_plan_with_a_selection_passes(aws):
    make_vault(aws)
    make_plan(aws)
    stub_backup(aws, selections=["tagged backup=daily"])

    result = only("backup.plan-with-selection", collect("backup", session=aws))

    assert result.status == Status.PASS
    assert result.reason == "backup plan daily has 1 backup selection"


def test_plans_without_selections_fail(aws):
    make_vault(aws)
    make_plan(aws, "daily")
    make_plan(aws, "weekly")
    stub_backup(aws)

    result = only("backup.plan-with-selection", collect("backup", session=aws))

    assert result.status == Status.FAIL
    assert "2 backup plans" in result.reason
    assert "none selects any resource" in result.reason


def test_region_without_plans_fails(aws):
    stub_backup(aws)
    records = collect("backup", "eu-west-1", session=aws)
    result = results("backup.plan-with-selection", records)["eu-west-1"]
    assert result.status == Status.FAIL
    assert result.reason == "no AWS Backup plan in eu-west-1"


def test_unreadable_selections_are_error(aws):
    make_vault(aws)
    make_plan(aws)
    deny(aws, "backup", "ListBackupSelections")
    stub_backup(aws)
    result = only("backup.plan-with-selection", collect("backup", session=aws))
    assert result.status == Status.ERROR


RECOVERY_POINT_PREFIX = f"arn:aws:backup:{REGION}:{ACCOUNT_ID}:recovery-point:"


def point(resource: str, encrypted: bool) -> dict:
    return {
        "RecoveryPointArn": f"{RECOVERY_POINT_PREFIX}{resource}",
        "BackupVaultName": "main",
        "ResourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:volume/{resource}",
        "ResourceType": "EBS",
        "ResourceName": resource,
        "Status": "COMPLETED",
        "CreationDate": NOW,
        "IsEncrypted": encrypted,
    }


@pytest.mark.parametrize(
    ("points", "expected", "reason"),
    [
        ([point("vol-a", True)], Status.PASS, "every recovery point"),
        (
            [point("vol-a", True), point("vol-b", False)],
            Status.FAIL,
            "1 recovery point not encrypted: backups of EBS vol-b",
        ),
        ([], Status.NOT_APPLICABLE, "the vault holds no recovery points"),
    ],
)
def test_recovery_points_encrypted(aws, points, expected, reason):
    make_vault(aws)
    stub_backup(aws, points=points)

    result = results(
        "backup.recovery-points-encrypted", collect("backup", session=aws)
    )["main"]

    assert result.status == expected
    assert reason in result.reason


def test_unlisted_recovery_points_are_error(aws):
    make_vault(aws)
    deny(aws, "backup", "ListRecoveryPointsByBackupVault")
    stub_backup(aws)
    result = results(
        "backup.recovery-points-encrypted", collect("backup", session=aws)
    )["main"]
    assert result.status == Status.ERROR


def test_critical_vault_must_be_locked(aws):
    make_vault(aws, "locked", {"criticality": "high"})
    make_vault(aws, "open", {"criticality": "high"})
    make_vault(aws, "scratch")
    aws.client("backup").put_backup_vault_lock_configuration(
        BackupVaultName="locked", MinRetentionDays=35, ChangeableForDays=3
    )
    stub_backup(aws)

    outcome = results("backup.vault-locked", collect("backup", session=aws))

    assert outcome["locked"].status == Status.PASS
    assert "35+ days" in outcome["locked"].reason
    assert outcome["open"].status == Status.FAIL
    assert outcome["open"].reason == (
        "tagged criticality=high but Vault Lock is not applied"
    )
    assert outcome["scratch"].status == Status.NOT_APPLICABLE


def test_unreadable_vault_tags_are_error(aws):
    make_vault(aws, "locked", {"criticality": "high"})
    deny(aws, "backup", "ListTags")
    stub_backup(aws)
    result = results("backup.vault-locked", collect("backup", session=aws))["locked"]
    assert result.status == Status.ERROR


# backup.resources-protected reads the EC2, RDS and DynamoDB records of the
# region; RDS and DynamoDB come from other collectors, so those records are
# built here in the shape of describe_db_instances and describe_table.

VOLUME_ARN = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:volume/vol-0aaa"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders"
AURORA_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:orders-1"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:cluster:orders"


def volume(state: str = "in-use") -> ResourceRecord:
    config = {"VolumeId": "vol-0aaa", "State": state, "Encrypted": True}
    return ResourceRecord(
        "AWS::EC2::Volume", "vol-0aaa", config, VOLUME_ARN, region=REGION
    )


def table() -> ResourceRecord:
    config = {"TableName": "orders", "TableArn": TABLE_ARN}
    return ResourceRecord(
        "AWS::DynamoDB::Table", "orders", config, TABLE_ARN, region=REGION
    )


def aurora_instance() -> ResourceRecord:
    config = {
        "DBInstanceIdentifier": "orders-1",
        "DBInstanceArn": AURORA_ARN,
        "Engine": "aurora-postgresql",
        "DBClusterIdentifier": "orders",
    }
    return ResourceRecord(
        "AWS::RDS::DBInstance", "orders-1", config, AURORA_ARN, region=REGION
    )


def protected(arn: str, hours_ago: float) -> dict:
    return {
        "ResourceArn": arn,
        "ResourceType": arn.split(":")[2],
        "LastBackupTime": NOW - timedelta(hours=hours_ago),
    }


def protection(aws, *entries: dict) -> list:
    stub_backup(aws, protected=entries)
    return collect("backup", session=aws, now=NOW)


@pytest.fixture(scope="module")
def attached_volume():
    """An instance in moto with a data volume attached (and its root volume)."""
    with mock_aws():
        forget_credentials()
        session = new_session(region_name=REGION)
        ec2 = session.client("ec2")
        (instance,) = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)[
            "Instances"
        ]
        zone = instance["Placement"]["AvailabilityZone"]
        volume_id = ec2.create_volume(AvailabilityZone=zone, Size=8)["VolumeId"]
        ec2.attach_volume(
            VolumeId=volume_id, InstanceId=instance["InstanceId"], Device="/dev/sdf"
        )
        records = collect("ec2", session=session)
    forget_credentials()
    yield volume_id, records


def test_volume_in_use_in_moto_without_backup_fails(aws, attached_volume):
    volume_id, ec2_records = attached_volume

    result = only("backup.resources-protected", protection(aws) + ec2_records)

    assert result.status == Status.FAIL
    assert result.reason.startswith("never backed up by AWS Backup: EBS volume ")
    assert f"EBS volume {volume_id}" in result.reason


def test_recently_backed_up_resources_pass(aws):
    records = protection(
        aws,
        protected(VOLUME_ARN, 3),
        protected(TABLE_ARN, 20),
        protected(CLUSTER_ARN, 1),
    )
    records += [volume(), table(), aurora_instance()]

    result = only("backup.resources-protected", records)

    assert result.status == Status.PASS
    assert result.reason == "all 3 resources backed up by AWS Backup within 48 h"


def test_stale_backup_fails_and_unattached_volume_is_ignored(aws):
    records = protection(aws, protected(TABLE_ARN, 24 * 5))
    records += [volume(state="available"), table()]

    result = only("backup.resources-protected", records)

    assert result.status == Status.FAIL
    expected_day = (NOW - timedelta(days=5)).date().isoformat()
    assert result.reason == (
        f"no backup in the last 48 h: DynamoDB table orders (last {expected_day})"
    )


def test_nothing_to_protect_is_not_applicable(aws):
    result = only("backup.resources-protected", protection(aws))
    assert result.status == Status.NOT_APPLICABLE


VOLUMES_DENIED = {("AWS::EC2::Volume", REGION): "Access denied"}


def test_uncollected_resource_type_is_error(aws):
    records = protection(aws, protected(TABLE_ARN, 1)) + [table()]

    result = only("backup.resources-protected", records, uncollected=VOLUMES_DENIED)

    assert result.status == Status.ERROR
    assert "EBS volumes" in result.reason


def test_known_unprotected_resource_fails_despite_an_uncollected_type(aws):
    records = protection(aws) + [table()]
    result = only("backup.resources-protected", records, uncollected=VOLUMES_DENIED)
    assert result.status == Status.FAIL


def test_unlisted_protected_resources_are_error(aws):
    deny(aws, "backup", "ListProtectedResources")
    stub_backup(aws)
    records = collect("backup", session=aws) + [volume()]
    assert only("backup.resources-protected", records).status == Status.ERROR
