"""GuardDuty controls (whitepaper: Network monitoring and protection).

Both are evaluated on the region's ``AWS::GuardDuty::Detector`` record, which
exists for every scanned region, detector or not.
"""

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SECTION = "network/monitoring-and-protection"
DETECTOR = "AWS::GuardDuty::Detector"
# Findings named in a FAIL reason; the record holds up to 50.
SHOWN_FINDINGS = 3


@control(
    id="guardduty.enabled-all-regions",
    title="GuardDuty is enabled in every enabled region",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DETECTOR,
    rationale=(
        "GuardDuty watches CloudTrail, VPC flow and DNS logs for unusual or "
        "unauthorized activity. Attackers favour regions nobody uses, so a "
        "region without a detector is one where their activity goes unseen."
    ),
    remediation=(
        "GuardDuty console (in each region) → Get started → Enable GuardDuty. "
        "With AWS Organizations, set a delegated administrator and turn on "
        "auto-enable for all member accounts in every region."
    ),
    remediation_cli="aws guardduty create-detector --enable --region <region>",
    security_hub=("GuardDuty.1",),
)
def enabled_all_regions(r: ResourceView, ctx: Context) -> Result:
    detector_id = r.config.get("DetectorId")
    if not detector_id:
        return failed(f"GuardDuty is not enabled in {r.region} (no detector)")
    detector = r.field("Detector")
    if detector is None:
        raise NotEvaluable(f"detector {detector_id} was not read")
    status = detector.get("Status", "")
    if status == "ENABLED":
        return passed(f"GuardDuty detector {detector_id} is enabled in {r.region}")
    return failed(
        f"GuardDuty detector {detector_id} in {r.region} is suspended "
        f"(Status {status or 'unknown'}): it analyses nothing"
    )


@control(
    id="guardduty.no-active-high-findings",
    title="No unarchived high-severity GuardDuty findings",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DETECTOR,
    rationale=(
        "A high-severity GuardDuty finding means a resource is probably "
        "compromised or under attack right now; one left open is an incident "
        "nobody is handling."
    ),
    remediation=(
        "GuardDuty console → Findings → filter Severity: High → investigate "
        "each finding, contain the affected resource (isolate the instance, "
        "rotate the credentials), then archive the finding; suppress only "
        "findings confirmed as expected behaviour."
    ),
    remediation_cli=(
        "aws guardduty archive-findings --detector-id <detector-id> "
        "--finding-ids <finding-id>"
    ),
)
def no_active_high_findings(r: ResourceView, ctx: Context) -> Result:
    detector_id = r.config.get("DetectorId")
    if not detector_id:
        return not_applicable(
            f"GuardDuty is not enabled in {r.region}, so it has no findings "
            "(see guardduty.enabled-all-regions)"
        )
    findings = r.field("HighSeverityFindings")
    if findings is None:
        raise NotEvaluable(f"findings of detector {detector_id} were not read")
    count = findings.get("Count", 0)
    if not count:
        return passed(
            f"detector {detector_id} in {r.region} has no unarchived finding of "
            "severity 7 or more"
        )
    examples = "; ".join(
        f"{f.get('Type', '?')} (severity {f.get('Severity', 0):g}): "
        f"{f.get('Title', '')}"
        for f in findings.get("Findings", [])[:SHOWN_FINDINGS]
    )
    return failed(
        f"{count} unarchived high-severity GuardDuty finding(s) in {r.region}"
        + (f", e.g. {examples}" if examples else "")
    )
