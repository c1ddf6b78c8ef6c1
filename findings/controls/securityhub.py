"""Security Hub controls (whitepaper: AWS Config security checks).

Security Hub runs its controls as AWS Config rules, which is why the section
holds it. Both controls read the region's ``AWS::SecurityHub::Hub`` record,
which exists for every scanned region, hub or not.
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

SECTION = "account-security/config-security-checks"
HUB = "AWS::SecurityHub::Hub"
READY = "READY"
# Standards are recognised by the path in their ARN, which carries the
# region and version (…::standards/cis-aws-foundations-benchmark/v/3.0.0).
FSBP = "aws-foundational-security-best-practices"
CIS = "cis-aws-foundations-benchmark"
STANDARD_NAMES = {FSBP: "AWS Foundational Security Best Practices", CIS: "CIS"}


@control(
    id="securityhub.enabled",
    title="AWS Security Hub is enabled in every enabled region",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=HUB,
    rationale=(
        "Security Hub gathers the findings of GuardDuty, Inspector, Macie and "
        "its own configuration checks in one place per region; a region "
        "without it has no continuous check against security best practices."
    ),
    remediation=(
        "Security Hub console (in each region) → Go to Security Hub → Enable "
        "Security Hub. With AWS Organizations, use central configuration from "
        "the delegated administrator to enable it in every account and region."
    ),
    remediation_cli="aws securityhub enable-security-hub --region <region>",
    cis=("4.16", "4.16"),
)
def enabled(r: ResourceView, ctx: Context) -> Result:
    hub = r.config.get("Hub")
    if hub is None:
        return failed(
            f"Security Hub is not enabled in {r.region} "
            "(describe_hub: the account is not subscribed)"
        )
    return passed(f"Security Hub is enabled in {r.region} ({hub.get('HubArn', '')})")


@control(
    id="securityhub.standards-enabled",
    title="Security Hub has FSBP and a CIS standard enabled",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=HUB,
    rationale=(
        "Security Hub checks nothing by itself: the standards hold its "
        "controls. AWS Foundational Security Best Practices and the CIS "
        "benchmark together cover the account, logging and network basics."
    ),
    remediation=(
        "Security Hub console → Security standards → enable AWS Foundational "
        "Security Best Practices and CIS AWS Foundations Benchmark (the newest "
        "version offered), and wait until both show Ready."
    ),
    remediation_cli=(
        "aws securityhub batch-enable-standards --standards-subscription-requests "
        "StandardsArn=arn:aws:securityhub:<region>::standards/"
        "aws-foundational-security-best-practices/v/1.0.0 "
        "StandardsArn=arn:aws:securityhub:<region>::standards/"
        "cis-aws-foundations-benchmark/v/3.0.0"
    ),
)
def standards_enabled(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("Hub") is None:
        return not_applicable(
            f"Security Hub is not enabled in {r.region} (see securityhub.enabled)"
        )
    subscriptions = r.field("StandardsSubscriptions")
    if subscriptions is None:
        raise NotEvaluable("the enabled standards were not read")
    problems, ready = [], []
    for standard, name in STANDARD_NAMES.items():
        found = [
            s for s in subscriptions if f"/{standard}/" in s.get("StandardsArn", "")
        ]
        if any(s.get("StandardsStatus") == READY for s in found):
            ready.append(name)
        elif found:
            statuses = ", ".join(sorted({s.get("StandardsStatus", "?") for s in found}))
            problems.append(f"{name} is enabled but not ready ({statuses})")
        else:
            problems.append(f"{name} is not enabled")
    if problems:
        return failed(f"Security Hub in {r.region}: {'; '.join(problems)}")
    return passed(f"Security Hub in {r.region} runs {' and '.join(ready)} (READY)")
