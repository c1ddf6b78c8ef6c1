"""AWS Systems Manager: managed instances and their patch compliance.

Every node registered with Systems Manager in the region (EC2 instances and
hybrid ``mi-`` nodes) becomes one ``AWS::SSM::PatchCompliance`` record, keyed
by its instance id, holding its instance information (agent, ping status,
platform) and its patch state. The EC2 control "instances are managed by
Systems Manager" reads these records to know which instances are managed.

Patch states are asked for 50 instances at a time (the API's maximum); a
failed batch is recorded in the ``_errors`` of each of its records.

Snapshot stability: ping, association and patch-operation times change with
every heartbeat or scan and are left out; the ping status and the patch
counts stay.
"""

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

PATCH_COMPLIANCE = "AWS::SSM::PatchCompliance"

BATCH = 50  # describe_instance_patch_states accepts at most 50 instance ids
INFORMATION_PAGE = 50  # describe_instance_information's largest page
VOLATILE_INFORMATION = (
    "LastPingDateTime",
    "IsLatestVersion",
    "AssociationStatus",
    "LastAssociationExecutionDate",
    "LastSuccessfulAssociationExecutionDate",
    "AssociationOverview",
)
VOLATILE_PATCH_STATE = (
    "SnapshotId",
    "OperationStartTime",
    "OperationEndTime",
    "LastNoRebootInstallOperationTime",
)


def _batches(items: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _without(item: dict, keys: tuple[str, ...]) -> dict:
    return {k: v for k, v in to_jsonable(item).items() if k not in keys}


@register
class SSMCollector(Collector):
    service = "ssm"
    resource_types = (PATCH_COMPLIANCE,)

    def collect(self) -> Iterator[ResourceRecord]:
        ssm = self.client("ssm")
        instances = self.paginate(
            ssm,
            "describe_instance_information",
            "InstanceInformationList",
            PaginationConfig={"PageSize": INFORMATION_PAGE},
        )
        for batch in _batches(instances, BATCH):
            errors: dict[str, str] = {}
            states = self._patch_states(ssm, [i["InstanceId"] for i in batch], errors)
            for information in batch:
                yield self._record(information, states, errors)

    def _patch_states(
        self, ssm: BaseClient, instance_ids: list[str], errors: dict[str, str]
    ) -> dict[str, dict] | None:
        def drain() -> dict:
            return {
                "InstancePatchStates": list(
                    self.paginate(
                        ssm,
                        "describe_instance_patch_states",
                        "InstancePatchStates",
                        InstanceIds=instance_ids,
                    )
                )
            }

        response = self.optional(errors, "PatchState", drain)
        if response is None:
            return None
        return {s["InstanceId"]: s for s in response["InstancePatchStates"]}

    def _record(
        self,
        information: dict,
        states: dict[str, dict] | None,
        errors: dict[str, str],
    ) -> ResourceRecord:
        instance_id = information["InstanceId"]
        config: dict[str, Any] = {
            "InstanceInformation": _without(information, VOLATILE_INFORMATION),
            "PatchState": None,
        }
        if states is not None and instance_id in states:
            config["PatchState"] = _without(states[instance_id], VOLATILE_PATCH_STATE)
        if errors:
            config[ERRORS_KEY] = dict(errors)
        return ResourceRecord(
            resource_type=PATCH_COMPLIANCE,
            resource_id=instance_id,
            config=config,
            arn=self._arn(instance_id),
            name=information.get("Name") or information.get("ComputerName") or "",
        )

    def _arn(self, instance_id: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        prefix = f"arn:{partition}:{{}}:{self.client_region}:{self.account_id}"
        if instance_id.startswith("mi-"):
            return prefix.format("ssm") + f":managed-instance/{instance_id}"
        return prefix.format("ec2") + f":instance/{instance_id}"
