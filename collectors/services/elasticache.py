"""Amazon ElastiCache: cache clusters and Redis/Valkey replication groups.

Both listings carry every setting the controls read, so there are no
per-resource sub-calls: ``AWS::ElastiCache::CacheCluster`` (Memcached clusters
and the node clusters of replication groups) and
``AWS::ElastiCache::ReplicationGroup`` keep AWS's fields as they come.
Tags are not collected: AWS returns them only through a call per resource,
and no control reads them.
"""

from collections.abc import Iterator

from collectors.base import Collector, ResourceRecord, register, to_jsonable

CACHE_CLUSTER = "AWS::ElastiCache::CacheCluster"
REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"


@register
class ElastiCacheCollector(Collector):
    service = "elasticache"
    resource_types = (CACHE_CLUSTER, REPLICATION_GROUP)

    def collect(self) -> Iterator[ResourceRecord]:
        elasticache = self.client("elasticache")
        for group in self.paginate(
            elasticache, "describe_replication_groups", "ReplicationGroups"
        ):
            group_id = group["ReplicationGroupId"]
            yield ResourceRecord(
                resource_type=REPLICATION_GROUP,
                resource_id=group_id,
                config=to_jsonable(group),
                arn=group.get("ARN") or self._arn("replicationgroup", group_id),
                name=group_id,
            )
        for cluster in self.paginate(
            elasticache, "describe_cache_clusters", "CacheClusters"
        ):
            cluster_id = cluster["CacheClusterId"]
            yield ResourceRecord(
                resource_type=CACHE_CLUSTER,
                resource_id=cluster_id,
                config=to_jsonable(cluster),
                arn=cluster.get("ARN") or self._arn("cluster", cluster_id),
                name=cluster_id,
            )

    def _arn(self, kind: str, resource_id: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        return (
            f"arn:{partition}:elasticache:{self.client_region}:{self.account_id}:"
            f"{kind}:{resource_id}"
        )
