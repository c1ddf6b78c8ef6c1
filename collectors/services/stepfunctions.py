"""AWS Step Functions: state machines with their logging, tracing and encryption.

The state machine definition is not stored: it is large, changes with every
workflow edit that has no bearing on the controls, and can embed literal
parameters (API keys, connection strings) that must not reach the database.
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

STATE_MACHINE = "AWS::StepFunctions::StateMachine"

# The state machine vanished between the listing and the sub-call.
STATE_MACHINE_GONE = ("StateMachineDoesNotExist",)

# Not configuration: the definition (see above) and the request metadata.
DROPPED_FIELDS = ("definition", "ResponseMetadata")


@register
class StepFunctionsCollector(Collector):
    service = "stepfunctions"
    resource_types = (STATE_MACHINE,)

    def collect(self) -> Iterator[ResourceRecord]:
        sfn = self.client("stepfunctions")
        for listed in self.paginate(sfn, "list_state_machines", "stateMachines"):
            record = self._state_machine(sfn, listed)
            if record is not None:
                yield record

    def _state_machine(self, sfn: BaseClient, listed: dict) -> ResourceRecord | None:
        arn = listed["stateMachineArn"]
        errors: dict[str, str] = {}
        described = self.optional(
            errors,
            "StateMachine",
            sfn.describe_state_machine,
            absent=STATE_MACHINE_GONE,
            stateMachineArn=arn,
        )
        if described is None and "StateMachine" not in errors:
            return None  # deleted after the listing
        tags = self.optional(
            errors,
            "Tags",
            sfn.list_tags_for_resource,
            absent=STATE_MACHINE_GONE,
            resourceArn=arn,
        )
        config: dict[str, Any] = to_jsonable(listed)
        config["StateMachine"] = (
            None
            if described is None
            else to_jsonable(
                {k: v for k, v in described.items() if k not in DROPPED_FIELDS}
            )
        )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=STATE_MACHINE,
            resource_id=arn,
            config=config,
            arn=arn,
            name=listed.get("name", ""),
            tags={t["key"]: t.get("value", "") for t in (tags or {}).get("tags", [])},
        )
