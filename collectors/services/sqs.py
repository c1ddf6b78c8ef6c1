"""Amazon SQS: queues with their configuration attributes and tags.

Only configuration is stored. The message counters that GetQueueAttributes
returns with "All" (ApproximateNumberOfMessages…) change with every message
and would write a new snapshot on almost every scan, so they are dropped.
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

QUEUE = "AWS::SQS::Queue"

# ListQueues returns a NextToken only when MaxResults is given; without it AWS
# silently stops at 1,000 queues. 1,000 is also its largest page.
LIST_QUEUES_PAGE_SIZE = 1000

# The queue vanished between the listing and the sub-call: skip it.
QUEUE_GONE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

VOLATILE_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)


@register
class SQSCollector(Collector):
    service = "sqs"
    resource_types = (QUEUE,)

    def collect(self) -> Iterator[ResourceRecord]:
        sqs = self.client("sqs")
        urls = self.paginate(
            sqs,
            "list_queues",
            "QueueUrls",
            PaginationConfig={"PageSize": LIST_QUEUES_PAGE_SIZE},
        )
        for url in urls:
            record = self._queue(sqs, url)
            if record is not None:
                yield record

    def _queue(self, sqs: BaseClient, url: str) -> ResourceRecord | None:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "Attributes",
            sqs.get_queue_attributes,
            absent=QUEUE_GONE,
            QueueUrl=url,
            AttributeNames=["All"],
        )
        if response is None and "Attributes" not in errors:
            return None  # deleted after the listing
        attributes = policy = None
        if response is not None:
            attributes = _stable_attributes(response.get("Attributes", {}))
            policy = _parse_policy(attributes.pop("Policy", None), errors)
        tags = self.optional(
            errors, "Tags", sqs.list_queue_tags, absent=QUEUE_GONE, QueueUrl=url
        )
        name = url.rstrip("/").rsplit("/", 1)[-1]
        config: dict[str, Any] = {
            "QueueUrl": url,
            "Attributes": attributes,
            # Parsed, so a policy re-serialised with other spacing is no change.
            "Policy": policy,
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=QUEUE,
            resource_id=name,
            config=config,
            arn=(attributes or {}).get("QueueArn") or self._arn(name),
            name=name,
            tags=dict((tags or {}).get("Tags") or {}),
        )

    def _arn(self, name: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        return f"arn:{partition}:sqs:{self.client_region}:{self.account_id}:{name}"


def _stable_attributes(attributes: dict) -> dict:
    return to_jsonable(
        {k: v for k, v in attributes.items() if k not in VOLATILE_ATTRIBUTES}
    )


def _parse_policy(text: str | None, errors: dict[str, str]) -> dict | None:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        errors["Policy"] = f"other: queue policy is not valid JSON ({exc})"
        return None
