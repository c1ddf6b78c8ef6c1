"""Amazon Redshift: provisioned clusters with their audit logging and SSL setting.

One ``AWS::Redshift::Cluster`` record per cluster keeps AWS's fields (minus
the schedule times that move forward by themselves) and adds two sub-calls:

- ``LoggingStatus``: DescribeLoggingStatus without its delivery timestamps,
  which change with every log delivery.
- ``RequireSsl``: the ``require_ssl`` parameter of the cluster's parameter
  group, read once per group and unit however many clusters share it.
"""

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

CLUSTER = "AWS::Redshift::Cluster"

# Times of the next maintenance window and snapshot, and the resize options on
# offer, change on their own; stored, they would rewrite the snapshot.
VOLATILE_CLUSTER_FIELDS = (
    "NextMaintenanceWindowStartTime",
    "ExpectedNextSnapshotScheduleTime",
    "ExpectedNextSnapshotScheduleTimeStatus",
    "ElasticResizeNumberOfNodeOptions",
    "ClusterAvailabilityStatus",
)
# Delivery bookkeeping of DescribeLoggingStatus, not configuration.
VOLATILE_LOGGING_FIELDS = (
    "LastSuccessfulDeliveryTime",
    "LastFailureTime",
    "LastFailureMessage",
)
REQUIRE_SSL = "require_ssl"


@register
class RedshiftCollector(Collector):
    service = "redshift"
    resource_types = (CLUSTER,)

    def collect(self) -> Iterator[ResourceRecord]:
        redshift = self.client("redshift")
        # Parameter group name -> (require_ssl parameter, error); shared by
        # every cluster that uses the group.
        parameters: dict[str, tuple[dict | None, str | None]] = {}
        for cluster in self.paginate(redshift, "describe_clusters", "Clusters"):
            yield self._cluster(redshift, cluster, parameters)

    def _cluster(
        self,
        redshift: BaseClient,
        cluster: dict,
        parameters: dict[str, tuple[dict | None, str | None]],
    ) -> ResourceRecord:
        cluster_id = cluster["ClusterIdentifier"]
        errors: dict[str, str] = {}
        logging = self.optional(
            errors,
            "LoggingStatus",
            redshift.describe_logging_status,
            ClusterIdentifier=cluster_id,
        )
        config: dict[str, Any] = {
            k: v for k, v in cluster.items() if k not in VOLATILE_CLUSTER_FIELDS
        }
        config["LoggingStatus"] = (
            None
            if logging is None
            else {
                k: v
                for k, v in logging.items()
                if k not in VOLATILE_LOGGING_FIELDS and k != "ResponseMetadata"
            }
        )
        # A cluster has exactly one parameter group.
        groups = cluster.get("ClusterParameterGroups") or []
        group_name = groups[0].get("ParameterGroupName") if groups else None
        if group_name:
            if group_name not in parameters:
                parameters[group_name] = self._require_ssl(redshift, group_name)
            value, problem = parameters[group_name]
            config["RequireSsl"] = value
            if problem:
                errors["RequireSsl"] = problem
        else:
            config["RequireSsl"] = None
        config = to_jsonable(config)
        if errors:
            config[ERRORS_KEY] = errors
        partition = self.session.get_partition_for_region(self.client_region)
        return ResourceRecord(
            resource_type=CLUSTER,
            resource_id=cluster_id,
            config=config,
            arn=(
                f"arn:{partition}:redshift:{self.client_region}:"
                f"{self.account_id}:cluster:{cluster_id}"
            ),
            name=cluster_id,
            tags={t["Key"]: t.get("Value", "") for t in cluster.get("Tags") or ()},
        )

    def _require_ssl(
        self, redshift: BaseClient, group_name: str
    ) -> tuple[dict | None, str | None]:
        """(the require_ssl parameter or None if absent, error or None)."""
        errors: dict[str, str] = {}

        def drain() -> dict:
            listing = self.paginate(
                redshift,
                "describe_cluster_parameters",
                "Parameters",
                ParameterGroupName=group_name,
            )
            found = next(
                (p for p in listing if p.get("ParameterName") == REQUIRE_SSL), None
            )
            return {"parameter": found}

        response = self.optional(errors, "RequireSsl", drain)
        if response is None:
            return None, errors.get("RequireSsl")
        found = response["parameter"]
        if found is None:
            return None, None
        return {
            "ParameterGroupName": group_name,
            **{k: found[k] for k in ("ParameterValue", "Source") if k in found},
        }, None
