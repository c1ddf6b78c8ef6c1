"""RDS controls, evaluated on what the real collectors read from moto.

One moto account is built per module: a well-configured PostgreSQL instance,
a badly configured MySQL one, a read replica, an Oracle instance, a good and
a bad Aurora cluster, snapshots and security groups. The RDS and EC2
collectors run once over it; each test picks its resource out by id. Tests
that deny a call collect again through a session of their own.
"""

from dataclasses import dataclass

import pytest
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import collect, deny, evaluate

PASSWORD = "not-a-real-password"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"


@dataclass
class World:
    session: object
    records: list[ResourceRecord]
    groups: dict[str, str]


def _parameter_group(rds, name, family, parameters, *, cluster=False):
    values = [
        {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"}
        for k, v in parameters.items()
    ]
    if cluster:
        rds.create_db_cluster_parameter_group(
            DBClusterParameterGroupName=name,
            DBParameterGroupFamily=family,
            Description=name,
        )
        if values:
            rds.modify_db_cluster_parameter_group(
                DBClusterParameterGroupName=name, Parameters=values
            )
        return
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily=family, Description=name
    )
    if values:
        rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=values)


def _security_group(ec2, name, vpc_id, **source):
    group_id = ec2.create_security_group(
        GroupName=name, Description=name, VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, **source}
        ],
    )
    return group_id


def _instance(rds, name, engine, **kwargs):
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine=engine,
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        **kwargs,
    )


def _cluster(rds, name, engine, zones, **kwargs):
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=engine,
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        **kwargs,
    )
    for index, zone in enumerate(zones, start=1):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{index}",
            Engine=engine,
            DBInstanceClass="db.r5.large",
            DBClusterIdentifier=name,
            AvailabilityZone=zone,
        )


def build(session) -> dict[str, str]:
    ec2 = session.client("ec2")
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    groups = {
        "private": _security_group(
            ec2, "db-private", vpc_id, IpRanges=[{"CidrIp": "10.0.0.0/8"}]
        ),
        "open4": _security_group(
            ec2, "db-open", vpc_id, IpRanges=[{"CidrIp": "0.0.0.0/0"}]
        ),
        "open6": _security_group(
            ec2, "db-open6", vpc_id, Ipv6Ranges=[{"CidrIpv6": "::/0"}]
        ),
    }
    rds = session.client("rds")
    _parameter_group(rds, "pg-tls", "postgres16", {"rds.force_ssl": "1"})
    _parameter_group(rds, "pg-plain", "postgres16", {})
    _parameter_group(rds, "mysql-plain", "mysql8.0", {"require_secure_transport": "0"})
    _parameter_group(
        rds,
        "aurora-pg-tls",
        "aurora-postgresql15",
        {"rds.force_ssl": "1"},
        cluster=True,
    )
    _instance(
        rds,
        "good-pg",
        "postgres",
        DBParameterGroupName="pg-tls",
        StorageEncrypted=True,
        MultiAZ=True,
        BackupRetentionPeriod=7,
        DeletionProtection=True,
        EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"],
        PubliclyAccessible=False,
        AutoMinorVersionUpgrade=True,
        VpcSecurityGroupIds=[groups["private"]],
    )
    _instance(
        rds,
        "bad-mysql",
        "mysql",
        DBParameterGroupName="mysql-plain",
        StorageEncrypted=False,
        MultiAZ=False,
        BackupRetentionPeriod=1,
        DeletionProtection=False,
        EnableCloudwatchLogsExports=["error"],
        PubliclyAccessible=True,
        AutoMinorVersionUpgrade=False,
        VpcSecurityGroupIds=[groups["private"], groups["open4"]],
    )
    _instance(
        rds,
        "bad-pg",
        "postgres",
        DBParameterGroupName="pg-plain",
        BackupRetentionPeriod=0,
        PubliclyAccessible=False,
        VpcSecurityGroupIds=[groups["open6"]],
    )
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="good-pg-replica", SourceDBInstanceIdentifier="good-pg"
    )
    _instance(rds, "ora", "oracle-ee", PubliclyAccessible=False)
    _cluster(
        rds,
        "aurora-good",
        "aurora-postgresql",
        ["us-east-1a", "us-east-1b"],
        DBClusterParameterGroupName="aurora-pg-tls",
        StorageEncrypted=True,
        DeletionProtection=True,
        BackupRetentionPeriod=14,
        EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=["postgresql"],
    )
    _cluster(
        rds,
        "aurora-bad",
        "aurora-mysql",
        ["us-east-1a"],
        StorageEncrypted=False,
        BackupRetentionPeriod=1,
    )
    for name, shared in (
        ("snap-public", ["all"]),
        ("snap-shared", ["111122223333"]),
        ("snap-private", []),
    ):
        rds.create_db_snapshot(
            DBSnapshotIdentifier=name, DBInstanceIdentifier="good-pg"
        )
        if shared:
            rds.modify_db_snapshot_attribute(
                DBSnapshotIdentifier=name, AttributeName="restore", ValuesToAdd=shared
            )
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="aurora-public", DBClusterIdentifier="aurora-bad"
    )
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="aurora-public",
        AttributeName="restore",
        ValuesToAdd=["all"],
    )
    return groups


@pytest.fixture(scope="module")
def world():
    with mock_aws():
        forget_credentials()
        session = new_session(region_name="us-east-1")
        groups = build(session)
        records = collect("rds", session=session) + collect("ec2", session=session)
        yield World(session, records, groups)
    forget_credentials()


def result(world, control_id, resource_id, **kwargs):
    return evaluate(control_id, world.records, **kwargs)[resource_id]


def without(records, resource_type):
    return [r for r in records if r.resource_type != resource_type]


# -- catalog ------------------------------------------------------------------

CATALOG = [
    # id, severity, (CIS v3, v4), Security Hub
    ("rds.storage-encrypted", Severity.HIGH, ("2.3.1", "2.2.1"), ("RDS.3", "RDS.27")),
    ("rds.not-public", Severity.CRITICAL, ("2.3.3", "2.2.3"), ("RDS.2",)),
    ("rds.multi-az", Severity.MEDIUM, ("", "2.2.4"), ("RDS.5", "RDS.15")),
    ("rds.backup-retention-7d", Severity.MEDIUM, ("", ""), ("RDS.11",)),
    ("rds.deletion-protection", Severity.LOW, ("", ""), ("RDS.8", "RDS.7")),
    ("rds.auto-minor-upgrade", Severity.HIGH, ("2.3.2", "2.2.2"), ("RDS.13",)),
    ("rds.iam-auth", Severity.MEDIUM, ("", ""), ("RDS.10", "RDS.12")),
    ("rds.snapshot.not-public", Severity.CRITICAL, ("", ""), ("RDS.1",)),
    ("rds.logs-exported", Severity.MEDIUM, ("", ""), ("RDS.9",)),
    ("rds.tls-enforced", Severity.MEDIUM, ("", ""), ("RDS.41", "RDS.44")),
    ("rds.sg-no-public-ingress", Severity.HIGH, ("", ""), ()),
]


@pytest.mark.parametrize(("control_id", "severity", "cis", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, cis, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/database/rds"
    assert ctl.severity == severity
    assert (ctl.cis_v3, ctl.cis_v4) == cis
    assert ctl.security_hub == security_hub
    assert ctl.rationale
    assert ctl.remediation
    assert ctl.remediation_cli.startswith("aws ")


def test_no_databases_means_no_findings():
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, []) == {}


# -- instance settings, cluster members judged by their cluster ---------------

CASES = [
    # control, instance, status, words in the reason
    ("rds.storage-encrypted", "good-pg", Status.PASS, "encrypted"),
    ("rds.storage-encrypted", "bad-mysql", Status.FAIL, "StorageEncrypted false"),
    ("rds.storage-encrypted", "aurora-good-1", Status.PASS, "cluster aurora-good"),
    ("rds.storage-encrypted", "aurora-bad-1", Status.FAIL, "cluster aurora-bad"),
    ("rds.not-public", "good-pg", Status.PASS, "PubliclyAccessible is false"),
    ("rds.not-public", "bad-mysql", Status.FAIL, "public IP"),
    ("rds.multi-az", "good-pg", Status.PASS, "instance spans more than one"),
    ("rds.multi-az", "bad-mysql", Status.FAIL, "not Multi-AZ: it runs only in"),
    ("rds.multi-az", "aurora-good-1", Status.PASS, "more than one Availability"),
    ("rds.multi-az", "aurora-bad-1", Status.FAIL, "cluster aurora-bad is not"),
    ("rds.backup-retention-7d", "good-pg", Status.PASS, "7 days"),
    ("rds.backup-retention-7d", "bad-mysql", Status.FAIL, "1 day(s), fewer than 7"),
    ("rds.backup-retention-7d", "bad-pg", Status.FAIL, "turned off"),
    ("rds.backup-retention-7d", "good-pg-replica", Status.NOT_APPLICABLE, "replica"),
    ("rds.backup-retention-7d", "aurora-good-1", Status.PASS, "14 days"),
    ("rds.backup-retention-7d", "aurora-bad-1", Status.FAIL, "cluster aurora-bad"),
    ("rds.deletion-protection", "good-pg", Status.PASS, "on"),
    ("rds.deletion-protection", "bad-mysql", Status.FAIL, "DeletionProtection false"),
    ("rds.deletion-protection", "aurora-good-1", Status.PASS, "cluster aurora-good"),
    ("rds.deletion-protection", "aurora-bad-1", Status.FAIL, "cluster aurora-bad"),
    ("rds.auto-minor-upgrade", "good-pg", Status.PASS, "on"),
    ("rds.auto-minor-upgrade", "bad-mysql", Status.FAIL, "stays on"),
    ("rds.iam-auth", "good-pg", Status.PASS, "IAM"),
    ("rds.iam-auth", "bad-mysql", Status.FAIL, "only database passwords"),
    ("rds.iam-auth", "ora", Status.NOT_APPLICABLE, "oracle-ee"),
    ("rds.iam-auth", "aurora-good-1", Status.PASS, "cluster aurora-good"),
    ("rds.iam-auth", "aurora-bad-1", Status.FAIL, "cluster aurora-bad"),
    ("rds.logs-exported", "good-pg", Status.PASS, "postgresql"),
    ("rds.logs-exported", "bad-mysql", Status.FAIL, "does not publish audit"),
    ("rds.logs-exported", "ora", Status.FAIL, "alert, audit"),
    ("rds.logs-exported", "aurora-good-1", Status.PASS, "cluster aurora-good"),
    ("rds.logs-exported", "aurora-bad-1", Status.FAIL, "exported: none"),
]


@pytest.mark.parametrize(("control_id", "instance", "status", "words"), CASES)
def test_instance_controls(world, control_id, instance, status, words):
    outcome = result(world, control_id, instance)
    assert outcome.status == status, outcome.reason
    assert words in outcome.reason


def test_missing_public_flag_is_not_read_as_private(world):
    # moto leaves PubliclyAccessible out unless it is given; AWS always sends it.
    (ora,) = [r for r in world.records if r.resource_id == "ora"]
    config = {k: v for k, v in ora.config.items() if k != "PubliclyAccessible"}
    record = ResourceRecord(ora.resource_type, "ora", config, region="us-east-1")
    assert evaluate("rds.not-public", [record])["ora"].status == Status.ERROR


@pytest.mark.parametrize(
    "control_id",
    [
        "rds.storage-encrypted",
        "rds.multi-az",
        "rds.backup-retention-7d",
        "rds.deletion-protection",
        "rds.iam-auth",
        "rds.logs-exported",
    ],
)
def test_member_of_an_uncollected_cluster_is_an_error(world, control_id):
    records = without(world.records, "AWS::RDS::DBCluster")
    outcome = evaluate(control_id, records)["aurora-good-1"]
    assert outcome.status == Status.ERROR
    assert "aurora-good" in outcome.reason


# -- snapshots ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "status", "words"),
    [
        ("snap-public", Status.FAIL, "'all'"),
        ("cluster-snapshot:aurora-public", Status.FAIL, "any AWS account"),
        ("snap-shared", Status.PASS, "111122223333"),
        ("snap-private", Status.PASS, "not shared"),
    ],
)
def test_snapshot_not_public(world, snapshot, status, words):
    outcome = result(world, "rds.snapshot.not-public", snapshot)
    assert outcome.status == status
    assert words in outcome.reason


def test_snapshot_attributes_denied_is_error(world):
    session = new_session(region_name="us-east-1")
    deny(session, "rds", "DescribeDBSnapshotAttributes")
    deny(session, "rds", "DescribeDBClusterSnapshotAttributes")
    results = evaluate("rds.snapshot.not-public", collect("rds", session=session))
    assert results["snap-public"].status == Status.ERROR
    assert results["cluster-snapshot:aurora-public"].status == Status.ERROR


# -- TLS parameter groups -----------------------------------------------------


@pytest.mark.parametrize(
    ("group", "status", "words"),
    [
        ("pg-tls", Status.PASS, "rds.force_ssl = 1 (used by good-pg"),
        ("cluster-pg:aurora-pg-tls", Status.PASS, "used by aurora-good"),
        ("mysql-plain", Status.FAIL, "require_secure_transport = 0"),
        ("pg-plain", Status.FAIL, "rds.force_ssl is not set"),
    ],
)
def test_tls_enforced(world, group, status, words):
    outcome = result(world, "rds.tls-enforced", group)
    assert outcome.status == status, outcome.reason
    assert words in outcome.reason


def test_tls_enforced_not_applicable_to_oracle(world):
    (group,) = [
        r.resource_id
        for r in world.records
        if r.resource_type == "AWS::RDS::DBParameterGroup"
        and r.config["Engines"] == ["oracle-ee"]
    ]
    assert result(world, "rds.tls-enforced", group).status == Status.NOT_APPLICABLE


def test_tls_parameters_denied_is_error(world):
    session = new_session(region_name="us-east-1")
    deny(session, "rds", "DescribeDBParameters")
    outcome = evaluate("rds.tls-enforced", collect("rds", session=session))["pg-tls"]
    assert outcome.status == Status.ERROR


def test_default_mysql_group_as_aws_returns_it_fails():
    # moto has no parameters for default groups; AWS lists the engine default.
    record = ResourceRecord(
        "AWS::RDS::DBParameterGroup",
        "default.mysql8.0",
        {
            "DBParameterGroupName": "default.mysql8.0",
            "Kind": "instance",
            "Engines": ["mysql"],
            "AttachedTo": ["orders"],
            "Parameters": {
                "require_secure_transport": {
                    "ParameterValue": "0",
                    "Source": "engine-default",
                }
            },
        },
        region="us-east-1",
    )
    outcome = evaluate("rds.tls-enforced", [record])["default.mysql8.0"]
    assert outcome.status == Status.FAIL
    assert "plain-text connections are accepted (used by orders)" in outcome.reason


# -- security groups ----------------------------------------------------------


def test_private_security_group_passes(world):
    outcome = result(world, "rds.sg-no-public-ingress", "good-pg")
    assert outcome.status == Status.PASS
    assert world.groups["private"] in outcome.reason


def test_group_open_to_the_internet_fails_naming_it(world):
    outcome = result(world, "rds.sg-no-public-ingress", "bad-mysql")
    assert outcome.status == Status.FAIL
    assert f"{world.groups['open4']} (db-open)" in outcome.reason
    assert "allows 0.0.0.0/0 on tcp 5432" in outcome.reason
    assert world.groups["private"] not in outcome.reason


def test_group_open_to_any_ipv6_address_fails(world):
    outcome = result(world, "rds.sg-no-public-ingress", "bad-pg")
    assert outcome.status == Status.FAIL
    assert "::/0" in outcome.reason


def test_security_groups_not_collected_is_error(world):
    outcome = evaluate(
        "rds.sg-no-public-ingress",
        without(world.records, SECURITY_GROUP),
        uncollected={SECURITY_GROUP: "access_denied"},
    )["good-pg"]
    assert outcome.status == Status.ERROR


def test_security_group_rules_denied_is_error(world):
    session = new_session(region_name="us-east-1")
    deny(session, "ec2", "DescribeSecurityGroupRules")
    records = without(world.records, SECURITY_GROUP) + [
        r for r in collect("ec2", session=session) if r.resource_type == SECURITY_GROUP
    ]
    outcome = evaluate("rds.sg-no-public-ingress", records)["good-pg"]
    assert outcome.status == Status.ERROR
