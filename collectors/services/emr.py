"""Amazon EMR: block public access per region, active clusters, security configs.

- ``AWS::EMR::BlockPublicAccessConfiguration``: one record per region
  (resource id = the region), emitted even when the call fails, so the
  region's finding is ERROR rather than missing.
- ``AWS::EMR::Cluster``: every cluster that is not terminated (listed
  terminated clusters linger for two months and run nothing), with its
  description and its primary node(s).
- ``AWS::EMR::SecurityConfiguration``: each configuration attached to an
  active cluster, described once: a configuration no cluster uses protects
  nothing. Only when a cluster cannot be described are all configurations
  listed, so that the one it uses is not mistaken for deleted.
"""

import json
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

BLOCK_PUBLIC_ACCESS = "AWS::EMR::BlockPublicAccessConfiguration"
CLUSTER = "AWS::EMR::Cluster"
SECURITY_CONFIGURATION = "AWS::EMR::SecurityConfiguration"

ACTIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
LIVE_INSTANCE_STATES = [
    "AWAITING_FULFILLMENT",
    "PROVISIONING",
    "BOOTSTRAPPING",
    "RUNNING",
]

# Fields of DescribeCluster that are not stored. The state flips between
# RUNNING and WAITING with every step and the normalized instance hours grow
# by the hour; application configurations (hive-site and the like) can hold
# metastore passwords, which never reach the database.
DROPPED_CLUSTER_FIELDS = ("Status", "NormalizedInstanceHours", "Configurations")
# KerberosAttributes carries the KDC and domain-join passwords.
SECRET_SUFFIX = "Password"
# Per primary instance, only what identifies it and how it is reachable.
INSTANCE_FIELDS = (
    "Id",
    "Ec2InstanceId",
    "PublicIpAddress",
    "PublicDnsName",
    "PrivateIpAddress",
)

# No "absent" error codes for EMR's sub-calls: active clusters are not purged
# mid-scan, and EMR answers InvalidRequestException for many other problems,
# which must show as errors rather than as a resource that is gone.


@register
class EMRCollector(Collector):
    service = "emr"
    resource_types = (BLOCK_PUBLIC_ACCESS, CLUSTER, SECURITY_CONFIGURATION)

    def collect(self) -> Iterator[ResourceRecord]:
        emr = self.client("emr")
        yield self._block_public_access(emr)
        in_use: set[str] = set()
        complete = True
        clusters = self.paginate(
            emr, "list_clusters", "Clusters", ClusterStates=ACTIVE_CLUSTER_STATES
        )
        for listed in clusters:
            record = self._cluster(emr, listed)
            cluster = record.config.get("Cluster")
            if cluster is None:
                complete = False
            elif cluster.get("SecurityConfiguration"):
                in_use.add(cluster["SecurityConfiguration"])
            yield record
        if not complete:
            # A cluster could not be described, so its configuration is not
            # known: list them all rather than let one read as deleted. A
            # failure here fails the unit, which leaves them unknown.
            listed_names = self.paginate(
                emr, "list_security_configurations", "SecurityConfigurations"
            )
            in_use.update(item["Name"] for item in listed_names)
        for name in sorted(in_use):
            yield self._security_configuration(emr, name)

    def _partition(self) -> str:
        return self.session.get_partition_for_region(self.client_region)

    # -- region-level setting

    def _block_public_access(self, emr: BaseClient) -> ResourceRecord:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "BlockPublicAccessConfiguration",
            emr.get_block_public_access_configuration,
        )
        config: dict[str, Any] = {
            # The metadata (who changed it, when) is left out: it is not the
            # setting, and the setting is what the control reads.
            "BlockPublicAccessConfiguration": (
                None
                if response is None
                else to_jsonable(response.get("BlockPublicAccessConfiguration") or {})
            )
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=BLOCK_PUBLIC_ACCESS,
            resource_id=self.client_region,
            config=config,
            name=f"EMR block public access ({self.client_region})",
        )

    # -- clusters

    def _cluster(self, emr: BaseClient, listed: dict) -> ResourceRecord:
        cluster_id = listed["Id"]
        errors: dict[str, str] = {}
        described = self.optional(
            errors, "Cluster", emr.describe_cluster, ClusterId=cluster_id
        )
        cluster = None if described is None else described.get("Cluster", {})
        primary = self._primary_instances(emr, cluster_id, cluster, errors)
        config: dict[str, Any] = {
            "Id": cluster_id,
            "Name": listed.get("Name", ""),
            "Cluster": None if cluster is None else _stored_cluster(cluster),
            "PrimaryInstances": primary,
        }
        if errors:
            config[ERRORS_KEY] = errors
        tags = (cluster or {}).get("Tags", [])
        return ResourceRecord(
            resource_type=CLUSTER,
            resource_id=cluster_id,
            config=config,
            arn=listed.get("ClusterArn")
            or (
                f"arn:{self._partition()}:elasticmapreduce:{self.client_region}:"
                f"{self.account_id}:cluster/{cluster_id}"
            ),
            name=listed.get("Name", ""),
            tags={t["Key"]: t.get("Value", "") for t in tags},
        )

    def _primary_instances(
        self,
        emr: BaseClient,
        cluster_id: str,
        cluster: dict | None,
        errors: dict[str, str],
    ) -> list[dict] | None:
        if cluster is None:
            errors["PrimaryInstances"] = "other: not read (DescribeCluster failed)"
            return None
        # Instance-fleet clusters are filtered by fleet type; the group-type
        # filter would match nothing on them.
        if cluster.get("InstanceCollectionType") == "INSTANCE_FLEET":
            role = {"InstanceFleetType": "MASTER"}
        else:
            role = {"InstanceGroupTypes": ["MASTER"]}

        def listing() -> dict:
            instances = self.paginate(
                emr,
                "list_instances",
                "Instances",
                ClusterId=cluster_id,
                InstanceStates=LIVE_INSTANCE_STATES,
                **role,
            )
            return {"Instances": list(instances)}

        response = self.optional(errors, "PrimaryInstances", listing)
        if response is None:
            return None
        return sorted(
            (
                to_jsonable({k: i[k] for k in INSTANCE_FIELDS if i.get(k)})
                for i in response["Instances"]
            ),
            key=lambda i: i.get("Ec2InstanceId", ""),
        )

    # -- security configurations

    def _security_configuration(self, emr: BaseClient, name: str) -> ResourceRecord:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "SecurityConfiguration",
            emr.describe_security_configuration,
            Name=name,
        )
        document = None
        if response is not None:
            try:
                document = json.loads(response.get("SecurityConfiguration") or "{}")
            except ValueError as exc:
                errors["SecurityConfiguration"] = (
                    f"other: security configuration is not valid JSON ({exc})"
                )
        config: dict[str, Any] = {
            "Name": name,
            "SecurityConfiguration": document,
            "CreationDateTime": to_jsonable((response or {}).get("CreationDateTime")),
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=SECURITY_CONFIGURATION,
            resource_id=name,
            config=config,
            name=name,
        )


def _stored_cluster(cluster: dict) -> dict:
    stored = {k: v for k, v in cluster.items() if k not in DROPPED_CLUSTER_FIELDS}
    if "KerberosAttributes" in stored:
        stored["KerberosAttributes"] = {
            k: v
            for k, v in stored["KerberosAttributes"].items()
            if not k.endswith(SECRET_SUFFIX)
        }
    return to_jsonable(stored)
