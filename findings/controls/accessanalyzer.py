"""IAM Access Analyzer control: external access is analysed in every region.

Access Analyzer finds resources (buckets, keys, roles, queues ...) shared
outside the account or organization; it works per region, so a region
without an analyzer is a region where unintended sharing goes unseen.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "account-security/individual-user-accounts"
ANALYZER = "AWS::AccessAnalyzer::Analyzer"
# Analyzer types that report external access (the unused- and internal-access
# types answer other questions).
EXTERNAL_ACCESS_TYPES = ("ACCOUNT", "ORGANIZATION")


@control(
    id="iam.access-analyzer.enabled-all-regions",
    title=("IAM Access Analyzer (external access) is active in every enabled region"),
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=ANALYZER,
    rationale=(
        "IAM manages who may do what; resource policies can also grant access "
        "to other accounts or to anyone. An external-access analyzer in every "
        "region reports each resource shared outside the account or "
        "organization."
    ),
    remediation=(
        "IAM console (in each region) → Access analyzer → Analyzer settings → "
        "Create analyzer → Resource analysis - External access, zone of trust "
        "the current account (or the organization, from the management or "
        "delegated administrator account) → Create analyzer."
    ),
    remediation_cli=(
        "aws accessanalyzer create-analyzer --analyzer-name external-access "
        "--type ACCOUNT --region <region>"
    ),
    cis=("1.20", "1.20"),
    security_hub=("IAM.28*",),
)
def access_analyzer_enabled(r: ResourceView, ctx: Context) -> Result:
    analyzers = r.config.get("analyzers", [])
    external = [a for a in analyzers if a.get("type") in EXTERNAL_ACCESS_TYPES]
    for analyzer in external:
        if analyzer.get("status") == "ACTIVE":
            return passed(
                f"{analyzer['type']} analyzer {analyzer.get('name')} is ACTIVE "
                f"in {r.region}"
            )
    if external:
        analyzer = external[0]
        code = (analyzer.get("statusReason") or {}).get("code")
        why = f" ({code})" if code else ""
        return failed(
            f"analyzer {analyzer.get('name')} is {analyzer.get('status')}{why}, "
            "not ACTIVE"
        )
    if analyzers:
        kinds = ", ".join(sorted({str(a.get("type")) for a in analyzers}))
        return failed(
            f"only {kinds} analyzers in {r.region}; none analyses external access"
        )
    return failed(f"no IAM Access Analyzer in {r.region}")
