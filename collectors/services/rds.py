"""Amazon RDS: DB instances and clusters, manual snapshots, TLS parameters.

One regional unit lists clusters, then instances, then the parameters that
decide TLS enforcement, then manual snapshots:

- ``AWS::RDS::DBCluster`` (Aurora and Multi-AZ DB clusters) and
  ``AWS::RDS::DBInstance`` keep AWS's fields, minus the restore-window times
  that move every few minutes.
- ``AWS::RDS::DBParameterGroup``: one record per parameter group in use. Where
  TLS is enforced depends on the deployment: a standalone instance reads its
  DB parameter group, a cluster member its cluster parameter group. Both kinds
  are this one type; DB parameter groups and cluster parameter groups are
  separate namespaces (``default.aurora-mysql8.0`` exists as both), so a
  cluster parameter group's resource id is ``cluster-pg:<name>``, after the
  ``cluster-pg`` segment of its ARN. Only the TLS parameters are stored: a
  group has hundreds of parameters, and no control reads the others.
- ``AWS::RDS::DBSnapshot``: manual DB snapshots and manual cluster snapshots
  (resource id ``cluster-snapshot:<id>`` for the same reason), each with its
  attributes (who may restore it). Automated snapshots cannot be shared.

The RDS API also answers for Amazon DocumentDB and Neptune, which have
controls of their own; their clusters, instances and snapshots are skipped.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

DB_INSTANCE = "AWS::RDS::DBInstance"
DB_CLUSTER = "AWS::RDS::DBCluster"
DB_SNAPSHOT = "AWS::RDS::DBSnapshot"
DB_PARAMETER_GROUP = "AWS::RDS::DBParameterGroup"

CLUSTER_PARAMETER_GROUP_PREFIX = "cluster-pg:"
CLUSTER_SNAPSHOT_PREFIX = "cluster-snapshot:"

# The parameters that force TLS: rds.force_ssl (PostgreSQL, SQL Server) and
# require_secure_transport (MySQL, MariaDB).
TLS_PARAMETERS = ("rds.force_ssl", "require_secure_transport")

# Engines served by the RDS API that are other services.
OTHER_SERVICE_ENGINES = frozenset({"docdb", "neptune"})

# Restore-window bounds and live capacity change continuously without any
# configuration change; stored, they would write a new snapshot every scan.
VOLATILE_INSTANCE_FIELDS = ("LatestRestorableTime",)
VOLATILE_CLUSTER_FIELDS = (
    "LatestRestorableTime",
    "EarliestRestorableTime",
    "EarliestBacktrackTime",
    "Capacity",
)
# Counts up while a snapshot is being created, then stays at 100.
VOLATILE_SNAPSHOT_FIELDS = ("PercentProgress",)


def tag_dict(tags: Iterable[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


def _without(item: dict, keys: Iterable[str]) -> dict:
    dropped = set(keys)
    return {k: v for k, v in item.items() if k not in dropped}


def _other_service(item: dict) -> bool:
    return str(item.get("Engine", "")).lower() in OTHER_SERVICE_ENGINES


@register
class RDSCollector(Collector):
    service = "rds"
    resource_types = (DB_INSTANCE, DB_CLUSTER, DB_SNAPSHOT, DB_PARAMETER_GROUP)

    def collect(self) -> Iterator[ResourceRecord]:
        rds = self.client("rds")
        # (kind, name) -> {"Engines": set, "AttachedTo": set}
        parameter_groups: dict[tuple[str, str], dict[str, set[str]]] = {}

        def attach(kind: str, name: str | None, engine: str, db: str) -> None:
            if not name:
                return
            usage = parameter_groups.setdefault(
                (kind, name), {"Engines": set(), "AttachedTo": set()}
            )
            usage["Engines"].add(engine)
            usage["AttachedTo"].add(db)

        for cluster in self.paginate(rds, "describe_db_clusters", "DBClusters"):
            if _other_service(cluster):
                continue
            cluster_id = cluster["DBClusterIdentifier"]
            attach(
                "cluster",
                cluster.get("DBClusterParameterGroup"),
                cluster.get("Engine", ""),
                cluster_id,
            )
            yield self._record(
                DB_CLUSTER,
                cluster_id,
                _without(cluster, VOLATILE_CLUSTER_FIELDS),
                cluster.get("DBClusterArn") or self._arn("cluster", cluster_id),
            )

        for instance in self.paginate(rds, "describe_db_instances", "DBInstances"):
            if _other_service(instance):
                continue
            instance_id = instance["DBInstanceIdentifier"]
            # A cluster member's TLS setting lives in the cluster parameter
            # group (listed above), not in its own DB parameter group.
            if not instance.get("DBClusterIdentifier"):
                for group in instance.get("DBParameterGroups", []):
                    attach(
                        "instance",
                        group.get("DBParameterGroupName"),
                        instance.get("Engine", ""),
                        instance_id,
                    )
            yield self._record(
                DB_INSTANCE,
                instance_id,
                _without(instance, VOLATILE_INSTANCE_FIELDS),
                instance.get("DBInstanceArn") or self._arn("db", instance_id),
            )

        for (kind, name), usage in sorted(parameter_groups.items()):
            yield self._parameter_group(rds, kind, name, usage)
        yield from self._snapshots(rds)
        yield from self._cluster_snapshots(rds)

    # -- helpers

    def _arn(self, kind: str, resource_id: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        return (
            f"arn:{partition}:rds:{self.client_region}:{self.account_id}:"
            f"{kind}:{resource_id}"
        )

    def _record(
        self,
        resource_type: str,
        resource_id: str,
        item: dict,
        arn: str,
        errors: dict[str, str] | None = None,
        name: str | None = None,
    ) -> ResourceRecord:
        config = to_jsonable(item)
        if errors:
            config[ERRORS_KEY] = dict(errors)
        return ResourceRecord(
            resource_type=resource_type,
            resource_id=resource_id,
            config=config,
            arn=arn,
            name=name or resource_id,
            tags=tag_dict(item.get("TagList")),
        )

    # -- parameter groups

    def _parameter_group(
        self,
        rds: BaseClient,
        kind: str,
        name: str,
        usage: dict[str, set[str]],
    ) -> ResourceRecord:
        errors: dict[str, str] = {}
        if kind == "cluster":
            parameters = self.gather(
                errors,
                "Parameters",
                rds,
                "describe_db_cluster_parameters",
                "Parameters",
                DBClusterParameterGroupName=name,
            )
            resource_id = CLUSTER_PARAMETER_GROUP_PREFIX + name
            arn = self._arn("cluster-pg", name)
            name_key = "DBClusterParameterGroupName"
        else:
            parameters = self.gather(
                errors,
                "Parameters",
                rds,
                "describe_db_parameters",
                "Parameters",
                DBParameterGroupName=name,
            )
            resource_id = name
            arn = self._arn("pg", name)
            name_key = "DBParameterGroupName"
        config: dict[str, Any] = {
            name_key: name,
            "Kind": kind,
            "Engines": sorted(usage["Engines"]),
            "AttachedTo": sorted(usage["AttachedTo"]),
            # Only the TLS parameters; None when the listing failed.
            "Parameters": None
            if parameters is None
            else {
                p["ParameterName"]: _parameter(p)
                for p in parameters
                if p.get("ParameterName") in TLS_PARAMETERS
            },
        }
        return self._record(
            DB_PARAMETER_GROUP, resource_id, config, arn, errors, name=name
        )

    # -- snapshots

    def _snapshots(self, rds: BaseClient) -> Iterator[ResourceRecord]:
        listing = self.paginate(
            rds, "describe_db_snapshots", "DBSnapshots", SnapshotType="manual"
        )
        for snapshot in listing:
            if _other_service(snapshot):
                continue
            snapshot_id = snapshot["DBSnapshotIdentifier"]
            errors: dict[str, str] = {}
            response = self.optional(
                errors,
                "DBSnapshotAttributes",
                rds.describe_db_snapshot_attributes,
                DBSnapshotIdentifier=snapshot_id,
            )
            item = _without(snapshot, VOLATILE_SNAPSHOT_FIELDS)
            item["DBSnapshotAttributes"] = (
                None
                if response is None
                else (response.get("DBSnapshotAttributesResult") or {}).get(
                    "DBSnapshotAttributes", []
                )
            )
            yield self._record(
                DB_SNAPSHOT,
                snapshot_id,
                item,
                snapshot.get("DBSnapshotArn") or self._arn("snapshot", snapshot_id),
                errors,
            )

    def _cluster_snapshots(self, rds: BaseClient) -> Iterator[ResourceRecord]:
        listing = self.paginate(
            rds,
            "describe_db_cluster_snapshots",
            "DBClusterSnapshots",
            SnapshotType="manual",
        )
        for snapshot in listing:
            if _other_service(snapshot):
                continue
            snapshot_id = snapshot["DBClusterSnapshotIdentifier"]
            errors: dict[str, str] = {}
            response = self.optional(
                errors,
                "DBClusterSnapshotAttributes",
                rds.describe_db_cluster_snapshot_attributes,
                DBClusterSnapshotIdentifier=snapshot_id,
            )
            item = _without(snapshot, VOLATILE_SNAPSHOT_FIELDS)
            item["DBClusterSnapshotAttributes"] = (
                None
                if response is None
                else (response.get("DBClusterSnapshotAttributesResult") or {}).get(
                    "DBClusterSnapshotAttributes", []
                )
            )
            yield self._record(
                DB_SNAPSHOT,
                CLUSTER_SNAPSHOT_PREFIX + snapshot_id,
                item,
                snapshot.get("DBClusterSnapshotArn")
                or self._arn("cluster-snapshot", snapshot_id),
                errors,
                name=snapshot_id,
            )


def _parameter(parameter: dict) -> dict:
    """The part of a parameter that says what it is set to and by whom."""
    return {
        k: parameter[k]
        for k in ("ParameterValue", "Source", "ApplyMethod")
        if k in parameter
    }
