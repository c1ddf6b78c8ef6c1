"""The whitepaper section tree, as plain data.

The tree follows the AWS whitepaper *Overview of Security Processes* as the
project's notes file summarises it (``seeds/000_92687c869ef4417c.txt`` beside
DESIGN.md), with the slugs of section 1 of ``controls-reference.md``. Slugs are
stable: findings and rollups store them, so renaming one is a breaking change.

Every section says what AWS is responsible for (``aws_side``) and what the
customer must configure (``customer_side``). ``kind`` decides how a page shows
it:

- ``informational``: AWS's responsibility or a design choice; nothing to score.
- ``checkable``: the customer's responsibility; controls score it.
- ``split``: an AWS half to read and a customer half that controls score.
- ``index``: a grouping; its own text points at the sections below or
  elsewhere that hold the rows.

Grouping sections of kind ``index`` are added where a slug's parent is not a
row of the reference (``network``, ``service/compute/ec2`` ...), so every
section except the top-level ones has a parent here. This module is long
because it is data; the functions at the bottom are the whole API.
"""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["informational", "checkable", "split", "index"]
KINDS: tuple[Kind, ...] = ("informational", "checkable", "split", "index")


@dataclass(frozen=True, slots=True)
class Section:
    slug: str
    title: str
    kind: Kind
    # What the notes say matters, in one or two sentences.
    summary: str
    # What AWS is responsible for; the whole text for informational sections.
    aws_side: str = ""
    # What the customer must configure; empty for informational sections.
    customer_side: str = ""
    # The relevant lines of the whitepaper notes, lightly cleaned (typos fixed,
    # "> " bullets dropped). Empty where the notes have no such heading.
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.title

    @property
    def depth(self) -> int:
        return self.slug.count("/")

    @property
    def parent_slug(self) -> str:
        return self.slug.rpartition("/")[0]


SECTIONS: list[Section] = [
    # -- Shared responsibility --------------------------------------------------
    Section(
        slug="shared-responsibility",
        title="Shared Security Model",
        kind="informational",
        summary=(
            "AWS secures the underlying infrastructure; the customer secures what "
            "it puts on or connects to the cloud. Always configure individual "
            "user accounts, SSL/TLS for data in transit and user-activity logging."
        ),
        aws_side=(
            "AWS secures the infrastructure every service runs on: facilities, "
            "hardware, the network and the virtualisation layer. The customer "
            "secures everything it puts on or connects to the cloud: EC2, VPC "
            "and S3 configuration, the firewall rules, credentials (individual "
            "user accounts and MFA), TLS to its resources, and logging of "
            "account events (CloudTrail) and application events (CloudWatch). "
            "Those customer duties are scored in the account-security, network "
            "and service sections of this tree."
        ),
        notes=(
            "AWS responsible for securing underlying infra",
            "Customer responsible for anything they put on or connect to cloud",
            "The shared security model reduces the operational burden, and "
            "sometimes improves default security",
            "Security features you should always configure:",
            "Individual user accounts and credentials",
            "SSL/TLS for data transmissions",
            "User activity logging",
            "Customer Responsibility:",
            "Configure security config on all EC2, VPC, S3",
            "AWS Firewall",
            "Protect credentials with individual user accounts + MFA",
            "Use SSL/TLS to communicate with resources",
            "Log Account events using CloudTrail",
            "Log application events using CloudWatch",
        ),
    ),
    Section(
        slug="shared-responsibility/managed-services",
        title="AWS-managed services",
        kind="informational",
        summary=(
            "For managed services (DynamoDB, RDS, Redshift, EMR, WorkSpaces, ...) "
            "AWS owns OS and platform security configuration; the customer-side "
            "settings of those services are the service/* controls."
        ),
        aws_side=(
            "For managed services such as DynamoDB, RDS, Redshift, EMR and "
            "WorkSpaces, AWS patches and hardens the operating system, the "
            "database or platform software and the hosts they run on. What "
            "remains the customer's (encryption, public access, backups, "
            "logging) is scored in each service's own section."
        ),
        notes=(
            "AWS is responsible for the security configuration of its products "
            "that are managed services:",
            "DynamoDB",
            "RDS",
            "Redshift",
            "Amazon Elastic MapReduce",
            "Amazon WorkSpaces",
            "and many more",
        ),
    ),
    # -- Business continuity ----------------------------------------------------
    Section(
        slug="business-continuity",
        title="Business continuity management",
        kind="index",
        summary=(
            "Availability of AWS's own data centres, the customer's placement "
            "across Availability Zones, backups and incident response."
        ),
        notes=("Business Continuity Management",),
    ),
    Section(
        slug="business-continuity/availability",
        title="Availability",
        kind="index",
        summary=(
            "How AWS builds its data centres (AWS's side) and how the customer "
            "places workloads across Availability Zones (the customer's side)."
        ),
        notes=("Availability:",),
    ),
    Section(
        slug="business-continuity/availability/aws-datacentres",
        title="Availability: AWS data centres",
        kind="informational",
        summary=(
            'Data centres are built in clusters in each region, none is "cold", '
            "and core applications run N+1 so load shifts to surviving sites."
        ),
        aws_side=(
            "AWS builds data centres in clusters in each region. Every data "
            "centre is online and serving customers (none is a cold standby), "
            "and core applications run in an N+1 configuration, so when a site "
            "fails its load is balanced to the remaining sites."
        ),
        notes=(
            "Built in clusters in regions",
            "No data center is cold",
            "Core apps are deployed in N+1 configuration",
        ),
    ),
    Section(
        slug="business-continuity/availability/multi-az",
        title="Availability: customer placement across AZs",
        kind="checkable",
        summary=(
            "AWS lets you place instances and data in several regions and AZs; "
            "spreading an application across AZs makes it resilient to most "
            "failure modes."
        ),
        aws_side=(
            "AWS offers several regions, each with isolated Availability Zones, "
            "so one zone's failure does not take down the others."
        ),
        customer_side=(
            "Spread each workload across at least two Availability Zones: a VPC "
            "that holds instances needs subnets in two or more zones. The "
            "service-level multi-AZ settings are scored in their own sections "
            "(asg.multi-az, elb.multi-az, rds.multi-az, "
            "elasticache.multi-az-failover)."
        ),
        notes=(
            "AWS provides you flexibility to place instances and store data "
            "within multiple geographic regions and AZs",
            "Distributing applications across multiple availability zones makes "
            "them more resilient in most failure modes",
        ),
    ),
    Section(
        slug="business-continuity/backup",
        title="Backups and snapshots (dashboard grouping)",
        kind="checkable",
        summary=(
            "Not a heading in the notes; groups the notes' backup lines (EBS "
            "snapshots shared/spread for durability, RDS automated backups and "
            "snapshots, Redshift snapshots to S3)."
        ),
        aws_side=(
            "AWS stores snapshots and backups durably, runs RDS automated "
            "backups (on by default) and backs Redshift clusters up to S3."
        ),
        customer_side=(
            "Keep at least one AWS Backup plan that selects resources, put every "
            "in-use EBS volume, RDS database and DynamoDB table in a plan with a "
            "recent backup, keep recovery points encrypted, and lock the vaults "
            "that hold critical data."
        ),
        notes=(
            "EBS: For the most fault-tolerant system, spread backups up to 3 for "
            "long-term durability",
            "EBS: Use DB tools to back up complex transactional databases",
            "EBS: Snapshots can be shared to other accounts",
            "RDS: Backups and snapshots can be used.",
            "RDS: Automated backups on by default - back up all logs and "
            "database for the retention period",
            "RDS: DB snapshots are user initiated and are a full backup of the "
            "RDS until you delete them",
            "Redshift: data is backed up to S3 periodically",
            "Redshift: data snapshots can also be taken at any time",
        ),
    ),
    Section(
        slug="business-continuity/incident-response",
        title="Incident response",
        kind="split",
        summary=(
            "AWS runs 24x7x365 incident response and publishes the Service "
            "Health Dashboard and security centre (AWS side, informational); the "
            "customer must be reachable and must route findings (checkable)."
        ),
        aws_side=(
            "AWS runs incident response around the clock, every day of the "
            "year, reports broad-impact events on the Service Health Dashboard "
            "and publishes security and compliance information in the AWS "
            "security centre."
        ),
        customer_side=(
            "Register a security alternate contact on every account so AWS can "
            "reach the right people, and route GuardDuty and Security Hub "
            "findings to a responder with an EventBridge rule that has a target."
        ),
        notes=(
            "AWS has 24x7x365 coverage",
            "Use service health dashboard for broad impact",
            "AWS Security centre for security and compliance details about AWS",
        ),
    ),
    # -- Network security -------------------------------------------------------
    Section(
        slug="network",
        title="Network security",
        kind="index",
        summary=(
            "AWS's network architecture, access points, transmission protection "
            "and monitoring, and the customer's VPC configuration."
        ),
        notes=("Network Security:",),
    ),
    Section(
        slug="network/secure-architecture",
        title="Secure network architecture",
        kind="informational",
        summary=(
            "AWS boundary devices (firewalls etc.) use rule sets, ACLs and "
            "configurations to control information flow."
        ),
        aws_side=(
            "Boundary devices on the AWS network, such as firewalls, enforce "
            "rule sets, access control lists and configurations that control "
            "the flow of information into and out of the network."
        ),
        notes=(
            "Boundary devices (firewall, network etc) employ rule sets, access "
            "control lists (ACL) and configurations to control the flow of "
            "information.",
        ),
    ),
    Section(
        slug="network/secure-access-points",
        title="Secure access points",
        kind="informational",
        summary="AWS exposes its API endpoints over HTTPS only.",
        aws_side=(
            "AWS exposes a limited number of access points to its cloud: the "
            "API endpoints, which accept HTTPS only."
        ),
        notes=("API endpoints (HTTPS access)",),
    ),
    Section(
        slug="network/transmission-protection",
        title="Transmission protection",
        kind="index",
        summary=(
            "Connect over HTTPS/SSL, use VPC, use a VPN between data centre and AWS."
        ),
        aws_side=(
            "AWS offers TLS endpoints for its APIs and services, the isolation "
            "of a VPC, and managed Site-to-Site VPN connections."
        ),
        customer_side=(
            "Require TLS wherever data moves. The rows live with each service: "
            "s3.bucket.tls-only, elb.alb.http-redirects-to-https, "
            "elb.clb.tls-listeners, elb.listener.tls-policy, "
            "cloudfront.viewer-https-only, cloudfront.custom-origin-tls, "
            "rds.tls-enforced, redshift.require-ssl, "
            "elasticache.transit-encryption, cloudsearch.domain.https-enforced, "
            "opensearch.domain.https-tls12, sns.subscription.https-only, "
            "vpn.tunnels-up and vpn.tunnel-logging."
        ),
        notes=(
            "Connect to AWS via HTTPS or SSL",
            "VPC offers extra security",
            "Use a VPN between your data center and AWS",
        ),
    ),
    Section(
        slug="network/fault-tolerant-design",
        title="Fault-tolerant design",
        kind="informational",
        summary=(
            "Clustered data centres in many regions, all serving traffic, N+1 "
            "core apps; the customer half is "
            "business-continuity/availability/multi-az."
        ),
        aws_side=(
            "AWS data centres are built in clusters in regions around the world "
            "and all of them serve customers. Core applications run N+1, so "
            "capacity can be shifted to the remaining sites when one fails. "
            "Placing workloads across zones is the customer's half, scored in "
            "business-continuity/availability/multi-az."
        ),
        notes=(
            "AWS data centers are built in clusters in various global regions.",
            "All data centers are online and serving customers",
            "Core apps are deployed in N+1 configuration - so capacity can be "
            "load balanced to remaining sites",
            "AWS allows you to place instances and store data in multiple "
            "regions and AZs - so that your workloads are fault tolerant.",
        ),
    ),
    Section(
        slug="network/monitoring-and-protection",
        title="Network monitoring and protection",
        kind="split",
        summary=(
            "AWS tools watch ingress/egress points for unusual or unauthorised "
            "activity (AWS side); alarms should notify operations when "
            "thresholds are crossed (customer side, checkable)."
        ),
        aws_side=(
            "AWS monitoring tools watch the ingress and egress points of its "
            "network for unusual or unauthorised activity and conditions."
        ),
        customer_side=(
            "Enable GuardDuty in every enabled region and keep its high-severity "
            "findings triaged, and give every CloudWatch alarm an action so that "
            "crossing a threshold notifies someone."
        ),
        notes=(
            "AWS monitoring tools detect unusual or unauthorized activities and "
            "conditions at ingress and egress communication points.",
            "Alarms can be configured to automatically notify operations and "
            "management when key thresholds are crossed.",
        ),
    ),
    Section(
        slug="network/vpc",
        title="Amazon VPC",
        kind="checkable",
        summary=(
            "An isolated portion of the AWS cloud with private addressing; NAT "
            "gateways for outbound only, internet gateways for public subnets, "
            "VPC peering within a region or across accounts."
        ),
        aws_side=(
            "AWS isolates each VPC's traffic and address space; gateways, "
            "endpoints and peering connect only what the customer configures."
        ),
        customer_side=(
            "Turn on flow logs in every VPC and reach S3 and the EC2 API through "
            "VPC endpoints rather than over the internet. Subnets, security "
            "groups, network ACLs, gateways and the default VPC are scored in "
            "the sections below."
        ),
        notes=(
            "VPC enables you to create an isolated portion of the AWS cloud and "
            "launch EC2 instances that have private addresses in a range of "
            "your choice.",
            "NAT gateway - outbound connections (no inbound)",
            "Internet gateway - inbound connections (outbound and inbound - used "
            "for public subnets)",
            "Connect two VPCs using a private IP - allowing them to communicate",
            "VPC peering can be created between VPCs or with a VPC in another AWS "
            "account in a single region",
            "You must create VPC security groups for VPC, EC2 security groups "
            "will not work inside VPC. VPC had additional capabilities",
        ),
    ),
    Section(
        slug="network/vpc/subnets-route-tables",
        title="VPC: subnets and route tables",
        kind="split",
        summary=(
            "MAC and ARP spoofing are blocked by AWS (informational); every "
            "subnet's route table decides where traffic goes (customer, "
            "checkable)."
        ),
        aws_side=(
            "AWS blocks MAC and ARP spoofing inside a VPC, so an instance cannot "
            "impersonate another on the subnet."
        ),
        customer_side=(
            "Do not let subnets hand out public IPv4 addresses automatically, "
            "and keep VPC peering routes to the addresses that need them."
        ),
        notes=(
            "Create one or more subnets within a VPC",
            "MAC spoofing and ARP spoofing are both blocked",
            "Each subnet has an associated routing table, all traffic leaving "
            "subnet is processed by routing table to determine destination",
        ),
    ),
    Section(
        slug="network/vpc/security-groups",
        title="VPC: security groups (firewall)",
        kind="checkable",
        summary="Security groups filter ingress and egress traffic.",
        aws_side=(
            "AWS enforces security group rules in the virtualisation layer, "
            "outside the instance's control."
        ),
        customer_side=(
            "Allow no ingress from 0.0.0.0/0 or ::/0 to SSH, RDP or other "
            "high-risk ports."
        ),
        notes=("Firewall (Security Groups)", "Filtering ingress and egress traffic"),
    ),
    Section(
        slug="network/vpc/network-acls",
        title="VPC: network ACLs",
        kind="checkable",
        summary=(
            "Stateless, ordered allow/deny rules applied to all subnet traffic, "
            "controlled through the VPC."
        ),
        aws_side=(
            "AWS applies network ACL rules to all traffic entering or leaving a subnet."
        ),
        customer_side=(
            "Allow no ingress from 0.0.0.0/0 or ::/0 to SSH or RDP in any network ACL."
        ),
        notes=(
            "Configure Network ACLs to add further security",
            "Stateless traffic filters that apply to all traffic",
            "These ACLs can contain ordered rules to allow or deny traffic",
            "ACLs are controlled via the VPC",
        ),
    ),
    Section(
        slug="network/vpc/virtual-private-gateway",
        title="VPC: virtual private gateway",
        kind="checkable",
        summary="Private connectivity (VPN) between the VPC and another network.",
        aws_side=(
            "AWS runs the VPN endpoints of a virtual private gateway, with two "
            "tunnels per connection for redundancy."
        ),
        customer_side=(
            "Keep both tunnels of every Site-to-Site VPN up and log tunnel activity."
        ),
        notes=("Enables private connectivity between VPC and another network.",),
    ),
    Section(
        slug="network/vpc/internet-gateway",
        title="VPC: internet gateway",
        kind="checkable",
        summary=(
            "Attached to a VPC for direct connectivity to S3, other services and "
            "the internet."
        ),
        aws_side="AWS runs the internet gateway as a redundant, managed component.",
        customer_side=(
            "Use VPC Block Public Access to block internet-gateway traffic "
            "except where a VPC is meant to be public."
        ),
        notes=(
            "Attached to VPC to enable direct connectivity to S3, other AWS "
            "services and the internet",
            "Each instance desiring this access must have an elastic IP with a "
            "route through a NAT instance",
        ),
    ),
    Section(
        slug="network/vpc/dedicated-instances",
        title="VPC: dedicated instances",
        kind="informational",
        summary=(
            "Physically isolated instances; no universal pass condition, so the "
            "dashboard only inventories tenancy."
        ),
        aws_side=(
            "AWS runs dedicated instances on hardware that no other customer "
            "shares. Whether to pay for that isolation is a design choice with "
            "no universal right answer, so tenancy is inventoried, not scored."
        ),
        notes=("Physically isolated instances",),
    ),
    Section(
        slug="network/vpc/elastic-network-interfaces",
        title="VPC: elastic network interfaces",
        kind="informational",
        summary=(
            "ENIs enable management networks and security appliances. Security "
            'Hub EC2.17 ("instances should not use multiple ENIs") argues the '
            "other way, so no row is scored."
        ),
        aws_side=(
            "Extra network interfaces let an instance sit on a management "
            "network or act as a security appliance. Security Hub EC2.17 "
            "recommends against multiple ENIs per instance, so this is a design "
            "choice and nothing is scored."
        ),
        notes=(
            "Create an elastic network interface for your EC2 - useful when you "
            "want a management network and security appliance in the VPC.",
        ),
    ),
    Section(
        slug="network/vpc/default-vpc",
        title="EC2-VPC defaults",
        kind="checkable",
        summary=(
            "A default VPC is created with a subnet per AZ, an IGW, a main route "
            "table to the IGW, a default security group, a default NACL and "
            "default DHCP options."
        ),
        aws_side=(
            "AWS creates a default VPC in every region, already connected to the "
            "internet: a public subnet per zone, an internet gateway and a "
            "route to it."
        ),
        customer_side=(
            "Make every VPC's default security group allow no traffic, and keep "
            "workloads out of the default VPCs."
        ),
        notes=(
            "If you launch instances where you didn't have one before a default "
            "VPC will be created.",
            "Create a default subnet in each AZ",
            "Create an IGW and connect it to VPC",
            "Create a main route table and send all traffic destined for "
            "internet to IGW",
            "Create default security group and associate with VPC",
            "Create a default network access control list (ACL)",
            "Associate the default DHCP options set for AWS account with VPC",
        ),
    ),
    # -- Account security -------------------------------------------------------
    Section(
        slug="account-security",
        title="AWS account security features",
        kind="index",
        summary=(
            "Credentials, individual user accounts, certificates, security logs, "
            "Trusted Advisor and AWS Config: the features the notes say every "
            "customer should configure."
        ),
    ),
    Section(
        slug="account-security/credentials",
        title="AWS credentials (passwords, MFA, access keys)",
        kind="checkable",
        summary="Protect credentials with individual user accounts and MFA.",
        aws_side=(
            "AWS provides the credential types (passwords, MFA devices, access "
            "keys) and the account password policy that enforces them."
        ),
        customer_side=(
            "Give the root user hardware MFA, no access keys and no daily use; "
            "set a password policy of 14+ characters, complexity and no reuse of "
            "the last 24; require MFA for console users; rotate access keys "
            "within 90 days, keep one active key per user, and disable "
            "passwords and keys unused for 45 days."
        ),
        notes=("Protect credentials with individual user accounts + MFA",),
    ),
    Section(
        slug="account-security/individual-user-accounts",
        title="Individual user accounts",
        kind="checkable",
        summary=(
            "Create individual IAM users/identities rather than sharing "
            "credentials; IAM manages permissions. Also holds the support-role "
            "and Access Analyzer rows."
        ),
        aws_side=(
            "IAM lets one account hold many identities, each with its own "
            "credentials and permissions."
        ),
        customer_side=(
            "Federate human access through an identity provider or IAM Identity "
            "Center, grant users permissions through groups only, attach no "
            'customer policy allowing "*:*" and no AWSCloudShellFullAccess, keep '
            "a role for AWS Support incidents, run IAM Access Analyzer in every "
            "region, and keep the account in an AWS Organization."
        ),
        notes=(
            "Individual user accounts and credentials",
            "IAM Policies - IAM enables organizations with many employees to "
            "create and manage multiple users under a single AWS account.",
        ),
    ),
    Section(
        slug="account-security/x509-certificates",
        title="X.509 certificates",
        kind="checkable",
        summary=(
            "X.509 certificates carry a public key plus metadata and were used to "
            "sign SOAP requests; the rows cover IAM signing/server certificates "
            "and ACM certificates."
        ),
        aws_side=(
            "ACM issues and renews certificates it manages; IAM can store "
            "server certificates and user signing certificates."
        ),
        customer_side=(
            "Remove expired server certificates from IAM, deactivate legacy "
            "X.509 signing certificates on IAM users, renew ACM certificates "
            "before they expire, and use RSA-2048+ or ECDSA keys."
        ),
        notes=(
            "Used to sign SOAP based requests",
            "Contain public key and additional metadata",
        ),
    ),
    Section(
        slug="account-security/security-logs",
        title="Security logs",
        kind="index",
        summary=(
            "CloudTrail for account events and CloudWatch Logs for system, "
            "application and custom logs."
        ),
        notes=("Security Logs:",),
    ),
    Section(
        slug="account-security/security-logs/cloudtrail",
        title="Security logs: CloudTrail",
        kind="checkable",
        summary=(
            "CloudTrail records who did what on which service, delivers to an S3 "
            "bucket about every 5 minutes, and logs can be archived to Glacier."
        ),
        aws_side=(
            "CloudTrail records API events and delivers log files to the "
            "customer's S3 bucket, with digest files for integrity validation."
        ),
        customer_side=(
            "Keep a multi-region trail logging all management events, with log "
            "file validation, delivery to CloudWatch Logs and KMS encryption; "
            "keep its bucket private and access-logged; log S3 object-level "
            "read and write events."
        ),
        notes=(
            "AWS CloudTrail provides a log of events within your account",
            "CloudTrail shows each event, who made it and what action was "
            "performed on which service.",
            "CloudTrail event logs are delivered every 5 minutes and put into an "
            "S3 bucket",
            "CloudTrail logs can also be stored in Glacier",
        ),
    ),
    Section(
        slug="account-security/security-logs/cloudwatch",
        title="Security logs: CloudWatch Logs and alarms",
        kind="checkable",
        summary=(
            "CloudWatch Logs collects and monitors system, application and "
            "custom logs; CIS 4.x metric filters and alarms live here."
        ),
        aws_side=(
            "CloudWatch Logs stores log events and evaluates metric filters and "
            "alarms on them."
        ),
        customer_side=(
            "Keep the CIS metric filters and alarms on the CloudTrail log group "
            "(unauthorised calls, console sign-in without MFA, root use, IAM, "
            "CloudTrail, KMS, S3 policy, Config, security group, NACL, gateway, "
            "route table, VPC and Organizations changes, console failures), and "
            "retain log groups for at least a year."
        ),
        notes=(
            "CloudWatch logs collect and monitor system, app and custom log "
            "files from EC2 and other services.",
            "Log application events using CloudWatch",
        ),
    ),
    Section(
        slug="account-security/trusted-advisor",
        title="AWS Trusted Advisor security checks",
        kind="checkable",
        summary=(
            "Trusted Advisor inspects the account and alerts on the most common "
            "security misconfigurations."
        ),
        aws_side=(
            "Trusted Advisor runs its checks for the customer; the full set of "
            "security checks needs a Business or Enterprise support plan."
        ),
        customer_side="Resolve every Trusted Advisor security check in the red state.",
        notes=(
            "Inspects and recommends opportunities to save money, improve "
            "performance or close security gaps.",
            "Provides alerts on most common security misconfigurations",
        ),
    ),
    Section(
        slug="account-security/config-security-checks",
        title="AWS Config security checks",
        kind="checkable",
        summary=(
            "AWS Config continuously records resource configuration changes (and "
            "can drive back to a steady state); Security Hub is grouped here "
            "because its controls run on Config rules."
        ),
        aws_side=(
            "AWS Config records configuration changes and evaluates rules once "
            "the customer turns it on; Security Hub runs its controls on them."
        ),
        customer_side=(
            "Record all resources with AWS Config in every enabled region, "
            "aggregate them organisation-wide, and enable Security Hub with the "
            "FSBP and a CIS standard in every enabled region."
        ),
        notes=(
            "Continuous monitoring and assessment service that records changes "
            "to the configuration of AWS resources.",
            "Can be used to reconfigure to a steady state when there is an outage.",
        ),
    ),
    # -- Service-specific security ----------------------------------------------
    Section(
        slug="service",
        title="AWS service-specific security",
        kind="index",
        summary=(
            "Per-service settings: what AWS secures in each service and what the "
            "customer must configure."
        ),
        notes=("AWS Service Specific Security:",),
    ),
    Section(
        slug="service/compute",
        title="Compute services",
        kind="index",
        summary="Amazon EC2 and the services built on it.",
    ),
    Section(
        slug="service/compute/ec2",
        title="Amazon EC2",
        kind="index",
        summary=(
            "EC2 security in layers: AWS's hypervisor, instance isolation and "
            "host OS, and the customer's guest OS, firewall, EBS and Auto "
            "Scaling settings."
        ),
        notes=("EC2:",),
    ),
    Section(
        slug="service/compute/ec2/multiple-levels",
        title="EC2: multiple levels of security",
        kind="index",
        summary=(
            "Host OS, guest OS, firewall and signed API calls; signature checking "
            "of API calls is enforced by AWS."
        ),
        aws_side=(
            "AWS secures the host operating system and verifies the signature "
            "of every API call."
        ),
        customer_side=(
            "The guest OS and firewall levels are the customer's; see "
            "service/compute/ec2/guest-os and network/vpc/security-groups."
        ),
        notes=(
            "Multiple levels of security:",
            "OS",
            "Virtual instance OS/guest OS",
            "Firewall",
            "Signed API Calls",
        ),
    ),
    Section(
        slug="service/compute/ec2/hypervisor",
        title="EC2: hypervisor",
        kind="informational",
        summary=(
            "CPU privilege rings 0-3: the guest OS runs in ring 1 and "
            "applications in ring 3, separating them."
        ),
        aws_side=(
            "The CPU offers four privilege modes, rings 0 (most privileged) to "
            "3 (least). The hypervisor keeps the guest OS in ring 1 and "
            "applications in ring 3, a clear separation between the two."
        ),
        notes=(
            "CPU provides 4 privilege modes 0-3 called rings",
            "0 has most privilege",
            "3 has least",
            "Applications work in 3, OS in 1 - giving a clear security "
            "separation between the two",
        ),
    ),
    Section(
        slug="service/compute/ec2/instance-isolation",
        title="EC2: instance isolation",
        kind="informational",
        summary=(
            "The Xen hypervisor separates instances, the AWS firewall sits in "
            "the hypervisor between physical and virtual interfaces, memory is "
            "not shared, and there are no raw disk devices."
        ),
        aws_side=(
            "The hypervisor separates instances on the same host. The AWS "
            "firewall sits in the hypervisor layer between the physical network "
            "interface and each instance's virtual interface, memory is not "
            "shared between instances, and instances see virtual disks, never "
            "raw devices."
        ),
        notes=(
            "Xen hypervisor separates instances",
            "AWS firewall resides in the hypervisor layer between physical "
            "network interface and instances virtual interface",
            "The network / RAM is only available to one host like it would on a "
            "physical machine.",
            "No raw disk devices - instead virtualized disks",
        ),
    ),
    Section(
        slug="service/compute/ec2/host-os",
        title="EC2: host operating system",
        kind="informational",
        summary=(
            "AWS administrators need MFA to reach hosts, and all access is "
            "logged and audited."
        ),
        aws_side=(
            "AWS administrators must use MFA to reach the hosts EC2 runs on, and "
            "all their access is logged and audited."
        ),
        notes=(
            "MFA must be used for admin on hosts",
            "All access is logged and audited",
        ),
    ),
    Section(
        slug="service/compute/ec2/guest-os",
        title="EC2: guest operating system",
        kind="checkable",
        summary=(
            "Customers fully control the guest OS; use SSHv2, disable root "
            "login, log commands and use sudo. Those in-guest settings are not "
            "visible to AWS APIs; the rows check what the control plane can see."
        ),
        aws_side=(
            "AWS has no access to the guest OS; it provides the instance "
            "metadata service, instance profiles and Systems Manager."
        ),
        customer_side=(
            "Require IMDSv2, keep public IPv4 addresses off instances, use "
            "instance profiles instead of keys on the box, manage every instance "
            "with Systems Manager and keep it patch compliant. In-guest "
            "hardening (SSHv2, no root login, sudo, command logging) is the "
            "customer's too, but AWS APIs cannot see it."
        ),
        notes=(
            "Virtual instances are controlled by the customers",
            "Full root or admin over guest OS",
            "Should use SSHv2 to access the virtual instances, disable root "
            "login, use command line logging and use 'sudo' for privilege "
            "escalation",
        ),
    ),
    Section(
        slug="service/compute/ec2/firewall",
        title="EC2: firewall",
        kind="index",
        summary=(
            "The EC2 firewall is configured through signed, IAM-authorised API "
            "calls, not from inside the OS. Rows live in "
            "network/vpc/security-groups and network/vpc/default-vpc."
        ),
        aws_side=(
            "AWS enforces the firewall outside the instance and accepts changes "
            "only through signed API calls that IAM authorises."
        ),
        customer_side=(
            "Keep security group rules tight; the rows live in "
            "network/vpc/security-groups and network/vpc/default-vpc."
        ),
        notes=(
            "EC2 provides a complete firewall solution",
            "Firewall isn't controlled through OS - requires X.509 certificate "
            "and key to authorize changes.",
            "API access can be used to change params using the AWS account secret keys",
            "IAM can further be used to manage permissions",
        ),
    ),
    Section(
        slug="service/compute/ec2/ebs",
        title="EC2: Elastic Block Store",
        kind="checkable",
        summary=(
            'EBS volumes are replicated within an AZ (the notes say "across '
            'multiple AZs"; AWS documents within one AZ), snapshots can be '
            "shared with other accounts, and sensitive data should be encrypted."
        ),
        aws_side=(
            "AWS replicates each EBS volume within its Availability Zone and "
            "stores snapshots durably."
        ),
        customer_side=(
            "Turn on EBS encryption by default in every region, keep attached "
            "volumes encrypted, and keep snapshots and account-owned AMIs from "
            "being public."
        ),
        notes=(
            "Replicated across multiple AZs (AWS documents replication within one AZ)",
            "Snapshots can be shared to other accounts",
            "Sensitive data should be encrypted",
        ),
    ),
    Section(
        slug="service/compute/ec2/auto-scaling",
        title="EC2: Auto Scaling",
        kind="checkable",
        summary=(
            "Auto Scaling is managed through the API; IAM roles simplify key "
            "management for the instances it launches."
        ),
        aws_side="AWS launches and replaces instances as the group's settings say.",
        customer_side=(
            "Span several AZs, launch from launch templates that require IMDSv2 "
            "and assign no public IP."
        ),
        notes=(
            "Management of auto scaling must be done via API",
            "IAM roles can be used to simplify key management",
        ),
    ),
    Section(
        slug="service/networking",
        title="Networking services",
        kind="index",
        summary="Elastic Load Balancing, Route 53 and CloudFront.",
        notes=("Networking Services:",),
    ),
    Section(
        slug="service/networking/elb",
        title="Elastic Load Balancing",
        kind="checkable",
        summary=(
            "ELB offloads TLS, gives a single point of contact as the first line "
            "of defence, takes VPC security groups and supports end-to-end TLS."
        ),
        aws_side=(
            "AWS runs the load balancers, terminates TLS on them and keeps the "
            "predefined security policies up to date."
        ),
        customer_side=(
            "Redirect HTTP to HTTPS, use TLS listeners with a TLS 1.2+ policy, "
            "drop invalid headers, attach AWS WAF to internet-facing ALBs, turn "
            "on access logs and deletion protection, and span at least two AZs."
        ),
        notes=(
            "ELB has same benefits as on site load balancer + more:",
            "Takes encryption and decryption work from the EC2 instances and "
            "manages it centrally on the load balancer.",
            "Offers clients a single point of contact - and serves as first line "
            "of defence against network",
            "Use VPC - create and manage security groups associated with ELB to "
            "provide additional networking and security options",
            "Supports end to end encryption using TLS",
        ),
    ),
    Section(
        slug="service/networking/route53",
        title="Amazon Route 53",
        kind="checkable",
        summary=(
            "Highly available DNS with latency/geo/weighted routing, domain "
            "registration with privacy protection, and health checks that fail "
            "over to a backup."
        ),
        aws_side=(
            "AWS answers DNS queries from a highly available global network and "
            "runs the registrar behind Route 53 Domains."
        ),
        customer_side=(
            "Log queries and sign public hosted zones with DNSSEC, lock domains "
            "against transfer, turn on privacy protection, and give failover "
            "primary records health checks."
        ),
        notes=(
            "Highly available DNS service that answers DNS queries",
            "Queries are routed to nearby DNS server",
            "Different methods can be used: Latency Based Routing, Geo DNS, "
            "Weighted Round-Robin",
            "Offers domain name registration",
            "Offers privacy protection to stop spamming and scraping",
            "Can use Route 53 to check health of website on regular basis and "
            "switch to backup if primary is unresponsive.",
        ),
    ),
    Section(
        slug="service/networking/cloudfront",
        title="Amazon CloudFront",
        kind="checkable",
        summary=(
            "Low-latency delivery from edge locations; AWS gives no durability "
            "guarantee for data held at the edge (informational)."
        ),
        aws_side=(
            "AWS runs the edge locations. It gives no durability guarantee for "
            "content cached there, so the origin stays the system of record."
        ),
        customer_side=(
            "Require HTTPS from viewers with a TLS 1.2 minimum, encrypt traffic "
            "to custom origins, reach S3 origins only through origin access "
            "control and point them at existing buckets, attach AWS WAF and "
            "turn on access logging."
        ),
        notes=(
            "Delivers dynamic, static and streaming content using a global "
            "network of edge locations",
            "No guarantee of durability of data held in CloudFront edge locations",
        ),
    ),
    Section(
        slug="service/storage",
        title="Storage services",
        kind="index",
        summary="Amazon S3.",
        notes=("Storage Services",),
    ),
    Section(
        slug="service/storage/s3",
        title="Amazon S3",
        kind="checkable",
        summary=(
            "Restricted by default; access through IAM policies, ACLs and bucket "
            "policies; versioning with MFA delete; CORS for cross-origin use."
        ),
        aws_side=(
            "New buckets and objects are private to their owner; AWS enforces "
            "IAM policies, bucket policies, ACLs and Block Public Access."
        ),
        customer_side=(
            "Turn on Block Public Access for the account and every bucket, grant "
            "no public access by policy or ACL, deny non-TLS requests, encrypt "
            "with SSE-KMS, version buckets with MFA delete, log access, use "
            "Object Lock where WORM is required, let no CORS origin write, and "
            "run Macie to find sensitive data."
        ),
        notes=(
            "Restricted by default",
            "Only bucket and object owners have access to the resources they create",
            "Access Control Lists - ACL to give read / write access on buckets "
            "or objects to groups of users.",
            "Bucket policies - Add or deny permissions across some or all "
            "objects within a bucket",
            "Versioning - preserve, retrieve and restore every version of every "
            "object stored in an S3 bucket.",
            "Can use S3 versioning MFA to restrict deletions",
            "Cross-Origin Resource Sharing (CORS)",
        ),
    ),
    Section(
        slug="service/database",
        title="Database services",
        kind="index",
        summary="DynamoDB, RDS, Redshift and ElastiCache.",
    ),
    Section(
        slug="service/database/dynamodb",
        title="Amazon DynamoDB",
        kind="checkable",
        summary="Access is through IAM; AWS manages the platform.",
        aws_side=(
            "AWS runs and patches the DynamoDB platform and encrypts tables at "
            "rest with an AWS-owned key by default."
        ),
        customer_side=(
            "Turn on point-in-time recovery and deletion protection, encrypt "
            "tables with a KMS key, and encrypt DAX clusters at rest and in "
            "transit."
        ),
        notes=("DynamoDB uses IAM",),
    ),
    Section(
        slug="service/database/rds",
        title="Amazon RDS",
        kind="checkable",
        summary=(
            "DB security groups act as a firewall, use VPC, encrypt data and "
            "connections, automated backups on by default, user snapshots, "
            "Multi-AZ primary/standby."
        ),
        aws_side=(
            "AWS patches the database engine and host, runs automated backups "
            "(on by default) and fails over Multi-AZ deployments."
        ),
        customer_side=(
            "Encrypt storage, force TLS, keep instances and snapshots private "
            "and security groups closed to the internet, run Multi-AZ, keep "
            "backups 7+ days, turn on deletion protection, minor upgrades, IAM "
            "authentication and log export."
        ),
        notes=(
            "DB Security groups are used - like a firewall",
            "Use VPC for extra security",
            "All data can and should be encrypted (connections included)",
            "Backups and Snapshots can be used.",
            "Automated backups on by default - back up all logs and database "
            "for retention period",
            "DB snapshots are user initiated and are a full back up of the RDS "
            "until you delete them",
            "For high availability put the DB (replicated) in multiple zones, "
            "with a primary and secondary zone",
        ),
    ),
    Section(
        slug="service/database/redshift",
        title="Amazon Redshift",
        kind="checkable",
        summary=(
            "Closed by default, run inside a VPC, grant database-level access, "
            "backups to S3 and user snapshots."
        ),
        aws_side=(
            "Clusters are closed to everyone by default; AWS backs data up to "
            "S3, monitors cluster health and re-replicates when needed."
        ),
        customer_side=(
            "Keep clusters private and encrypted, require SSL, turn on audit "
            "logging and enhanced VPC routing, and keep automated snapshots 7+ "
            "days."
        ),
        notes=(
            "Closed by default",
            "Run inside VPC to isolate data warehouse",
            "Like any DB - DB level access must be granted",
            "Redshift data is backed up to S3 periodically",
            "Redshift data snapshots can also be taken at any time",
            "Redshift continuously monitors health of cluster and re-replicates "
            "when required.",
        ),
    ),
    Section(
        slug="service/database/elasticache",
        title="Amazon ElastiCache",
        kind="checkable",
        summary="Managed in-memory cache clusters that use security groups.",
        aws_side=(
            "AWS runs and patches the cache nodes and automates management "
            "tasks such as failure detection and recovery."
        ),
        customer_side=(
            "Place clusters in a VPC subnet group, encrypt at rest and in "
            "transit, require AUTH or RBAC, keep automatic backups and Multi-AZ "
            "automatic failover on."
        ),
        notes=(
            "Automates time consuming management tasks for in-memory cache "
            "environments",
            "Operates within a cache cluster each running its own memcached service",
            "Uses security groups",
        ),
    ),
    Section(
        slug="service/analytics",
        title="Analytics services",
        kind="index",
        summary="CloudSearch (and OpenSearch), Kinesis, EMR and Data Pipeline.",
    ),
    Section(
        slug="service/analytics/cloudsearch",
        title="Amazon CloudSearch",
        kind="checkable",
        summary=(
            "One search domain per data collection, queried through a "
            "general-purpose endpoint. CloudSearch has been closed to new "
            "customers since 2024 (AWS docs), so OpenSearch rows are attached "
            "beneath it."
        ),
        aws_side="AWS runs, scales and patches the search domains.",
        customer_side=(
            "Require HTTPS with TLS 1.2 on domain endpoints and keep access "
            "policies from being open to everyone."
        ),
        notes=(
            "Managed service that makes it easy to set up, manage and scale "
            "search for your website.",
            "Create a separate search domain for each collection of data you "
            "want to make searchable",
            "All searches done through a standard general purpose endpoint",
        ),
    ),
    Section(
        slug="service/analytics/cloudsearch/opensearch",
        title="Amazon OpenSearch Service (extension)",
        kind="checkable",
        summary=(
            "Not in the notes; added because OpenSearch is AWS's stated "
            "migration target for CloudSearch."
        ),
        aws_side="AWS runs, scales and patches the OpenSearch domains.",
        customer_side=(
            "Run domains inside a VPC, encrypt at rest and node-to-node, and "
            "require HTTPS with a TLS 1.2+ policy."
        ),
    ),
    Section(
        slug="service/analytics/kinesis",
        title="Amazon Kinesis",
        kind="checkable",
        summary=(
            "Real-time streams; records were available for 24 hours and then "
            "discarded (the default retention)."
        ),
        aws_side=(
            "AWS stores stream records durably for the retention period (24 "
            "hours by default, configurable up to a year)."
        ),
        customer_side="Encrypt streams at rest and retain data for 7+ days.",
        notes=(
            "Handles real-time streaming of big data",
            "Data records contain a sequence number, a partition key and a data "
            "blob. Objects available for 24 hours then discarded",
        ),
    ),
    Section(
        slug="service/analytics/emr",
        title="Amazon EMR",
        kind="checkable",
        summary=(
            "Named in the notes among AWS-managed services; the customer still "
            "owns public access and encryption settings."
        ),
        aws_side="AWS provisions and manages the cluster software.",
        customer_side=(
            "Turn on EMR block public access, keep primary nodes off public "
            "IPs, and give every cluster a security configuration that encrypts "
            "at rest and in transit."
        ),
        notes=("Amazon Elastic MapReduce",),
    ),
    Section(
        slug="service/analytics/data-pipeline",
        title="AWS Data Pipeline",
        kind="checkable",
        summary=(
            "Moves and processes data on schedules and creates the IAM roles it "
            "needs. AWS closed it to new customers on 2024-07-25."
        ),
        aws_side=(
            "Data Pipeline launches the resources a pipeline needs and can "
            "create its IAM roles and policies."
        ),
        customer_side=(
            "Write pipeline logs to S3 and keep the pipeline's roles from being "
            "administrators."
        ),
        notes=(
            "Helps process and move data between different data sources at "
            "intervals - using data driven workflows and built in dependency "
            "checking.",
            "Pipelines manage launching of AWS services in the pipeline",
            "AWS Data Pipeline creates the necessary IAM roles and policies.",
        ),
    ),
    Section(
        slug="service/app-integration",
        title="Application integration services",
        kind="index",
        summary="SQS, SNS, SWF (with Step Functions) and SES.",
    ),
    Section(
        slug="service/app-integration/sqs",
        title="Amazon SQS",
        kind="checkable",
        summary=(
            "Access through IAM and SSL endpoints. The notes' \"data stored in "
            'SQS is not encrypted" is outdated: SSE-SQS/SSE-KMS now exist.'
        ),
        aws_side="AWS serves queues over TLS endpoints and authorises with IAM.",
        customer_side="Encrypt queues at rest and keep queue policies private.",
        notes=(
            "Access granted by account or user with IAM",
            "Available via SSL encrypted endpoints",
            "Data stored in SQS is not encrypted - however user can encrypt "
            "before putting on SQS (outdated: SSE now exists)",
        ),
    ),
    Section(
        slug="service/app-integration/sns",
        title="Amazon SNS",
        kind="checkable",
        summary=(
            "Topic owners set policies on who can publish/subscribe; traffic can "
            "use HTTPS."
        ),
        aws_side="AWS serves topics over TLS endpoints and enforces topic policies.",
        customer_side=(
            "Encrypt topics with KMS, keep topic policies private, and deliver "
            "to no plain-HTTP subscription."
        ),
        notes=(
            "Topic owners can set policies for a topic that restrict who can "
            "publish or subscribe to a topic",
            "Traffic can be encrypted using HTTPS",
            "Access given to AWS accounts or IAM users",
        ),
    ),
    Section(
        slug="service/app-integration/swf",
        title="Amazon SWF (with Step Functions)",
        kind="split",
        summary=(
            "SWF access is granted through IAM (covered by the IAM rows) and SWF "
            "has no configurable security setting to score; the row covers Step "
            "Functions, its successor."
        ),
        aws_side=(
            "AWS coordinates SWF workflows and authorises access through IAM; "
            "SWF has no security setting of its own to configure."
        ),
        customer_side="Log the execution history of Step Functions state machines.",
        notes=(
            "Structure various tasks in a workflow - and SWF coordinates for you",
            "Access is granted to AWS accounts or users created with AWS IAM.",
        ),
    ),
    Section(
        slug="service/app-integration/ses",
        title="Amazon SES",
        kind="split",
        summary=(
            "AWS scans mail for malware and runs complaint feedback loops "
            "(informational); customers must verify addresses/domains via DNS "
            "and use SPF/DKIM (checkable)."
        ),
        aws_side=(
            "AWS checks outgoing mail for malware and viruses, keeps complaint "
            "feedback loops with major ISPs and measures each sender's quality."
        ),
        customer_side=(
            "Verify every identity, sign domain mail with DKIM, and use a "
            "verified custom MAIL FROM domain so SPF aligns."
        ),
        notes=(
            "Requires users to verify email address or domain to confirm they own it",
            "Requires DNS record to be verified",
            "AWS checks that emails don't contain malware or viruses",
            "AWS maintains complaint feedback loops with major ISPs",
            "Measures quality of each user's sending",
            "Supports authentication methods such as Sender Policy Framework, etc",
        ),
    ),
    Section(
        slug="service/end-user-computing",
        title="End-user computing services",
        kind="index",
        summary="Amazon WorkSpaces.",
    ),
    Section(
        slug="service/end-user-computing/workspaces",
        title="Amazon WorkSpaces",
        kind="checkable",
        summary=(
            "Named in the notes among AWS-managed services; volume encryption "
            "stays the customer's choice."
        ),
        aws_side="AWS manages the WorkSpaces infrastructure and desktops' hosts.",
        customer_side="Encrypt WorkSpaces user and root volumes.",
        notes=("Amazon WorkSpaces",),
    ),
    Section(
        slug="service/security",
        title="Security services (extension)",
        kind="index",
        summary=(
            "Not a notes heading; KMS and Secrets Manager back the notes' "
            "advice to encrypt sensitive data and protect credentials."
        ),
    ),
    Section(
        slug="service/security/kms",
        title="AWS KMS (extension)",
        kind="checkable",
        summary=(
            'Not a notes section; backs "sensitive data should be encrypted" and '
            "the CIS key-rotation requirement."
        ),
        aws_side="AWS protects key material in HSMs and rotates AWS-managed keys.",
        customer_side=(
            "Rotate customer-managed symmetric keys, keep key policies private, "
            "and schedule no key for deletion by accident."
        ),
        notes=("Sensitive data should be encrypted",),
    ),
    Section(
        slug="service/security/secrets-manager",
        title="AWS Secrets Manager (extension)",
        kind="checkable",
        summary='Not a notes section; backs "protect credentials".',
        aws_side="AWS encrypts stored secrets and runs rotation when configured.",
        customer_side="Rotate every secret automatically, at least every 90 days.",
        notes=("Protect credentials with individual user accounts + MFA",),
    ),
]

_BY_SLUG: dict[str, Section] = {s.slug: s for s in SECTIONS}


def get_section(slug: str) -> Section | None:
    return _BY_SLUG.get(slug)


def children(slug: str) -> list[Section]:
    """Direct children of ``slug``, in tree order."""
    return [s for s in SECTIONS if s.parent_slug == slug]


def top_level() -> list[Section]:
    return [s for s in SECTIONS if s.depth == 0]


def ancestors(slug: str) -> list[Section]:
    """The sections above ``slug``, outermost first (for breadcrumbs)."""
    found = []
    parent = slug.rpartition("/")[0]
    while parent:
        section = _BY_SLUG.get(parent)
        if section:
            found.append(section)
        parent = parent.rpartition("/")[0]
    return found[::-1]


def controls_in(slug: str, *, include_descendants: bool = False) -> list:
    """Controls mapped to ``slug`` (and, if asked, to sections below it), by id."""
    # Imported here so the tree can be read without loading the catalog.
    from findings.controls import REGISTRY

    prefix = slug + "/"
    return sorted(
        (
            c
            for c in REGISTRY.values()
            if c.section == slug
            or (include_descendants and c.section.startswith(prefix))
        ),
        key=lambda c: c.id,
    )


def is_checkable(section: Section | str) -> bool:
    """Whether controls score (part of) this section: checkable or split."""
    if isinstance(section, str):
        found = get_section(section)
        if found is None:
            return False
        section = found
    return section.kind in ("checkable", "split")
