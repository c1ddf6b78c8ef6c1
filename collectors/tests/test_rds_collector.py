"""The RDS collector against moto: records, parameter groups, snapshots, paging.

moto ignores MaxRecords on DescribeDBInstances and answers a Marker with an
error, so paging is served by a botocore ``before-call`` handler in AWS's
shape.
"""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from findings.testing import ACCOUNT_ID, collect, deny

INSTANCE = "AWS::RDS::DBInstance"
CLUSTER = "AWS::RDS::DBCluster"
SNAPSHOT = "AWS::RDS::DBSnapshot"
PARAMETER_GROUP = "AWS::RDS::DBParameterGroup"
PASSWORD = "not-a-real-password"


def by_key(records):
    return {(r.resource_type, r.resource_id): r for r in records}


def tls_parameter_group(rds, name, family, parameter, value, *, cluster=False):
    if cluster:
        rds.create_db_cluster_parameter_group(
            DBClusterParameterGroupName=name,
            DBParameterGroupFamily=family,
            Description=name,
        )
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=name,
            Parameters=[
                {
                    "ParameterName": parameter,
                    "ParameterValue": value,
                    "ApplyMethod": "pending-reboot",
                }
            ],
        )
        return
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily=family, Description=name
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[
            {
                "ParameterName": parameter,
                "ParameterValue": value,
                "ApplyMethod": "pending-reboot",
            }
        ],
    )


def instance(rds, name, engine="postgres", **kwargs):
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine=engine,
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        **kwargs,
    )


@pytest.fixture
def rds(aws):
    return aws.client("rds")


def test_instances_clusters_and_their_tls_parameter_groups(aws, rds):
    tls_parameter_group(rds, "pg-tls", "postgres16", "rds.force_ssl", "1")
    tls_parameter_group(
        rds,
        "aurora-tls",
        "aurora-postgresql15",
        "rds.force_ssl",
        "1",
        cluster=True,
    )
    instance(
        rds,
        "orders",
        DBParameterGroupName="pg-tls",
        StorageEncrypted=True,
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        DBClusterParameterGroupName="aurora-tls",
    )
    rds.create_db_instance(
        DBInstanceIdentifier="ledger-1",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r5.large",
        DBClusterIdentifier="ledger",
    )

    records = by_key(collect("rds", session=aws))

    assert set(records) == {
        (INSTANCE, "orders"),
        (INSTANCE, "ledger-1"),
        (CLUSTER, "ledger"),
        (PARAMETER_GROUP, "pg-tls"),
        (PARAMETER_GROUP, "cluster-pg:aurora-tls"),
    }
    orders = records[(INSTANCE, "orders")]
    assert orders.arn == f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:orders"
    assert orders.tags == {"team": "payments"}
    assert orders.config["StorageEncrypted"] is True
    assert "LatestRestorableTime" not in orders.config
    ledger = records[(CLUSTER, "ledger")]
    assert ledger.arn == f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:cluster:ledger"
    assert ledger.config["DBClusterMembers"][0]["DBInstanceIdentifier"] == "ledger-1"
    assert "EarliestRestorableTime" not in ledger.config
    assert "LatestRestorableTime" not in ledger.config

    group = records[(PARAMETER_GROUP, "pg-tls")]
    assert group.arn == f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:pg:pg-tls"
    assert group.config == {
        "DBParameterGroupName": "pg-tls",
        "Kind": "instance",
        "Engines": ["postgres"],
        "AttachedTo": ["orders"],
        "Parameters": {
            "rds.force_ssl": {"ParameterValue": "1", "ApplyMethod": "pending-reboot"}
        },
    }
    # The member's own DB parameter group is not where Aurora enforces TLS,
    # so only the cluster parameter group is collected for it.
    cluster_group = records[(PARAMETER_GROUP, "cluster-pg:aurora-tls")]
    assert cluster_group.name == "aurora-tls"
    assert cluster_group.arn.endswith(":cluster-pg:aurora-tls")
    assert cluster_group.config["Kind"] == "cluster"
    assert cluster_group.config["AttachedTo"] == ["ledger"]
    assert cluster_group.config["Parameters"]["rds.force_ssl"]["ParameterValue"] == "1"


def test_other_services_on_the_rds_api_are_skipped(aws, rds):
    rds.create_db_cluster(
        DBClusterIdentifier="graph",
        Engine="neptune",
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
    )

    assert collect("rds", session=aws) == []


def test_manual_snapshots_with_who_may_restore_them(aws, rds):
    instance(rds, "orders")
    rds.create_db_snapshot(
        DBSnapshotIdentifier="orders-copy", DBInstanceIdentifier="orders"
    )
    rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="orders-copy",
        AttributeName="restore",
        ValuesToAdd=["all"],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-mysql",
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
    )
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="ledger-copy", DBClusterIdentifier="ledger"
    )

    records = by_key(collect("rds", session=aws))

    snapshot = records[(SNAPSHOT, "orders-copy")]
    assert snapshot.arn.endswith(":snapshot:orders-copy")
    assert snapshot.config["DBSnapshotAttributes"] == [
        {"AttributeName": "restore", "AttributeValues": ["all"]}
    ]
    cluster_snapshot = records[(SNAPSHOT, "cluster-snapshot:ledger-copy")]
    assert cluster_snapshot.name == "ledger-copy"
    assert cluster_snapshot.arn.endswith(":cluster-snapshot:ledger-copy")
    assert cluster_snapshot.config["DBClusterSnapshotAttributes"] == [
        {"AttributeName": "restore", "AttributeValues": []}
    ]
    assert "PercentProgress" not in cluster_snapshot.config


def test_denied_sub_calls_are_recorded_not_read_as_absent(aws, rds):
    tls_parameter_group(rds, "pg-tls", "postgres16", "rds.force_ssl", "1")
    instance(rds, "orders", DBParameterGroupName="pg-tls")
    rds.create_db_snapshot(
        DBSnapshotIdentifier="orders-copy", DBInstanceIdentifier="orders"
    )
    deny(aws, "rds", "DescribeDBParameters")
    deny(aws, "rds", "DescribeDBSnapshotAttributes")

    records = by_key(collect("rds", session=aws))

    group = records[(PARAMETER_GROUP, "pg-tls")]
    assert group.config["Parameters"] is None
    assert group.config["_errors"]["Parameters"].startswith("access_denied")
    snapshot = records[(SNAPSHOT, "orders-copy")]
    assert snapshot.config["DBSnapshotAttributes"] is None
    assert "DBSnapshotAttributes" in snapshot.config["_errors"]
    assert "_errors" not in records[(INSTANCE, "orders")].config


def test_describe_db_instances_follows_markers(aws):
    markers = []

    def pages(params, **kwargs):
        marker = params["body"].get("Marker")
        markers.append(marker)
        if marker == "page-2":
            body = {"DBInstances": [{"DBInstanceIdentifier": "third"}]}
        else:
            body = {
                "DBInstances": [
                    {"DBInstanceIdentifier": "first"},
                    {"DBInstanceIdentifier": "second"},
                ],
                "Marker": "page-2",
            }
        return AWSResponse("https://stub.invalid", 200, {}, None), body

    aws.events.register("before-call.rds.DescribeDBInstances", pages)

    records = collect("rds", session=aws)

    assert markers == [None, "page-2"]
    assert [r.resource_id for r in records if r.resource_type == INSTANCE] == [
        "first",
        "second",
        "third",
    ]


def test_denied_instance_listing_raises(aws, rds):
    instance(rds, "orders")
    deny(aws, "rds", "DescribeDBInstances")

    with pytest.raises(ClientError) as exc:
        collect("rds", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_config_is_stable_for_unchanged_databases(aws, rds):
    instance(rds, "orders", BackupRetentionPeriod=7)
    rds.create_db_snapshot(
        DBSnapshotIdentifier="orders-copy", DBInstanceIdentifier="orders"
    )

    first = collect("rds", session=aws)
    second = collect("rds", session=aws)

    assert [json.dumps(r.config, sort_keys=True) for r in first] == [
        json.dumps(r.config, sort_keys=True) for r in second
    ]
