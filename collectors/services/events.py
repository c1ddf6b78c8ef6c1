"""Amazon EventBridge: the default event bus of each region and its rules.

AWS services (GuardDuty, Security Hub, ...) publish their events to the
default bus only, so that bus is the one place a region's security findings
can be routed from. Each region yields one ``AWS::Events::EventBus`` record
for its default bus, which always exists, holding the bus's rules and each
rule's targets; a region without any rule still gets a record, so the
routing control can FAIL there.
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

EVENT_BUS = "AWS::Events::EventBus"
DEFAULT_BUS = "default"
# Target fields kept: where the events go. Input templates and parameters
# can embed tokens and say nothing about whether findings are routed.
TARGET_FIELDS = ("Id", "Arn", "RoleArn", "DeadLetterConfig")
# The rule was deleted between the listing and the call.
RULE_GONE = ("ResourceNotFoundException",)


@register
class EventsCollector(Collector):
    service = "events"
    resource_types = (EVENT_BUS,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("events")
        errors: dict[str, str] = {}
        rules = []
        for rule in self.paginate(
            client, "list_rules", "Rules", EventBusName=DEFAULT_BUS
        ):
            summary = self._rule(client, rule, errors)
            if summary is not None:
                rules.append(summary)
        config: dict[str, Any] = {
            "Name": DEFAULT_BUS,
            "Rules": sorted(rules, key=lambda r: r["Name"]),
        }
        if errors:
            config[ERRORS_KEY] = errors
        partition = self.session.get_partition_for_region(self.region)
        arn = (
            f"arn:{partition}:events:{self.region}:{self.account_id}:"
            f"event-bus/{DEFAULT_BUS}"
        )
        yield ResourceRecord(
            resource_type=EVENT_BUS,
            resource_id=arn,
            arn=arn,
            name=f"default event bus ({self.region})",
            config=config,
        )

    def _rule(
        self, client: BaseClient, rule: dict, errors: dict[str, str]
    ) -> dict | None:
        name = rule["Name"]
        summary = to_jsonable(rule)
        summary["EventPattern"] = _parse_pattern(rule.get("EventPattern"))

        def targets(**kwargs: Any) -> dict:
            pages = self.paginate(client, "list_targets_by_rule", "Targets", **kwargs)
            return {"Targets": list(pages)}

        key = f"Targets:{name}"
        response = self.optional(
            errors, key, targets, absent=RULE_GONE, Rule=name, EventBusName=DEFAULT_BUS
        )
        if response is None and key not in errors:
            return None  # deleted mid-scan
        summary["Targets"] = (
            sorted(
                (
                    {k: t[k] for k in TARGET_FIELDS if k in t}
                    for t in to_jsonable(response["Targets"])
                ),
                key=lambda t: t.get("Id", ""),
            )
            if response is not None
            else None
        )
        return summary


def _parse_pattern(pattern: str | None) -> Any:
    """The event pattern as JSON; the raw text if it is not valid JSON."""
    if not pattern:
        return None
    try:
        return json.loads(pattern)
    except ValueError:
        return pattern
