"""Amazon EMR controls: public access and encryption of clusters.

The whitepaper names EMR among the services whose platform AWS secures; the
customer still owns whether clusters are reachable from the internet and
whether their data is encrypted at rest and in transit.
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

SECTION = "service/analytics/emr"
BLOCK_PUBLIC_ACCESS = "AWS::EMR::BlockPublicAccessConfiguration"
CLUSTER = "AWS::EMR::Cluster"
SECURITY_CONFIGURATION = "AWS::EMR::SecurityConfiguration"

SSH_PORT = 22


def _port_range(item: dict) -> str:
    low = item.get("MinRange")
    high = item.get("MaxRange", low)
    return str(low) if low == high else f"{low}-{high}"


@control(
    id="emr.block-public-access",
    title="EMR block public access is on",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=BLOCK_PUBLIC_ACCESS,
    rationale=(
        "Block public access stops any EMR cluster in the region from starting "
        "with a security group that admits the internet, except on the ports "
        "explicitly permitted; permitting only SSH keeps cluster web interfaces "
        "and services off the internet."
    ),
    remediation=(
        "EMR console (in each region) → Block public access → Edit → Turn on → "
        "keep port 22 as the only exception (or remove it) → Save."
    ),
    remediation_cli=(
        "aws emr put-block-public-access-configuration "
        "--block-public-access-configuration "
        "'BlockPublicSecurityGroupRules=true,PermittedPublicSecurityGroupRuleRanges"
        "=[{MinRange=22,MaxRange=22}]'"
    ),
    security_hub=("EMR.2",),
)
def block_public_access(r: ResourceView, ctx: Context) -> Result:
    settings = r.field("BlockPublicAccessConfiguration") or {}
    if settings.get("BlockPublicSecurityGroupRules") is not True:
        return failed(
            f"block public access is off in {r.resource_id}: clusters may start "
            "with security groups open to the internet on any port"
        )
    ranges = settings.get("PermittedPublicSecurityGroupRuleRanges") or []
    extra = [
        _port_range(item)
        for item in ranges
        if not (
            item.get("MinRange") == SSH_PORT
            and item.get("MaxRange", SSH_PORT) == SSH_PORT
        )
    ]
    if extra:
        return failed(
            "block public access is on but also permits public access on port "
            f"{', '.join(extra)} (only 22 is allowed)"
        )
    allowed = ", ".join(_port_range(item) for item in ranges) or "none"
    return passed(f"block public access is on; ports permitted publicly: {allowed}")


@control(
    id="emr.cluster.primary-no-public-ip",
    title="EMR primary nodes have no public IP",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=CLUSTER,
    rationale=(
        "A primary node with a public IP address is reachable from the "
        "internet wherever a security group allows it; clusters in private "
        "subnets are reached through a bastion, VPN or Session Manager instead."
    ),
    remediation=(
        "A running cluster cannot move subnet. Clone it (EMR console → "
        "Clusters → choose the cluster → Clone), choose a private subnet "
        "(no auto-assigned public IPv4, a NAT gateway or VPC endpoints for "
        "egress) under Networking, create it, then terminate the old cluster."
    ),
    remediation_cli="aws emr terminate-clusters --cluster-ids <cluster-id>",
    security_hub=("EMR.1",),
)
def primary_no_public_ip(r: ResourceView, ctx: Context) -> Result:
    instances = r.field("PrimaryInstances") or []
    public = [i for i in instances if i.get("PublicIpAddress")]
    if public:
        nodes = ", ".join(
            f"{i.get('Ec2InstanceId', i.get('Id', '?'))} ({i['PublicIpAddress']})"
            for i in public
        )
        return failed(f"primary node has a public IP address: {nodes}")
    if not instances:
        return passed("no primary node is running yet, so none has a public IP")
    return passed(f"{len(instances)} primary node(s), none with a public IP address")


@control(
    id="emr.cluster.security-configuration",
    title="EMR clusters use a security configuration",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    rationale=(
        "Encryption at rest and in transit, Kerberos and Lake Formation "
        "authorization are set on an EMR cluster only through a security "
        "configuration; a cluster launched without one has none of them."
    ),
    remediation=(
        "EMR console → Security configurations → Create (turn on at-rest and "
        "in-transit encryption). A running cluster cannot change it: clone "
        "the cluster, choose the configuration under Security configuration "
        "and permissions, create it, then terminate the old cluster."
    ),
    remediation_cli=(
        "aws emr create-security-configuration --name <name> "
        "--security-configuration file://security-configuration.json"
    ),
)
def cluster_security_configuration(r: ResourceView, ctx: Context) -> Result:
    name = (r.field("Cluster") or {}).get("SecurityConfiguration")
    if name:
        return passed(f"uses security configuration {name}")
    return failed("cluster was launched without a security configuration")


@control(
    id="emr.security-configuration.encryption",
    title="EMR security configurations encrypt at rest and in transit",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=SECURITY_CONFIGURATION,
    rationale=(
        "All data can and should be encrypted. A security configuration "
        "decides whether EMR encrypts data in S3 and on cluster disks, and "
        "data moving between nodes and applications."
    ),
    remediation=(
        "Security configurations cannot be edited. EMR console → Security "
        "configurations → Create: turn on At-rest encryption (S3 and local "
        "disk) and In-transit encryption (TLS certificates) → Create; then "
        "launch clusters with the new configuration."
    ),
    remediation_cli=(
        "aws emr create-security-configuration --name <name> "
        "--security-configuration file://encrypted-configuration.json"
    ),
    security_hub=("EMR.3", "EMR.4"),
)
def security_configuration_encryption(r: ResourceView, ctx: Context) -> Result:
    document = r.field("SecurityConfiguration") or {}
    encryption = document.get("EncryptionConfiguration") or {}
    missing = [
        label
        for label, key in (
            ("at rest", "EnableAtRestEncryption"),
            ("in transit", "EnableInTransitEncryption"),
        )
        if encryption.get(key) is not True
    ]
    if missing:
        return failed(f"encryption {' and '.join(missing)} is off")
    return passed("encryption at rest and in transit are both on")
