"""AWS Trusted Advisor control: no security check in the red.

Trusted Advisor inspects the account and alerts on the most common security
misconfigurations (open security groups, exposed access keys, public
snapshots ...). Its checks are available through the Support API only with a
Business, Enterprise On-Ramp or Enterprise Support plan.
"""

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "account-security/trusted-advisor"
TRUSTED_ADVISOR = "AWS::TrustedAdvisor::SecurityChecks"
RED = "error"
NAMED = 3


def _label(check: dict) -> str:
    flagged = check.get("resourcesFlagged")
    suffix = f" ({flagged} flagged)" if flagged else ""
    return f"{check.get('name') or check.get('id')}{suffix}"


@control(
    id="trustedadvisor.security-checks-not-red",
    title="No Trusted Advisor security check is in the red (error) state",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=TRUSTED_ADVISOR,
    rationale=(
        "Trusted Advisor inspects the AWS environment and alerts on the most "
        "common security misconfigurations; a check in the red state (such as "
        "Exposed Access Keys) means action is recommended now."
    ),
    remediation=(
        "Trusted Advisor console → Security → open each check marked with a red "
        "icon → follow its recommended action for every flagged resource → "
        "Refresh the check."
    ),
    remediation_cli=(
        "aws support describe-trusted-advisor-check-result --check-id <check-id> "
        "--language en --region us-east-1"
    ),
)
def security_checks_not_red(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("SubscriptionRequired"):
        raise NotEvaluable(
            "the Support API answered SubscriptionRequiredException: Trusted "
            "Advisor security checks need a Business, Enterprise On-Ramp or "
            "Enterprise Support plan"
        )
    checks = r.field("Checks")
    if checks is None:
        raise NotEvaluable("the Trusted Advisor checks were not listed")
    red = [c for c in checks if c.get("status") == RED]
    if red:
        more = f" (+{len(red) - NAMED} more)" if len(red) > NAMED else ""
        names = ", ".join(_label(c) for c in red[:NAMED])
        verb = "is" if len(red) == 1 else "are"
        return failed(f"{names}{more} {verb} red")
    if any(c.get("status") is None for c in checks):
        r.field("CheckResults")  # ERROR with the reason the results failed
        raise NotEvaluable("some security checks returned no status")
    if not checks:
        raise NotEvaluable("Trusted Advisor listed no security checks")
    warnings = sum(1 for c in checks if c.get("status") == "warning")
    note = f" ({warnings} in warning)" if warnings else ""
    return passed(f"none of {len(checks)} security checks is red{note}")
