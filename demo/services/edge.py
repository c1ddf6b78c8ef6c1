"""Demo load balancers, Auto Scaling groups, DNS and CDN for each account.

Everything is created in the account's first region (CloudFront and Route 53
are global): no edge control is per region. Per profile:

- security: a hardened ALB (TLS 1.3 policy, redirect, WAF, logs, protection),
  an IMDSv2-only Auto Scaling group over two AZs, a private zone with a
  health-checked failover pair, and a CloudFront distribution in front of the
  ALB with WAF, logs and TLSv1.2_2021.
- prod / management: a mix (an older TLS policy, no WAF, a legacy Classic LB
  or launch configuration, a public zone, a registered domain, an S3 origin
  without origin access control).
- dev / sandbox: mostly bad (single-AZ load balancers, public IPs and IMDSv1,
  a failover primary without a health check, a distribution that allows HTTP
  and points at a deleted bucket).

Auto Scaling groups are created empty (desired capacity 0), so they add no
instances to the EC2 controls. Certificates are referenced by ARN only: moto
does not check them, and creating real ones would add ACM/IAM findings that
belong to another group's demo.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demo.seed import _Account

AMI = "ami-0a1b2c3d4e5f60718"  # the demo seed's image id; moto loads no AMIs
TLS13_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
OLD_POLICY = "ELBSecurityPolicy-2016-08"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed policy
GLOBAL = "us-east-1"  # Route 53, Route 53 Domains and CloudFront's WAF scope


@dataclass(frozen=True)
class EdgeSpec:
    alb: str | None = None  # "hardened" | "basic"
    classic: bool = False  # a Classic LB with a plain HTTP listener, one AZ
    single_az_nlb: bool = False  # an NLB in one AZ with an old TLS policy
    groups: tuple[str, ...] = ()  # "secure" | "exposed" | "legacy"
    zone: str | None = None  # "private" | "public-logged" | "public"
    failover_checked: bool = True
    domain_privacy: bool | None = None  # None: no registered domain
    distribution: str | None = None  # "hardened" | "mixed" | "exposed"


PROFILES = {
    "security": EdgeSpec(
        alb="hardened", groups=("secure",), zone="private", distribution="hardened"
    ),
    "prod": EdgeSpec(
        alb="basic",
        classic=True,
        groups=("secure", "legacy"),
        zone="public-logged",
        domain_privacy=True,
        distribution="mixed",
    ),
    "management": EdgeSpec(alb="basic", zone="public-logged", domain_privacy=True),
    "dev": EdgeSpec(
        single_az_nlb=True,
        groups=("exposed",),
        zone="public",
        failover_checked=False,
        domain_privacy=False,
        distribution="exposed",
    ),
    "sandbox": EdgeSpec(
        classic=True, groups=("exposed", "legacy"), distribution="exposed"
    ),
}


def seed(account: "_Account", profile: str, region: str) -> None:
    """Create this profile's edge resources (first region only)."""
    if region != account.regions[0]:
        return
    spec = PROFILES[profile]
    subnets = _default_subnets(account, region)
    origin = _load_balancers(account, spec, region, subnets)
    _auto_scaling(account, spec, region, subnets)
    _dns(account, profile, spec, region)
    _distribution(account, spec, origin)


def _default_subnets(account: "_Account", region: str) -> list[tuple[str, str]]:
    """(zone, subnet id) of the default VPC, one per AZ, in zone order."""
    subnets = account.client("ec2", region).describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in subnets}
    return sorted(by_zone.items())


# Load balancers -----------------------------------------------------------------


def _load_balancers(
    account: "_Account", spec: EdgeSpec, region: str, subnets: list[tuple[str, str]]
) -> str:
    """Create the profile's load balancers; the ALB's DNS name (or a stand-in)."""
    elbv2 = account.client("elbv2", region)
    certificate = f"arn:aws:iam::{account.id}:server-certificate/edge-demo"
    origin = "origin.example.com"
    if spec.alb:
        hardened = spec.alb == "hardened"
        lb = elbv2.create_load_balancer(
            Name="edge-web",
            Subnets=[subnet for _, subnet in subnets[:2]],
            Scheme="internet-facing",
            Type="application",
        )["LoadBalancers"][0]
        arn, origin = lb["LoadBalancerArn"], lb["DNSName"]
        attributes = {
            "access_logs.s3.enabled": "true",
            "access_logs.s3.bucket": account.bucket("logs"),
            "access_logs.s3.prefix": "alb",
            "deletion_protection.enabled": "true",
            "routing.http.drop_invalid_header_fields.enabled": str(hardened).lower(),
        }
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()],
        )
        group = elbv2.create_target_group(
            Name="edge-web", Protocol="HTTP", Port=80, VpcId=lb["VpcId"]
        )["TargetGroups"][0]["TargetGroupArn"]
        forward = {"Type": "forward", "TargetGroupArn": group}
        redirect = {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"},
        }
        elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[redirect if hardened else forward],
        )
        elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTPS",
            Port=443,
            SslPolicy=TLS13_POLICY if hardened else OLD_POLICY,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[forward],
        )
        if hardened:
            acl = _web_acl(account, region, "REGIONAL")
            account.client("wafv2", region).associate_web_acl(
                WebACLArn=acl, ResourceArn=arn
            )
    if spec.single_az_nlb:
        lb = elbv2.create_load_balancer(
            Name="edge-tcp", Subnets=[subnets[0][1]], Type="network"
        )["LoadBalancers"][0]
        group = elbv2.create_target_group(
            Name="edge-tcp", Protocol="TCP", Port=443, VpcId=lb["VpcId"]
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TLS",
            Port=443,
            SslPolicy=OLD_POLICY,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
    if spec.classic:
        account.client("elb", region).create_load_balancer(
            LoadBalancerName="legacy-api",
            Listeners=[
                {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}
            ],
            AvailabilityZones=[subnets[0][0]],
        )
    return origin


def _web_acl(account: "_Account", region: str, scope: str) -> str:
    return account.client("wafv2", region).create_web_acl(
        Name=f"edge-{scope.lower()}",
        Scope=scope,
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": f"edge-{scope.lower()}",
        },
    )["Summary"]["ARN"]


# Auto Scaling -------------------------------------------------------------------


def _auto_scaling(
    account: "_Account", spec: EdgeSpec, region: str, subnets: list[tuple[str, str]]
) -> None:
    autoscaling = account.client("autoscaling", region)
    ec2 = account.client("ec2", region)
    for kind in spec.groups:
        secure = kind == "secure"
        spread = subnets[:2] if secure else subnets[:1]
        capacity = {"MinSize": 0, "MaxSize": 4, "DesiredCapacity": 0}
        zones = ",".join(subnet for _, subnet in spread)
        if kind == "legacy":
            autoscaling.create_launch_configuration(
                LaunchConfigurationName="legacy-workers",
                ImageId=AMI,
                InstanceType="t3.micro",
                AssociatePublicIpAddress=True,
                MetadataOptions={"HttpTokens": "optional"},
            )
            autoscaling.create_auto_scaling_group(
                AutoScalingGroupName="legacy-workers",
                LaunchConfigurationName="legacy-workers",
                VPCZoneIdentifier=zones,
                **capacity,
            )
            continue
        template = ec2.create_launch_template(
            LaunchTemplateName=f"{kind}-web",
            LaunchTemplateData={
                "ImageId": AMI,
                "InstanceType": "t3.micro",
                "MetadataOptions": {"HttpTokens": "required" if secure else "optional"},
                "NetworkInterfaces": [
                    {"DeviceIndex": 0, "AssociatePublicIpAddress": not secure}
                ],
            },
        )["LaunchTemplate"]["LaunchTemplateId"]
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"{kind}-web",
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Default"},
            VPCZoneIdentifier=zones,
            **capacity,
        )


# Route 53 -----------------------------------------------------------------------


def _dns(account: "_Account", profile: str, spec: EdgeSpec, region: str) -> None:
    route53 = account.client("route53", GLOBAL)
    domain = f"{profile}-{account.id}.com"
    if spec.domain_privacy is not None:
        # Registration also creates the domain's public hosted zone.
        contact = {
            "FirstName": "Dana",
            "LastName": "Ops",
            "ContactType": "COMPANY",
            "OrganizationName": "Example Corp",
            "AddressLine1": "1 Main Street",
            "City": "Seattle",
            "State": "WA",
            "CountryCode": "US",
            "ZipCode": "98101",
            "PhoneNumber": "+1.2065550100",
            "Email": f"dns+{profile}@example.com",
        }
        account.client("route53domains", GLOBAL).register_domain(
            DomainName=domain,
            DurationInYears=2,  # moto rejects exactly one year as too short
            AdminContact=contact,
            RegistrantContact=contact,
            TechContact=contact,
            PrivacyProtectAdminContact=spec.domain_privacy,
            PrivacyProtectRegistrantContact=spec.domain_privacy,
            PrivacyProtectTechContact=spec.domain_privacy,
        )
    if spec.zone is None:
        return
    if spec.zone == "private":
        domain = "corp.internal"
        vpc = account.client("ec2", region).describe_vpcs(
            Filters=[{"Name": "is-default", "Values": ["true"]}]
        )["Vpcs"][0]["VpcId"]
        zone = route53.create_hosted_zone(
            Name=domain,
            CallerReference=f"edge-{domain}",
            HostedZoneConfig={"PrivateZone": True, "Comment": "internal services"},
            VPC={"VPCRegion": region, "VPCId": vpc},
        )["HostedZone"]["Id"]
    else:
        found = route53.list_hosted_zones_by_name(DNSName=domain)["HostedZones"]
        if found and found[0]["Name"] == f"{domain}.":
            zone = found[0]["Id"]
        else:
            zone = route53.create_hosted_zone(
                Name=domain, CallerReference=f"edge-{domain}"
            )["HostedZone"]["Id"]
    if spec.zone == "public-logged":
        logs = account.client("logs", GLOBAL)  # Route 53 logs to us-east-1 only
        group = f"/aws/route53/{domain}"
        logs.create_log_group(logGroupName=group)
        route53.create_query_logging_config(
            HostedZoneId=zone,
            CloudWatchLogsLogGroupArn=(
                f"arn:aws:logs:{GLOBAL}:{account.id}:log-group:{group}:*"
            ),
        )
    _failover_pair(route53, zone, f"app.{domain}", spec.failover_checked)


def _failover_pair(route53: Any, zone: str, name: str, checked: bool) -> None:
    primary: dict[str, Any] = {
        "Name": name,
        "Type": "A",
        "SetIdentifier": "primary",
        "Failover": "PRIMARY",
        "TTL": 60,
        "ResourceRecords": [{"Value": "10.0.1.10"}],
    }
    if checked:
        primary["HealthCheckId"] = route53.create_health_check(
            CallerReference=f"edge-{name}",
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": name,
                "Port": 443,
                "ResourcePath": "/health",
            },
        )["HealthCheck"]["Id"]
    secondary = {
        **{k: v for k, v in primary.items() if k != "HealthCheckId"},
        "SetIdentifier": "secondary",
        "Failover": "SECONDARY",
        "ResourceRecords": [{"Value": "10.0.2.10"}],
    }
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {"Action": "CREATE", "ResourceRecordSet": record}
                for record in (primary, secondary)
            ]
        },
    )


# CloudFront ---------------------------------------------------------------------


def _distribution(account: "_Account", spec: EdgeSpec, alb_origin: str) -> None:
    if spec.distribution is None:
        return
    kind = spec.distribution
    certificate = f"arn:aws:acm:{GLOBAL}:{account.id}:certificate/edge-demo"
    https_origin = {
        "Id": "web",
        "DomainName": alb_origin,
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
            "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
        },
    }
    config: dict[str, Any] = {
        "CallerReference": f"edge-{kind}",
        "Comment": f"{kind} site",
        "Enabled": True,
        "DefaultCacheBehavior": {
            "TargetOriginId": "web",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
        },
    }
    if kind == "exposed":
        # A bucket deleted long ago, and an origin still reached over HTTP.
        origins = [
            {
                "Id": "web",
                "DomainName": f"{account.bucket('old-site')}.s3.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""},
            },
            {
                **https_origin,
                "Id": "api",
                "CustomOriginConfig": {
                    **https_origin["CustomOriginConfig"],
                    "OriginProtocolPolicy": "http-only",
                    "OriginSslProtocols": {"Quantity": 2, "Items": ["SSLv3", "TLSv1"]},
                },
            },
        ]
        config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = "allow-all"
    else:
        origins = [https_origin]
        config["ViewerCertificate"] = {
            "ACMCertificateArn": certificate,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": (
                "TLSv1.2_2021" if kind == "hardened" else "TLSv1.2_2019"
            ),
        }
        config["Aliases"] = {"Quantity": 1, "Items": [f"www.{account.id}.example.com"]}
    if kind == "mixed":
        origins.append(
            {
                "Id": "assets",
                "DomainName": f"{account.bucket('web-assets')}.s3.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""},
            }
        )
        config["CacheBehaviors"] = {
            "Quantity": 1,
            "Items": [
                {
                    "PathPattern": "/static/*",
                    "TargetOriginId": "assets",
                    "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": CACHING_OPTIMIZED,
                }
            ],
        }
    if kind == "hardened":
        config["WebACLId"] = _web_acl(account, GLOBAL, "CLOUDFRONT")
        config["Logging"] = {
            "Enabled": True,
            "IncludeCookies": False,
            "Bucket": f"{account.bucket('logs')}.s3.amazonaws.com",
            "Prefix": "cloudfront/",
        }
    config["Origins"] = {"Quantity": len(origins), "Items": origins}
    account.client("cloudfront", GLOBAL).create_distribution(DistributionConfig=config)
