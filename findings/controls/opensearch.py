"""Amazon OpenSearch Service controls (an extension beneath CloudSearch).

OpenSearch Service is AWS's stated migration target for CloudSearch; the same
concerns apply: data encrypted at rest and between nodes, endpoints kept off
the internet, and HTTPS with modern TLS.
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

SECTION = "service/analytics/cloudsearch/opensearch"
DOMAIN = "AWS::OpenSearchService::Domain"

# Every "Policy-Min-TLS-1-2-…" policy (2019-07, PFS-2023-10 and the FIPS
# ones added since) refuses TLS 1.0 and 1.1.
TLS_1_2_PREFIXES = ("Policy-Min-TLS-1-2-", "Policy-Min-TLS-1-3-")


def _domain(r: ResourceView) -> dict:
    return r.field("DomainStatus") or {}


@control(
    id="opensearch.domain.encrypted",
    title="OpenSearch domains encrypt at rest and node-to-node",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DOMAIN,
    rationale=(
        "All data can and should be encrypted. Encryption at rest covers "
        "indices, logs, swap files and snapshots; node-to-node encryption "
        "wraps the traffic between the domain's nodes in TLS."
    ),
    remediation=(
        "OpenSearch console → Domains → choose the domain → Actions → Edit "
        "security configuration → Encryption: tick Enable encryption of data "
        "at rest (choose a KMS key) and Node-to-node encryption → Save changes."
    ),
    remediation_cli=(
        "aws opensearch update-domain-config --domain-name <domain> "
        "--encryption-at-rest-options Enabled=true "
        "--node-to-node-encryption-options Enabled=true"
    ),
    security_hub=("Opensearch.1", "Opensearch.3"),
)
def domain_encrypted(r: ResourceView, ctx: Context) -> Result:
    domain = _domain(r)
    at_rest = (domain.get("EncryptionAtRestOptions") or {}).get("Enabled") is True
    node_to_node = (domain.get("NodeToNodeEncryptionOptions") or {}).get(
        "Enabled"
    ) is True
    missing = [
        label
        for label, on in (("at rest", at_rest), ("node-to-node", node_to_node))
        if not on
    ]
    if missing:
        return failed(f"encryption {' and '.join(missing)} is off")
    return passed("encrypted at rest and node-to-node")


@control(
    id="opensearch.domain.in-vpc",
    title="OpenSearch domains are VPC-only",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=DOMAIN,
    rationale=(
        "A domain with a public endpoint is reachable from the whole internet "
        "and protected only by its access policy; a VPC domain is reachable "
        "only from the VPC, through its security groups."
    ),
    remediation=(
        "A public domain cannot be moved into a VPC. OpenSearch console → "
        "Domains → Create domain → Network: VPC access, with private subnets "
        "and a security group → Create; restore or reindex the data into it "
        "from a snapshot, then delete the public domain."
    ),
    remediation_cli=(
        "aws opensearch create-domain --domain-name <new-domain> "
        "--vpc-options SubnetIds=<subnet-id>,SecurityGroupIds=<sg-id>"
    ),
    security_hub=("Opensearch.2",),
)
def domain_in_vpc(r: ResourceView, ctx: Context) -> Result:
    vpc = _domain(r).get("VPCOptions") or {}
    if vpc.get("VPCId"):
        return passed(f"VPC-only domain in {vpc['VPCId']}")
    if vpc.get("SubnetIds"):
        return passed(f"VPC-only domain in subnet {', '.join(vpc['SubnetIds'])}")
    return failed("domain has a public endpoint (no VPC options)")


@control(
    id="opensearch.domain.https-tls12",
    title="OpenSearch endpoints require HTTPS with a TLS 1.2+ policy",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DOMAIN,
    rationale=(
        "SSL/TLS for data in transit is a feature to always configure. "
        "Requiring HTTPS with a TLS 1.2 minimum keeps documents, queries and "
        "credentials off the network in clear text or over weak TLS."
    ),
    remediation=(
        "OpenSearch console → Domains → choose the domain → Actions → Edit "
        "security configuration → tick Require HTTPS for all traffic → TLS "
        "security policy Policy-Min-TLS-1-2-PFS-2023-10 → Save changes."
    ),
    remediation_cli=(
        "aws opensearch update-domain-config --domain-name <domain> "
        "--domain-endpoint-options "
        "EnforceHTTPS=true,TLSSecurityPolicy=Policy-Min-TLS-1-2-PFS-2023-10"
    ),
    security_hub=("Opensearch.8",),
)
def domain_https_tls12(r: ResourceView, ctx: Context) -> Result:
    options = _domain(r).get("DomainEndpointOptions") or {}
    policy = options.get("TLSSecurityPolicy") or "not set"
    if options.get("EnforceHTTPS") is not True:
        return failed(f"HTTPS is not required (TLS policy {policy})")
    if not policy.startswith(TLS_1_2_PREFIXES):
        return failed(
            f"HTTPS is required but the TLS policy {policy} allows TLS before 1.2"
        )
    return passed(f"HTTPS is required with {policy}")
