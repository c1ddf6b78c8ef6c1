"""ElastiCache controls, evaluated on what the real collector reads from moto.

moto leaves out two fields AWS returns: TransitEncryptionMode on replication
groups with in-transit encryption, and CacheSubnetGroupName "default" for a
cluster created without a subnet group in a VPC. Those cases are AWS-shaped
records built from the collected ones.
"""

import pytest
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import collect, evaluate

CACHE_CLUSTER = "AWS::ElastiCache::CacheCluster"
REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"


@pytest.fixture(scope="module")
def world():
    with mock_aws():
        forget_credentials()
        elasticache = new_session(region_name="us-east-1").client("elasticache")
        elasticache.create_cache_cluster(
            CacheClusterId="private-memcached",
            Engine="memcached",
            CacheNodeType="cache.t3.micro",
            NumCacheNodes=1,
            CacheSubnetGroupName="private-cache",
        )
        elasticache.create_cache_cluster(
            CacheClusterId="classic-memcached",
            Engine="memcached",
            CacheNodeType="cache.t3.micro",
            NumCacheNodes=1,
        )
        elasticache.create_replication_group(
            ReplicationGroupId="good-redis",
            ReplicationGroupDescription="well configured",
            Engine="redis",
            CacheNodeType="cache.t3.micro",
            NumCacheClusters=2,
            AutomaticFailoverEnabled=True,
            MultiAZEnabled=True,
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=True,
            AuthToken="not-a-real-token-0123456789",
            SnapshotRetentionLimit=7,
        )
        elasticache.create_replication_group(
            ReplicationGroupId="bad-redis",
            ReplicationGroupDescription="defaults",
            Engine="redis",
            CacheNodeType="cache.t3.micro",
            NumCacheClusters=1,
        )
        elasticache.create_replication_group(
            ReplicationGroupId="rbac-valkey",
            ReplicationGroupDescription="role-based access",
            Engine="valkey",
            CacheNodeType="cache.t3.micro",
            NumCacheClusters=1,
            TransitEncryptionEnabled=True,
            UserGroupIds=["app-users"],
        )
        yield collect("elasticache", session=new_session(region_name="us-east-1"))
    forget_credentials()


def reshaped(records, resource_id, **changes) -> list[ResourceRecord]:
    """One collected record with AWS's values for what moto leaves out."""
    (record,) = [r for r in records if r.resource_id == resource_id]
    config = {**record.config, **changes}
    return [
        ResourceRecord(record.resource_type, resource_id, config, region="us-east-1")
    ]


CATALOG = [
    ("elasticache.custom-subnet-group", Severity.HIGH, ("ElastiCache.7",)),
    ("elasticache.at-rest-encryption", Severity.MEDIUM, ("ElastiCache.4",)),
    ("elasticache.transit-encryption", Severity.MEDIUM, ("ElastiCache.5",)),
    ("elasticache.auth-enabled", Severity.HIGH, ("ElastiCache.6",)),
    ("elasticache.backups", Severity.MEDIUM, ("ElastiCache.1",)),
    ("elasticache.multi-az-failover", Severity.MEDIUM, ("ElastiCache.3",)),
]


@pytest.mark.parametrize(("control_id", "severity", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/database/elasticache"
    assert ctl.severity == severity
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale
    assert ctl.remediation
    assert ctl.remediation_cli.startswith("aws elasticache ")


def test_no_caches_means_no_findings():
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, []) == {}


@pytest.mark.parametrize(
    ("control_id", "resource_id", "status", "words"),
    [
        (
            "elasticache.custom-subnet-group",
            "private-memcached",
            Status.PASS,
            "private-cache",
        ),
        (
            "elasticache.custom-subnet-group",
            "classic-memcached",
            Status.FAIL,
            "no cache subnet group",
        ),
        ("elasticache.at-rest-encryption", "good-redis", Status.PASS, "encrypted"),
        ("elasticache.at-rest-encryption", "bad-redis", Status.FAIL, "false"),
        ("elasticache.transit-encryption", "good-redis", Status.PASS, "TLS"),
        ("elasticache.transit-encryption", "bad-redis", Status.FAIL, "false"),
        ("elasticache.auth-enabled", "good-redis", Status.PASS, "AUTH token"),
        ("elasticache.auth-enabled", "rbac-valkey", Status.PASS, "app-users"),
        ("elasticache.auth-enabled", "bad-redis", Status.FAIL, "no AUTH token"),
        ("elasticache.backups", "good-redis", Status.PASS, "7 day(s)"),
        ("elasticache.backups", "bad-redis", Status.FAIL, "off"),
        ("elasticache.multi-az-failover", "good-redis", Status.PASS, "on"),
        (
            "elasticache.multi-az-failover",
            "bad-redis",
            Status.FAIL,
            "AutomaticFailover is disabled and MultiAZ is disabled",
        ),
    ],
)
def test_cache_controls(world, control_id, resource_id, status, words):
    outcome = evaluate(control_id, world)[resource_id]
    assert outcome.status == status, outcome.reason
    assert words in outcome.reason


def test_default_subnet_group_fails(world):
    records = reshaped(world, "classic-memcached", CacheSubnetGroupName="default")
    outcome = evaluate("elasticache.custom-subnet-group", records)["classic-memcached"]
    assert outcome.status == Status.FAIL
    assert "default cache subnet group" in outcome.reason


@pytest.mark.parametrize(
    ("mode", "status"), [("required", Status.PASS), ("preferred", Status.FAIL)]
)
def test_transit_encryption_mode(world, mode, status):
    records = reshaped(world, "good-redis", TransitEncryptionMode=mode)
    outcome = evaluate("elasticache.transit-encryption", records)["good-redis"]
    assert outcome.status == status
    if status == Status.FAIL:
        assert "TransitEncryptionMode is preferred" in outcome.reason


def test_failover_without_multi_az_fails(world):
    records = reshaped(
        world, "good-redis", AutomaticFailover="enabled", MultiAZ="disabled"
    )
    outcome = evaluate("elasticache.multi-az-failover", records)["good-redis"]
    assert outcome.status == Status.FAIL
    assert "MultiAZ is disabled" in outcome.reason


def test_auth_not_applicable_to_engines_without_it(world):
    records = reshaped(world, "bad-redis", Engine="memcached")
    outcome = evaluate("elasticache.auth-enabled", records)["bad-redis"]
    assert outcome.status == Status.NOT_APPLICABLE
