"""CloudTrail: trails (with status and event selectors) and per-region coverage.

``describe_trails(includeShadowTrails=True)`` in a region returns the trails
that live there plus the "shadows" of multi-region and organization trails
whose home is elsewhere. Each trail becomes one ``AWS::CloudTrail::Trail``
record, emitted only by the unit of its home region so it is stored (and
evaluated) once. Every region also gets an ``AWS::CloudTrail::RegionCoverage``
record listing the trails that cover it, shadows included, so account-wide
conditions such as "a multi-region trail logs all management events" produce
a finding per region, and a region with no trail at all can FAIL.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

TRAIL = "AWS::CloudTrail::Trail"
REGION_COVERAGE = "AWS::CloudTrail::RegionCoverage"

# A healthy trail delivers to CloudWatch Logs every few minutes; a day of
# silence means the integration is broken (Security Hub CloudTrail.5).
CLOUDWATCH_DELIVERY_WINDOW = timedelta(hours=24)

# get_trail_status fields kept as they are: each changes only when the
# trail's configuration or health changes. The delivery and attempt times
# change every few minutes and would write a new snapshot on every scan.
STABLE_STATUS_FIELDS = (
    "IsLogging",
    "StartLoggingTime",
    "StopLoggingTime",
    "LatestDeliveryError",
    "LatestNotificationError",
    "LatestCloudWatchLogsDeliveryError",
    "LatestDigestDeliveryError",
)

# Fields of a trail that say which regions it covers.
COVERAGE_FIELDS = (
    "TrailARN",
    "Name",
    "HomeRegion",
    "IsMultiRegionTrail",
    "IsOrganizationTrail",
)

# The trail vanished between describe_trails and a sub-call: skip it.
TRAIL_GONE = ("TrailNotFoundException",)


@register
class CloudTrailCollector(Collector):
    service = "cloudtrail"
    resource_types = (TRAIL, REGION_COVERAGE)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("cloudtrail")
        covering: list[dict] = []
        for trail in self.paginate(
            client, "describe_trails", "trailList", includeShadowTrails=True
        ):
            home = trail.get("HomeRegion") or self.region
            if home == self.region:
                record = self._trail_record(client, trail)
                if record is None:
                    continue
                yield record
            covering.append({k: trail[k] for k in COVERAGE_FIELDS if k in trail})
        yield ResourceRecord(
            resource_type=REGION_COVERAGE,
            resource_id=self.region,
            name=f"CloudTrail coverage of {self.region}",
            # Sorted: describe_trails does not promise an order, and the
            # snapshot must not change when only the order does.
            config={
                "Trails": sorted(
                    to_jsonable(covering), key=lambda t: t.get("TrailARN", "")
                )
            },
        )

    def _trail_record(self, client: BaseClient, trail: dict) -> ResourceRecord | None:
        arn = trail["TrailARN"]
        errors: dict[str, str] = {}
        config = to_jsonable(trail)

        # The ARN, not the name: a trail owned by another account (an
        # organization trail) or a shadow is only addressable by its ARN.
        status = self.optional(
            errors, "Status", client.get_trail_status, absent=TRAIL_GONE, Name=arn
        )
        if status is None and "Status" not in errors:
            return None
        config["Status"] = self._stable_status(status) if status else None

        selectors = self.optional(
            errors,
            "EventSelectors",
            client.get_event_selectors,
            absent=TRAIL_GONE,
            TrailName=arn,
        )
        if selectors is None and "EventSelectors" not in errors:
            return None
        config["EventSelectors"] = (
            {
                "EventSelectors": to_jsonable(selectors.get("EventSelectors", [])),
                "AdvancedEventSelectors": to_jsonable(
                    selectors.get("AdvancedEventSelectors", [])
                ),
            }
            if selectors
            else None
        )

        tags = self._tags(client, arn, errors)
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=TRAIL,
            resource_id=arn,
            arn=arn,
            name=trail.get("Name", ""),
            tags=tags,
            config=config,
        )

    def _stable_status(self, status: dict) -> dict:
        stable = {k: status[k] for k in STABLE_STATUS_FIELDS if k in status}
        delivered = status.get("LatestCloudWatchLogsDeliveryTime")
        # Reduced to a flag against the scan's clock: it stays True for a
        # healthy trail and flips only when delivery starts or stops.
        stable["CloudWatchLogsDeliveredWithin24h"] = isinstance(
            delivered, datetime
        ) and (self.now - delivered <= CLOUDWATCH_DELIVERY_WINDOW)
        return to_jsonable(stable)

    def _tags(self, client: BaseClient, arn: str, errors: dict[str, str]) -> dict:
        def list_tags(**kwargs: Any) -> dict:
            pages = self.paginate(client, "list_tags", "ResourceTagList", **kwargs)
            return {"ResourceTagList": list(pages)}

        response = self.optional(
            errors, "Tags", list_tags, absent=TRAIL_GONE, ResourceIdList=[arn]
        )
        tags: dict[str, str] = {}
        for resource in (response or {}).get("ResourceTagList", []):
            for tag in resource.get("TagsList", []):
                tags[tag["Key"]] = tag.get("Value", "")
        return tags
