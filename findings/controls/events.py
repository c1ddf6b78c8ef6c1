"""EventBridge controls (whitepaper: Incident response).

Evaluated on each region's default event bus (``AWS::Events::EventBus``),
where GuardDuty and Security Hub publish their findings.
"""

from typing import Any

from findings.controls.base import (
    ERRORS_KEY,
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "business-continuity/incident-response"
EVENT_BUS = "AWS::Events::EventBus"
FINDING_SOURCES = ("aws.guardduty", "aws.securityhub")


def _matches(values: Any, wanted: str) -> bool:
    """Whether an event pattern's value list matches ``wanted``.

    Handles plain strings and the prefix matcher; other content filters
    (anything-but, wildcard ...) are not credited.
    """
    for value in values if isinstance(values, list) else [values]:
        if value == wanted:
            return True
        prefix = value.get("prefix") if isinstance(value, dict) else None
        if isinstance(prefix, str) and wanted.startswith(prefix):
            return True
    return False


def _finding_sources(pattern: Any) -> list[str]:
    """The finding sources whose findings an event pattern lets through."""
    if not isinstance(pattern, dict) or "source" not in pattern:
        return []
    sources = [s for s in FINDING_SOURCES if _matches(pattern["source"], s)]
    detail_types = pattern.get("detail-type")
    if detail_types is not None:
        # A rule on, say, "Security Hub Insight Results" routes no findings.
        listed = detail_types if isinstance(detail_types, list) else [detail_types]
        if not any(isinstance(t, str) and "Finding" in t for t in listed):
            return []
    return sources


@control(
    id="events.security-findings-routed",
    title="GuardDuty/Security Hub findings are routed to a responder",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=EVENT_BUS,
    rationale=(
        "Incident response starts when someone learns of the incident. An "
        "EventBridge rule that sends GuardDuty or Security Hub findings to a "
        "topic, queue or ticketing function makes sure findings reach a "
        "responder instead of waiting in a console."
    ),
    remediation=(
        "EventBridge console (in each region) → Rules → Create rule on the "
        "default event bus → Event pattern: AWS services → GuardDuty (or "
        "Security Hub), event type GuardDuty Finding (or Security Hub Findings - "
        "Imported) → target an SNS topic, SQS queue or Lambda function that "
        "reaches the on-call team → Create."
    ),
    remediation_cli=(
        "aws events put-rule --name security-findings --event-pattern "
        '\'{"source": ["aws.guardduty", "aws.securityhub"]}\' && '
        "aws events put-targets --rule security-findings "
        "--targets Id=responder,Arn=<sns-topic-arn>"
    ),
)
def security_findings_routed(r: ResourceView, ctx: Context) -> Result:
    errors = r.config.get(ERRORS_KEY, {})
    near_misses, unknown = [], []
    for rule in r.config.get("Rules", []):
        sources = _finding_sources(rule.get("EventPattern"))
        if not sources:
            continue
        name = rule.get("Name", "")
        if rule.get("State") != "ENABLED":
            near_misses.append(f"rule {name} matches {sources[0]} but is disabled")
            continue
        if problem := errors.get(f"Targets:{name}"):
            unknown.append(f"targets of rule {name} could not be read ({problem})")
            continue
        targets = rule.get("Targets") or []
        if targets:
            arns = ", ".join(t.get("Arn", "") for t in targets)
            return passed(
                f"rule {name} sends {' and '.join(sources)} findings in "
                f"{r.region} to {arns}"
            )
        near_misses.append(f"rule {name} matches {sources[0]} but has no target")
    if unknown:
        raise NotEvaluable("; ".join(unknown))
    detail = f" ({'; '.join(near_misses)})" if near_misses else ""
    return failed(
        f"no enabled rule on the default event bus in {r.region} sends GuardDuty "
        f"or Security Hub findings anywhere{detail}"
    )
