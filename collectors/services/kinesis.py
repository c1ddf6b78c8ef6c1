"""Amazon Kinesis Data Streams: streams with encryption, retention and tags.

The stream summary's shard and consumer counts move with resharding (and on
their own for on-demand streams), and its status passes through UPDATING on
every change; none of them is configuration, so they are not stored.
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

STREAM = "AWS::Kinesis::Stream"

# The stream vanished between the listing and the sub-call.
STREAM_GONE = ("ResourceNotFoundException",)

VOLATILE_SUMMARY_FIELDS = ("OpenShardCount", "ConsumerCount", "StreamStatus")

# ListTagsForStream returns at most 50 tags a page (a stream may have 50).
TAG_PAGE_SIZE = 50


@register
class KinesisCollector(Collector):
    service = "kinesis"
    resource_types = (STREAM,)

    def collect(self) -> Iterator[ResourceRecord]:
        kinesis = self.client("kinesis")
        for name in self.paginate(kinesis, "list_streams", "StreamNames"):
            record = self._stream(kinesis, name)
            if record is not None:
                yield record

    def _stream(self, kinesis: BaseClient, name: str) -> ResourceRecord | None:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "StreamDescriptionSummary",
            kinesis.describe_stream_summary,
            absent=STREAM_GONE,
            StreamName=name,
        )
        if response is None and "StreamDescriptionSummary" not in errors:
            return None  # deleted after the listing
        summary = None
        if response is not None:
            summary = to_jsonable(
                {
                    k: v
                    for k, v in response["StreamDescriptionSummary"].items()
                    if k not in VOLATILE_SUMMARY_FIELDS
                }
            )
        tags = self.optional(
            errors, "Tags", self._tags, absent=STREAM_GONE, kinesis=kinesis, name=name
        )
        config: dict[str, Any] = {
            "StreamName": name,
            "StreamDescriptionSummary": summary,
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=STREAM,
            resource_id=name,
            config=config,
            arn=(summary or {}).get("StreamARN") or self._arn(name),
            name=name,
            tags=(tags or {}).get("Tags", {}),
        )

    def _tags(self, kinesis: BaseClient, name: str) -> dict:
        # No paginator: ListTagsForStream pages by the last tag key seen.
        tags: dict[str, str] = {}
        kwargs: dict[str, Any] = {"StreamName": name, "Limit": TAG_PAGE_SIZE}
        while True:
            page = kinesis.list_tags_for_stream(**kwargs)
            for tag in page.get("Tags", []):
                tags[tag["Key"]] = tag.get("Value", "")
            if not page.get("HasMoreTags") or not page.get("Tags"):
                return {"Tags": tags}
            kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]

    def _arn(self, name: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        return (
            f"arn:{partition}:kinesis:{self.client_region}:{self.account_id}:"
            f"stream/{name}"
        )
