"""Amazon GuardDuty: the detector of each region and its open high findings.

One ``AWS::GuardDuty::Detector`` record per region (resource id = the region)
so a region where GuardDuty was never enabled still yields a record and the
"enabled in every region" control can FAIL there. AWS allows one detector per
account and region.

The high-severity findings are kept as a count plus the worst few, without
the fields that move while a finding stays open (``UpdatedAt``, the event
count and last-seen time), so the snapshot changes when a finding is raised,
archived or resolved, not every time GuardDuty sees the activity again.
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

DETECTOR = "AWS::GuardDuty::Detector"

# GuardDuty's own scale: 7.0-8.9 is High, 9.0-10.0 Critical.
HIGH_SEVERITY = 7
OPEN_HIGH_FINDINGS = {
    "Criterion": {
        "severity": {"GreaterThanOrEqual": HIGH_SEVERITY},
        "service.archived": {"Equals": ["false"]},
    }
}
WORST_FIRST = {"AttributeName": "severity", "OrderBy": "DESC"}
# get_findings takes at most 50 ids; the worst 50 are enough to name examples.
MAX_FINDING_DETAILS = 50
# get_detector fields that change without a configuration change.
VOLATILE_DETECTOR_FIELDS = ("UpdatedAt", "CreatedAt")
# The detector was deleted between the listing and the call.
DETECTOR_GONE = ("BadRequestException", "ResourceNotFoundException")


@register
class GuardDutyCollector(Collector):
    service = "guardduty"
    resource_types = (DETECTOR,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("guardduty")
        detector_ids = sorted(self.paginate(client, "list_detectors", "DetectorIds"))
        errors: dict[str, str] = {}
        detector_id = detector_ids[0] if detector_ids else None
        detector = findings = None
        tags: dict[str, str] = {}
        if detector_id:
            response = self.optional(
                errors,
                "Detector",
                client.get_detector,
                absent=DETECTOR_GONE,
                DetectorId=detector_id,
            )
            if response is None and "Detector" not in errors:
                detector_id = None  # deleted mid-scan: the region has none now
            elif response is not None:
                detector = _stable_detector(response)
                tags = detector.pop("Tags", None) or {}
        if detector_id:
            findings = self.optional(
                errors,
                "HighSeverityFindings",
                self._high_findings,
                client=client,
                detector_id=detector_id,
            )
        config: dict[str, Any] = {
            "DetectorId": detector_id,
            "Detector": detector,
            "HighSeverityFindings": findings,
        }
        if errors:
            config[ERRORS_KEY] = errors
        arn = (
            f"arn:{self.session.get_partition_for_region(self.region)}:guardduty:"
            f"{self.region}:{self.account_id}:detector/{detector_id}"
            if detector_id
            else ""
        )
        yield ResourceRecord(
            resource_type=DETECTOR,
            resource_id=self.region,
            arn=arn,
            name=f"GuardDuty in {self.region}",
            tags=tags,
            config=config,
        )

    def _high_findings(self, *, client: BaseClient, detector_id: str) -> dict:
        ids = list(
            self.paginate(
                client,
                "list_findings",
                "FindingIds",
                DetectorId=detector_id,
                FindingCriteria=OPEN_HIGH_FINDINGS,
                SortCriteria=WORST_FIRST,
            )
        )
        details: list[dict] = []
        if ids:
            response = client.get_findings(
                DetectorId=detector_id,
                FindingIds=ids[:MAX_FINDING_DETAILS],
                SortCriteria=WORST_FIRST,
            )
            details = [_finding_summary(f) for f in response.get("Findings", [])]
        return {
            "Count": len(ids),
            "Findings": sorted(details, key=lambda f: (-f["Severity"], f["Id"])),
        }


def _stable_detector(response: dict) -> dict:
    detector = {
        k: v
        for k, v in to_jsonable(response).items()
        if k not in VOLATILE_DETECTOR_FIELDS
    }
    detector["Features"] = [
        {k: v for k, v in feature.items() if k != "UpdatedAt"}
        for feature in detector.get("Features") or []
    ]
    return detector


def _finding_summary(finding: dict) -> dict:
    return {
        "Id": finding.get("Id", ""),
        "Type": finding.get("Type", ""),
        "Severity": float(finding.get("Severity", 0)),
        "Title": finding.get("Title", ""),
        "ResourceType": (finding.get("Resource") or {}).get("ResourceType", ""),
    }
