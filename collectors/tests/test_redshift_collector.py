"""The Redshift collector against moto: clusters, logging status, require_ssl.

moto answers DescribeClusterParameters with the same fixed list for every
group and ignores paging; where a test needs AWS's paging or values, a
botocore ``before-call`` handler answers in AWS's shape.
"""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from findings.testing import ACCOUNT_ID, collect, deny

CLUSTER = "AWS::Redshift::Cluster"


def answer(session, operation, respond) -> list:
    """Answer ``redshift.operation`` with ``respond(request)``; returns the requests."""
    seen = []

    def handler(params, **kwargs):
        seen.append(params["body"])
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(
            params["body"]
        )

    session.events.register(f"before-call.redshift.{operation}", handler)
    return seen


def make_cluster(session, name="warehouse", **kwargs):
    session.client("redshift").create_cluster(
        ClusterIdentifier=name,
        NodeType="dc2.large",
        MasterUsername="admin",
        MasterUserPassword="NotARealPassword1",
        ClusterType="single-node",
        **kwargs,
    )


def test_cluster_record_with_logging_and_require_ssl(aws):
    make_cluster(
        aws,
        Encrypted=True,
        PubliclyAccessible=False,
        Tags=[{"Key": "team", "Value": "analytics"}],
    )
    aws.client("s3").create_bucket(Bucket="audit-logs")
    aws.client("redshift").enable_logging(
        ClusterIdentifier="warehouse", BucketName="audit-logs", S3KeyPrefix="rs/"
    )

    (record,) = collect("redshift", session=aws)

    assert record.resource_type == CLUSTER
    assert record.resource_id == "warehouse"
    assert record.arn == f"arn:aws:redshift:us-east-1:{ACCOUNT_ID}:cluster:warehouse"
    assert record.tags == {"team": "analytics"}
    config = record.config
    assert config["Encrypted"] is True
    assert config["LoggingStatus"] == {
        "LoggingEnabled": True,
        "BucketName": "audit-logs",
        "S3KeyPrefix": "rs/",
    }
    assert config["RequireSsl"] == {
        "ParameterGroupName": "default.redshift-1.0",
        "ParameterValue": "false",
        "Source": "engine-default",
    }
    assert "_errors" not in config


def test_parameters_are_read_once_per_group(aws):
    make_cluster(aws, "first")
    make_cluster(aws, "second")
    requests = answer(
        aws,
        "DescribeClusterParameters",
        lambda body: {
            "Parameters": [{"ParameterName": "require_ssl", "ParameterValue": "true"}]
        },
    )

    records = collect("redshift", session=aws)

    assert len(requests) == 1
    assert {r.config["RequireSsl"]["ParameterValue"] for r in records} == {"true"}


def test_require_ssl_is_found_on_a_later_page(aws):
    make_cluster(aws)

    def pages(body):
        if body.get("Marker") == "page-2":
            return {
                "Parameters": [
                    {"ParameterName": "require_ssl", "ParameterValue": "true"}
                ]
            }
        return {
            "Parameters": [{"ParameterName": "enable_user_activity_logging"}],
            "Marker": "page-2",
        }

    requests = answer(aws, "DescribeClusterParameters", pages)

    (record,) = collect("redshift", session=aws)

    assert [r.get("Marker") for r in requests] == [None, "page-2"]
    assert record.config["RequireSsl"]["ParameterValue"] == "true"


def test_describe_clusters_follows_markers(aws):
    def pages(body):
        if body.get("Marker") == "page-2":
            return {"Clusters": [{"ClusterIdentifier": "third"}]}
        return {
            "Clusters": [
                {"ClusterIdentifier": "first"},
                {"ClusterIdentifier": "second"},
            ],
            "Marker": "page-2",
        }

    requests = answer(aws, "DescribeClusters", pages)

    records = collect("redshift", session=aws)

    assert [r.get("Marker") for r in requests] == [None, "page-2"]
    assert [r.resource_id for r in records] == ["first", "second", "third"]


def test_denied_sub_calls_are_recorded_on_every_cluster(aws):
    make_cluster(aws, "first")
    make_cluster(aws, "second")
    deny(aws, "redshift", "DescribeLoggingStatus")
    deny(aws, "redshift", "DescribeClusterParameters")

    records = collect("redshift", session=aws)

    for record in records:
        assert record.config["LoggingStatus"] is None
        assert record.config["RequireSsl"] is None
        assert set(record.config["_errors"]) == {"LoggingStatus", "RequireSsl"}
        assert record.config["_errors"]["RequireSsl"].startswith("access_denied")


def test_denied_cluster_listing_raises(aws):
    make_cluster(aws)
    deny(aws, "redshift", "DescribeClusters")

    with pytest.raises(ClientError) as exc:
        collect("redshift", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_config_is_stable_for_unchanged_clusters(aws):
    make_cluster(aws)

    first = collect("redshift", session=aws)
    second = collect("redshift", session=aws)

    assert json.dumps(first[0].config, sort_keys=True) == json.dumps(
        second[0].config, sort_keys=True
    )
