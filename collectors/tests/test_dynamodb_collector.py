"""The DynamoDB and DAX collectors against moto: tables, backups, tags, paging.

moto ignores page sizes on ListTables and DescribeClusters, so paging is
served by a botocore ``before-call`` handler in AWS's shape.
"""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from findings.testing import ACCOUNT_ID, collect, deny

TABLE = "AWS::DynamoDB::Table"
DAX_CLUSTER = "AWS::DAX::Cluster"
DAX_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dax-access"


def make_table(session, name, **kwargs):
    session.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )


def answer(session, service, operation, respond) -> list:
    """Answer ``service.operation`` with ``respond(request)``; returns the requests."""
    seen = []

    def handler(params, **kwargs):
        body = json.loads(params.get("body") or b"{}")
        seen.append(body)
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(body)

    session.events.register(f"before-call.{service}.{operation}", handler)
    return seen


# -- DynamoDB -----------------------------------------------------------------


def test_table_record_with_backups_and_tags(aws):
    make_table(
        aws,
        "orders",
        DeletionProtectionEnabled=True,
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    aws.client("dynamodb").update_continuous_backups(
        TableName="orders",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )

    (record,) = collect("dynamodb", session=aws)

    assert record.resource_type == TABLE
    assert record.resource_id == "orders"
    assert record.arn == f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/orders"
    assert record.tags == {"team": "payments"}
    table = record.config["Table"]
    assert table["DeletionProtectionEnabled"] is True
    assert table["SSEDescription"]["SSEType"] == "KMS"
    for moving in ("ItemCount", "TableSizeBytes"):
        assert moving not in table
    assert "NumberOfDecreasesToday" not in table["ProvisionedThroughput"]
    pitr = record.config["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"] == {
        "PointInTimeRecoveryStatus": "ENABLED",
        "RecoveryPeriodInDays": 35,
    }
    assert "_errors" not in record.config


def test_config_is_stable_while_items_are_written(aws):
    make_table(aws, "events")
    aws.client("dynamodb").update_continuous_backups(
        TableName="events",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    first = collect("dynamodb", session=aws)
    aws.client("dynamodb").put_item(TableName="events", Item={"id": {"S": "e-1"}})

    second = collect("dynamodb", session=aws)

    assert json.dumps(first[0].config, sort_keys=True) == json.dumps(
        second[0].config, sort_keys=True
    )


def test_denied_sub_calls_are_recorded_not_read_as_absent(aws):
    make_table(aws, "orders")
    deny(aws, "dynamodb", "DescribeTable")
    deny(aws, "dynamodb", "DescribeContinuousBackups")
    deny(aws, "dynamodb", "ListTagsOfResource")

    (record,) = collect("dynamodb", session=aws)

    assert record.config["Table"] is None
    assert record.config["ContinuousBackupsDescription"] is None
    assert set(record.config["_errors"]) == {
        "Table",
        "ContinuousBackupsDescription",
        "Tags",
    }
    # Still stored under its ARN, built from the name.
    assert record.arn == f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/orders"


def test_table_deleted_after_listing_is_skipped(aws):
    make_table(aws, "short-lived")
    deny(aws, "dynamodb", "DescribeTable", code="ResourceNotFoundException")

    assert collect("dynamodb", session=aws) == []


def test_list_tables_follows_last_evaluated_table_name(aws):
    for name in ("alpha", "bravo", "charlie"):
        make_table(aws, name)

    def pages(body):
        if body.get("ExclusiveStartTableName") == "bravo":
            return {"TableNames": ["charlie"]}
        return {"TableNames": ["alpha", "bravo"], "LastEvaluatedTableName": "bravo"}

    requests = answer(aws, "dynamodb", "ListTables", pages)

    records = collect("dynamodb", session=aws)

    assert [r.get("ExclusiveStartTableName") for r in requests] == [None, "bravo"]
    assert [r.resource_id for r in records] == ["alpha", "bravo", "charlie"]


def test_denied_table_listing_raises(aws):
    make_table(aws, "orders")
    deny(aws, "dynamodb", "ListTables")

    with pytest.raises(ClientError) as exc:
        collect("dynamodb", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


# -- DAX ----------------------------------------------------------------------


def make_dax(session, name, region="us-east-1", **kwargs):
    session.client("dax", region_name=region).create_cluster(
        ClusterName=name,
        NodeType="dax.t3.small",
        ReplicationFactor=1,
        IamRoleArn=DAX_ROLE,
        **kwargs,
    )


def test_dax_cluster_record(aws):
    make_dax(
        aws,
        "cache",
        SSESpecification={"Enabled": True},
        ClusterEndpointEncryptionType="TLS",
    )

    (record,) = collect("dax", session=aws)

    assert record.resource_type == DAX_CLUSTER
    assert record.resource_id == "cache"
    assert record.arn == f"arn:aws:dax:us-east-1:{ACCOUNT_ID}:cache/cache"
    assert record.config["SSEDescription"] == {"Status": "ENABLED"}
    assert record.config["ClusterEndpointEncryptionType"] == "TLS"
    assert "Nodes" not in record.config
    assert "ActiveNodes" not in record.config


def test_dax_config_is_stable(aws):
    make_dax(aws, "cache")

    first = collect("dax", session=aws)
    second = collect("dax", session=aws)

    assert json.dumps(first[0].config, sort_keys=True) == json.dumps(
        second[0].config, sort_keys=True
    )


def test_dax_clusters_follow_next_token(aws):
    def pages(body):
        if body.get("NextToken") == "page-2":
            return {"Clusters": [{"ClusterName": "third"}]}
        return {
            "Clusters": [{"ClusterName": "first"}, {"ClusterName": "second"}],
            "NextToken": "page-2",
        }

    requests = answer(aws, "dax", "DescribeClusters", pages)

    records = collect("dax", session=aws)

    assert [r.get("NextToken") for r in requests] == [None, "page-2"]
    assert [r.resource_id for r in records] == ["first", "second", "third"]


def test_region_without_dax_yields_nothing_and_calls_nothing(aws):
    # me-central-1 has DynamoDB but no DAX endpoint.
    calls = answer(aws, "dax", "DescribeClusters", lambda body: {"Clusters": []})

    assert collect("dax", "me-central-1", session=aws) == []
    assert calls == []


def test_denied_dax_listing_raises(aws):
    make_dax(aws, "cache")
    deny(aws, "dax", "DescribeClusters")

    with pytest.raises(ClientError) as exc:
        collect("dax", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"
