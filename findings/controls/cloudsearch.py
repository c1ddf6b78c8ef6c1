"""Amazon CloudSearch controls: HTTPS endpoints and access policies.

The whitepaper's CloudSearch notes: one search domain per data collection,
queried through a general-purpose endpoint. CloudSearch has been closed to
new customers since 2024; OpenSearch, its migration target, has its own rows.
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
from findings.controls.policy import as_list, public_statements, statements

SECTION = "service/analytics/cloudsearch"
DOMAIN = "AWS::CloudSearch::Domain"

TLS_1_2_POLICY = "Policy-Min-TLS-1-2-2019-07"


def _describe_grant(policy: dict, statement: dict) -> str:
    sid = statement.get("Sid")
    position = statements(policy).index(statement) + 1
    label = f'statement "{sid}"' if sid else f"statement {position}"
    actions = ", ".join(map(str, as_list(statement.get("Action")))) or "nothing"
    return (
        f"access policy {label} allows everyone on {actions} with no "
        "aws:SourceIp or aws:SourceVpc condition"
    )


@control(
    id="cloudsearch.domain.https-enforced",
    title="CloudSearch endpoints require HTTPS with TLS 1.2",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DOMAIN,
    rationale=(
        "SSL/TLS for data in transit is a feature to always configure. "
        "Enforcing HTTPS with the TLS 1.2 policy keeps documents and search "
        "queries from crossing the network in clear text or over weak TLS."
    ),
    remediation=(
        "CloudSearch console → choose the domain → Domain configuration → "
        "HTTPS → Edit → Require HTTPS → Minimum TLS version 1.2 → Submit."
    ),
    remediation_cli=(
        "aws cloudsearch update-domain-endpoint-options --domain-name <domain> "
        "--domain-endpoint-options "
        "EnforceHTTPS=true,TLSSecurityPolicy=Policy-Min-TLS-1-2-2019-07"
    ),
)
def domain_https_enforced(r: ResourceView, ctx: Context) -> Result:
    options = r.field("DomainEndpointOptions")
    if options is None:
        raise NotEvaluable("the domain endpoint options were not returned")
    policy = options.get("TLSSecurityPolicy") or "not set"
    if options.get("EnforceHTTPS") is not True:
        return failed(f"HTTPS is not enforced (TLS policy {policy})")
    if policy != TLS_1_2_POLICY:
        return failed(f"HTTPS is enforced but the TLS policy is {policy}")
    return passed(f"HTTPS is enforced with {policy}")


@control(
    id="cloudsearch.domain.no-public-access-policy",
    title="CloudSearch access policies are not open to everyone",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DOMAIN,
    rationale=(
        "A domain is queried and fed through general-purpose endpoints. An "
        "access policy that allows everyone, with no source IP or VPC "
        "condition, lets anyone on the internet search or change its documents."
    ),
    remediation=(
        "CloudSearch console → choose the domain → Access policies → Edit: "
        'replace Principal "*" with the accounts or roles that need access, or '
        "add an aws:SourceIp condition listing your networks → Submit."
    ),
    remediation_cli=(
        "aws cloudsearch update-service-access-policies --domain-name <domain> "
        "--access-policies file://access-policy.json"
    ),
)
def domain_no_public_access_policy(r: ResourceView, ctx: Context) -> Result:
    policy = r.field("AccessPolicies")
    if policy is None:
        return passed("no access policy: only IAM identities of the account search")
    public = public_statements(policy)
    if public:
        return failed("; ".join(_describe_grant(policy, s) for s in public))
    return passed("no access policy statement allows everyone without a condition")
