"""The ElastiCache collector against moto: cache clusters, replication groups, paging.

moto ignores MaxRecords on these listings, so paging is served by a botocore
``before-call`` handler in AWS's shape.
"""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from findings.testing import ACCOUNT_ID, collect, deny

CACHE_CLUSTER = "AWS::ElastiCache::CacheCluster"
REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"


def make_resources(session):
    elasticache = session.client("elasticache")
    elasticache.create_cache_cluster(
        CacheClusterId="sessions",
        Engine="memcached",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=1,
        CacheSubnetGroupName="private-cache",
        TransitEncryptionEnabled=True,
    )
    elasticache.create_replication_group(
        ReplicationGroupId="queue",
        ReplicationGroupDescription="job queue",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        AuthToken="not-a-real-token-0123456789",
        SnapshotRetentionLimit=5,
    )


def test_clusters_and_replication_groups_are_collected(aws):
    make_resources(aws)

    records = {
        (r.resource_type, r.resource_id): r for r in collect("elasticache", session=aws)
    }

    assert set(records) == {(CACHE_CLUSTER, "sessions"), (REPLICATION_GROUP, "queue")}
    cluster = records[(CACHE_CLUSTER, "sessions")]
    assert cluster.arn == f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:cluster:sessions"
    assert cluster.config["CacheSubnetGroupName"] == "private-cache"
    assert cluster.config["TransitEncryptionEnabled"] is True
    group = records[(REPLICATION_GROUP, "queue")]
    assert group.arn.endswith(":replicationgroup:queue")
    assert group.config["AutomaticFailover"] == "enabled"
    assert group.config["AtRestEncryptionEnabled"] is True
    assert group.config["SnapshotRetentionLimit"] == 5


def test_cache_clusters_follow_markers(aws):
    markers = []

    def pages(params, **kwargs):
        marker = params["body"].get("Marker")
        markers.append(marker)
        if marker == "page-2":
            body = {"CacheClusters": [{"CacheClusterId": "third"}]}
        else:
            body = {
                "CacheClusters": [
                    {"CacheClusterId": "first"},
                    {"CacheClusterId": "second"},
                ],
                "Marker": "page-2",
            }
        return AWSResponse("https://stub.invalid", 200, {}, None), body

    aws.events.register("before-call.elasticache.DescribeCacheClusters", pages)

    records = collect("elasticache", session=aws)

    assert markers == [None, "page-2"]
    assert [r.resource_id for r in records] == ["first", "second", "third"]
    assert records[0].arn == (
        f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:cluster:first"
    )


@pytest.mark.parametrize(
    "operation", ["DescribeReplicationGroups", "DescribeCacheClusters"]
)
def test_denied_listing_raises(aws, operation):
    make_resources(aws)
    deny(aws, "elasticache", operation)

    with pytest.raises(ClientError) as exc:
        collect("elasticache", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_config_is_stable_for_unchanged_caches(aws):
    make_resources(aws)

    first = collect("elasticache", session=aws)
    second = collect("elasticache", session=aws)

    assert [json.dumps(r.config, sort_keys=True) for r in first] == [
        json.dumps(r.config, sort_keys=True) for r in second
    ]
