"""EC2 controls: the guest OS's exposure and the firewalls in front of it.

Instances (IMDSv2, public addresses, instance profiles), security groups (the
instance firewall), the default VPC and its default group, and network ACLs
(the subnet firewall). EBS controls are in ebs.py; the other VPC controls (flow
logs, subnets, placement, routing, gateways, VPN) in vpc.py. Together they
mirror the "ec2" and "vpc" collectors.
"""

from collections.abc import Iterable

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

INSTANCE = "AWS::EC2::Instance"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
NETWORK_ACL = "AWS::EC2::NetworkAcl"
VPC = "AWS::EC2::VPC"

ANY_IPV4 = "0.0.0.0/0"
ANY_IPV6 = "::/0"
ADMIN_PORTS = (22, 3389)
# Security Hub EC2.19's list of high-risk ports.
HIGH_RISK_PORTS = (
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389,
    4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300,
)  # fmt: skip
# Protocols whose rules carry a port range (tcp, udp) or allow every port (-1).
# ICMP's FromPort/ToPort are a type and code, not ports.
SG_PORT_PROTOCOLS = {"tcp", "udp", "6", "17", "-1"}
NACL_TCP_PROTOCOLS = {"6", "tcp", "-1"}
# How many offending items a reason names before summarising the rest.
MAX_LISTED = 3


def listing(items: list[str]) -> str:
    """Up to MAX_LISTED items joined for a reason, with a count of the rest."""
    shown = "; ".join(items[:MAX_LISTED])
    extra = len(items) - MAX_LISTED
    return f"{shown}; and {extra} more" if extra > 0 else shown


def _ports_text(ports: Iterable[int]) -> str:
    return ", ".join(str(p) for p in ports)


def _state(r: ResourceView) -> str:
    return (r.config.get("State") or {}).get("Name", "")


# -- guest OS (instances)


@control(
    id="ec2.instance.imdsv2-required",
    title="Instances require IMDSv2",
    section="service/compute/ec2/guest-os",
    severity=Severity.HIGH,
    resource_type=INSTANCE,
    rationale=(
        "The guest OS is the customer's to secure. IMDSv1 answers any request "
        "from inside the instance, so a server-side request forgery in an "
        "application can read the instance role's credentials; IMDSv2's session "
        "tokens close that path."
    ),
    remediation=(
        "EC2 console → Instances → select the instance → Actions → Instance "
        "settings → Modify instance metadata options → set IMDSv2 to Required → "
        "Save. Check first that the software on the instance uses an SDK or "
        "agent version that supports IMDSv2."
    ),
    remediation_cli=(
        "aws ec2 modify-instance-metadata-options --instance-id <instance-id> "
        "--http-tokens required --http-endpoint enabled"
    ),
    cis=("5.6", "5.7"),
    security_hub=("EC2.8",),
)
def imdsv2_required(r: ResourceView, ctx: Context) -> Result:
    if _state(r) == "terminated":
        return not_applicable("instance is terminated")
    options = r.config.get("MetadataOptions")
    if not options:
        raise NotEvaluable("describe_instances returned no MetadataOptions")
    if options.get("HttpEndpoint") == "disabled":
        return passed("instance metadata service is disabled (HttpEndpoint=disabled)")
    tokens = options.get("HttpTokens")
    if tokens == "required":
        return passed("IMDSv2 is required (HttpTokens=required)")
    return failed(
        f"HttpTokens is {tokens or 'unset'}: the metadata service still answers "
        "IMDSv1 requests without a session token"
    )


def _public_ipv4(config: dict) -> list[str]:
    """Public IPv4 addresses of an instance, each with the interface holding it."""
    found: dict[str, str] = {}
    for eni in config.get("NetworkInterfaces") or []:
        eni_id = eni.get("NetworkInterfaceId", "interface")
        addresses = [eni.get("Association")] + [
            p.get("Association") for p in eni.get("PrivateIpAddresses") or []
        ]
        for association in addresses:
            ip = (association or {}).get("PublicIp")
            if ip:
                found.setdefault(ip, eni_id)
    public_ip = config.get("PublicIpAddress")
    if public_ip:
        found.setdefault(public_ip, "primary interface")
    return [f"{ip} ({where})" for ip, where in sorted(found.items())]


@control(
    id="ec2.instance.no-public-ip",
    title="Instances have no public IPv4 address",
    section="service/compute/ec2/guest-os",
    severity=Severity.HIGH,
    resource_type=INSTANCE,
    rationale=(
        "An instance with a public IPv4 address is one security-group mistake "
        "away from the internet. Keeping instances in private subnets behind "
        "load balancers or NAT leaves the guest OS reachable only through paths "
        "the customer designed."
    ),
    remediation=(
        "Move the workload behind a load balancer or NAT gateway. EC2 console → "
        "Network & Security → Elastic IPs → select the address → Actions → "
        "Disassociate; for an auto-assigned address, EC2 console → Network "
        "interfaces → select the instance's interface → Actions → Change "
        "auto-assign public IP → disable."
    ),
    remediation_cli=(
        "aws ec2 modify-network-interface-attribute --network-interface-id "
        "<eni-id> --no-associate-public-ip-address"
    ),
    security_hub=("EC2.9",),
)
def instance_no_public_ip(r: ResourceView, ctx: Context) -> Result:
    if _state(r) == "terminated":
        return not_applicable("instance is terminated")
    addresses = _public_ipv4(r.config)
    if addresses:
        noun = "address" if len(addresses) == 1 else "addresses"
        return failed(f"has public IPv4 {noun} {listing(addresses)}")
    return passed("no public IPv4 address on any network interface")


@control(
    id="ec2.instance.profile-attached",
    title="Instances use an IAM instance profile (no keys on the box)",
    section="service/compute/ec2/guest-os",
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    rationale=(
        "IAM roles simplify key management: an instance profile hands the guest "
        "OS short-lived, rotated credentials, so no long-term access keys are "
        "stored on the instance where they can be copied."
    ),
    remediation=(
        "EC2 console → Instances → select the instance → Actions → Security → "
        "Modify IAM role → choose a role with least-privilege permissions → "
        "Update IAM role; then remove any access keys stored on the instance."
    ),
    remediation_cli=(
        "aws ec2 associate-iam-instance-profile --instance-id <instance-id> "
        "--iam-instance-profile Name=<instance-profile-name>"
    ),
    cis=("1.18", "1.18"),
)
def instance_profile_attached(r: ResourceView, ctx: Context) -> Result:
    state = _state(r)
    if state != "running":
        return not_applicable(
            f"instance is {state or 'in an unknown state'}; only running "
            "instances are evaluated"
        )
    arn = (r.config.get("IamInstanceProfile") or {}).get("Arn")
    if arn:
        return passed(f"instance profile {arn} is attached")
    return failed(
        "no IAM instance profile: software on the instance can only call AWS "
        "with access keys stored on it"
    )


# -- security groups


def _sg_port_range(rule: dict) -> tuple[int, int] | None:
    """The (from, to) ports an ingress rule opens, or None when it has no ports."""
    protocol = str(rule.get("IpProtocol", ""))
    if protocol not in SG_PORT_PROTOCOLS:
        return None
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if protocol == "-1" or low is None or low < 0:
        return (0, 65535)
    return (low, high if high is not None and high >= 0 else low)


def _sg_rule_text(rule: dict, source: str) -> str:
    protocol = str(rule.get("IpProtocol", ""))
    if protocol == "-1":
        what = "all traffic"
    else:
        low, high = _sg_port_range(rule) or (0, 65535)
        what = f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"
    return f"{rule.get('SecurityGroupRuleId', 'rule')} allows {source} on {what}"


def _open_ingress(
    r: ResourceView, sources: dict[str, str], ports: Iterable[int]
) -> list[str]:
    """Ingress rules from any of ``sources`` (rule field → CIDR) reaching ``ports``."""
    rules = r.field("SecurityGroupRules")
    if rules is None:
        raise NotEvaluable("security group rules missing from the collected group")
    wanted = tuple(ports)
    offending = []
    for rule in rules:
        if rule.get("IsEgress"):
            continue
        source = next((c for k, c in sources.items() if rule.get(k) == c), None)
        span = _sg_port_range(rule)
        if source is None or span is None:
            continue
        hits = [p for p in wanted if span[0] <= p <= span[1]]
        if hits:
            offending.append(
                f"{_sg_rule_text(rule, source)} (ports {_ports_text(hits)})"
            )
    return offending


_SG_REMEDIATION = (
    "EC2 console → Security Groups → select the group → Inbound rules → Edit "
    "inbound rules → delete the rule, or narrow its source to known address "
    "ranges; reach hosts through Systems Manager Session Manager or a bastion "
    "instead → Save rules."
)
_SG_REMEDIATION_CLI = (
    "aws ec2 revoke-security-group-ingress --group-id <sg-id> "
    "--security-group-rule-ids <sgr-id>"
)


def _admin_ports_check(r: ResourceView, field: str, cidr: str) -> Result:
    offending = _open_ingress(r, {field: cidr}, ADMIN_PORTS)
    if offending:
        return failed(listing(offending))
    return passed(f"no ingress rule opens SSH (22) or RDP (3389) to {cidr}")


@control(
    id="sg.no-public-admin-ports-ipv4",
    title="No security group allows 0.0.0.0/0 to SSH/RDP",
    section="network/vpc/security-groups",
    severity=Severity.CRITICAL,
    resource_type=SECURITY_GROUP,
    rationale=(
        "Security groups are the instance firewall. Remote administration ports "
        "open to every IPv4 address invite brute-force and exploit attempts "
        "against the guest OS from the whole internet."
    ),
    remediation=_SG_REMEDIATION,
    remediation_cli=_SG_REMEDIATION_CLI,
    cis=("5.2", "5.3"),
    security_hub=("EC2.53*",),
)
def sg_no_public_admin_ports_ipv4(r: ResourceView, ctx: Context) -> Result:
    return _admin_ports_check(r, "CidrIpv4", ANY_IPV4)


@control(
    id="sg.no-public-admin-ports-ipv6",
    title="No security group allows ::/0 to SSH/RDP",
    section="network/vpc/security-groups",
    severity=Severity.CRITICAL,
    resource_type=SECURITY_GROUP,
    rationale=(
        "Security groups are the instance firewall. Remote administration ports "
        "open to every IPv6 address are as exposed as their IPv4 equivalent and "
        "are easy to miss when only IPv4 rules are reviewed."
    ),
    remediation=_SG_REMEDIATION,
    remediation_cli=_SG_REMEDIATION_CLI,
    cis=("5.3", "5.4"),
    security_hub=("EC2.54*",),
)
def sg_no_public_admin_ports_ipv6(r: ResourceView, ctx: Context) -> Result:
    return _admin_ports_check(r, "CidrIpv6", ANY_IPV6)


@control(
    id="sg.no-public-high-risk-ports",
    title="No unrestricted ingress to high-risk ports",
    section="network/vpc/security-groups",
    severity=Severity.HIGH,
    resource_type=SECURITY_GROUP,
    rationale=(
        "Security groups filter ingress traffic. File transfer, mail, database, "
        "remote-desktop and admin-console ports open to the whole internet "
        "expose services that are rarely hardened for direct public access."
    ),
    remediation=_SG_REMEDIATION,
    remediation_cli=_SG_REMEDIATION_CLI,
    cis=("", "5.1.2"),
    security_hub=("EC2.19",),
)
def sg_no_public_high_risk_ports(r: ResourceView, ctx: Context) -> Result:
    offending = _open_ingress(
        r, {"CidrIpv4": ANY_IPV4, "CidrIpv6": ANY_IPV6}, HIGH_RISK_PORTS
    )
    if offending:
        return failed(listing(offending))
    return passed("no ingress rule opens a high-risk port to 0.0.0.0/0 or ::/0")


def _permission_text(permission: dict, direction: str) -> str:
    protocol = str(permission.get("IpProtocol", ""))
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if protocol == "-1":
        what = "all traffic"
    elif protocol not in SG_PORT_PROTOCOLS or low is None:
        what = protocol  # ICMP's "ports" are message types: not worth showing
    else:
        what = f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"
    peers = (
        [x.get("CidrIp", "") for x in permission.get("IpRanges") or []]
        + [x.get("CidrIpv6", "") for x in permission.get("Ipv6Ranges") or []]
        + [x.get("GroupId", "") for x in permission.get("UserIdGroupPairs") or []]
        + [x.get("PrefixListId", "") for x in permission.get("PrefixListIds") or []]
    )
    return f"{direction} {what} {'from' if direction == 'inbound' else 'to'} " + (
        ", ".join(p for p in peers if p) or "?"
    )


@control(
    id="sg.default-restricts-all",
    title="Default security group of every VPC allows no traffic",
    section="network/vpc/default-vpc",
    severity=Severity.HIGH,
    resource_type=SECURITY_GROUP,
    rationale=(
        "Every VPC comes with a default security group that resources join when "
        "no group is named. If it allows nothing, a forgotten group choice "
        "fails closed instead of silently opening traffic."
    ),
    remediation=(
        "EC2 console → Security Groups → select the VPC's group named default → "
        "Inbound rules → Edit inbound rules → delete every rule → Save; repeat "
        "on Outbound rules. Give resources purpose-built groups instead."
    ),
    remediation_cli=(
        "aws ec2 revoke-security-group-ingress --group-id <default-sg-id> "
        "--security-group-rule-ids <sgr-id> && aws ec2 "
        "revoke-security-group-egress --group-id <default-sg-id> "
        "--security-group-rule-ids <sgr-id>"
    ),
    cis=("5.4", "5.5"),
    security_hub=("EC2.2",),
)
def sg_default_restricts_all(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("GroupName") != "default":
        return not_applicable("not a VPC's default security group")
    rules = [
        _permission_text(p, "inbound") for p in r.config.get("IpPermissions") or []
    ] + [
        _permission_text(p, "outbound")
        for p in r.config.get("IpPermissionsEgress") or []
    ]
    if rules:
        return failed(f"default security group allows {listing(rules)}")
    return passed("default security group has no inbound or outbound rules")


@control(
    id="vpc.default-vpc-unused",
    title="Default VPCs hold no workloads",
    section="network/vpc/default-vpc",
    severity=Severity.LOW,
    resource_type=VPC,
    rationale=(
        "The default VPC is created with public subnets, an internet gateway "
        "and permissive defaults. Workloads belong in VPCs designed for them, "
        "so the default VPC should hold nothing (and can then be deleted)."
    ),
    remediation=(
        "Move the instances, load balancers and other resources with network "
        "interfaces into a purpose-built VPC; then VPC console → Your VPCs → "
        "select the default VPC → Actions → Delete VPC (the console also removes "
        "its subnets and internet gateway; with the CLI, delete those first)."
    ),
    remediation_cli="aws ec2 delete-vpc --vpc-id <default-vpc-id>",
)
def default_vpc_unused(r: ResourceView, ctx: Context) -> Result:
    if not r.config.get("IsDefault"):
        return not_applicable("not a default VPC")
    has_interfaces = r.field("HasNetworkInterfaces")
    if has_interfaces is None:
        raise NotEvaluable("network interface presence missing from the collected VPC")
    if has_interfaces:
        return failed(
            "default VPC holds network interfaces (instances or other workloads)"
        )
    return passed("default VPC has no network interfaces")


# -- network ACLs


def _nacl_covers_tcp_port(entry: dict, port: int) -> bool:
    protocol = str(entry.get("Protocol", ""))
    if protocol not in NACL_TCP_PROTOCOLS:
        return False
    span = entry.get("PortRange")
    if protocol == "-1" or not span:
        return True
    return span.get("From", 0) <= port <= span.get("To", 65535)


def _nacl_admin_ports_check(r: ResourceView, field: str, cidr: str) -> Result:
    # Entries are evaluated in rule-number order and the first match decides,
    # so an allow that a lower-numbered deny for the same source shadows does
    # not open the port.
    inbound = sorted(
        (
            e
            for e in r.config.get("Entries") or []
            if not e.get("Egress") and e.get(field) == cidr
        ),
        key=lambda e: e.get("RuleNumber", 0),
    )
    opened = []
    for port in ADMIN_PORTS:
        decisive = next((e for e in inbound if _nacl_covers_tcp_port(e, port)), None)
        if decisive is not None and decisive.get("RuleAction") == "allow":
            opened.append(
                f"rule {decisive.get('RuleNumber')} allows {cidr} to port {port}"
            )
    if opened:
        return failed("; ".join(opened))
    return passed(f"no inbound entry lets {cidr} reach port 22 or 3389")


_NACL_REMEDIATION = (
    "VPC console → Network ACLs → select the ACL → Inbound rules → Edit inbound "
    "rules → remove the allow entry for the whole internet on 22/3389, or add a "
    "lower-numbered deny entry for those ports → Save changes."
)
_NACL_REMEDIATION_CLI = (
    "aws ec2 delete-network-acl-entry --network-acl-id <acl-id> --ingress "
    "--rule-number <rule-number>"
)


@control(
    id="nacl.no-public-admin-ports-ipv4",
    title="No network ACL allows 0.0.0.0/0 to SSH/RDP",
    section="network/vpc/network-acls",
    severity=Severity.HIGH,
    resource_type=NETWORK_ACL,
    rationale=(
        "Network ACLs are stateless, ordered allow and deny rules applied to all "
        "traffic of a subnet. Denying remote administration from the whole IPv4 "
        "internet there backs up the security groups of every instance inside."
    ),
    remediation=_NACL_REMEDIATION,
    remediation_cli=_NACL_REMEDIATION_CLI,
    cis=("5.1", "5.2"),
    security_hub=("EC2.21",),
)
def nacl_no_public_admin_ports_ipv4(r: ResourceView, ctx: Context) -> Result:
    return _nacl_admin_ports_check(r, "CidrBlock", ANY_IPV4)


@control(
    id="nacl.no-public-admin-ports-ipv6",
    title="No network ACL allows ::/0 to SSH/RDP",
    section="network/vpc/network-acls",
    severity=Severity.HIGH,
    resource_type=NETWORK_ACL,
    rationale=(
        "Network ACLs are stateless, ordered rules applied to all traffic of a "
        "subnet. The IPv6 internet needs the same block on remote "
        "administration as the IPv4 one, or dual-stack subnets stay exposed."
    ),
    remediation=_NACL_REMEDIATION,
    remediation_cli=_NACL_REMEDIATION_CLI,
)
def nacl_no_public_admin_ports_ipv6(r: ResourceView, ctx: Context) -> Result:
    return _nacl_admin_ports_check(r, "Ipv6CidrBlock", ANY_IPV6)
