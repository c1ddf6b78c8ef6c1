"""The ELB collector against moto: both APIs, listeners, sub-calls, paging."""

import json

import pytest
from botocore.exceptions import ClientError

from collectors.services.elb import ELBCollector
from findings.testing import ACCOUNT_ID, collect, deny

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
CLASSIC = "AWS::ElasticLoadBalancing::LoadBalancer"
CERTIFICATE = f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/edge"
REDIRECT = {
    "Type": "redirect",
    "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"},
}


def subnets(aws, count: int = 2) -> list[str]:
    found = aws.client("ec2").describe_subnets()["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in found}
    return [by_zone[zone] for zone in sorted(by_zone)[:count]]


def make_alb(aws, name: str = "web", **kwargs) -> dict:
    kwargs.setdefault("Scheme", "internet-facing")  # moto omits AWS's default
    return aws.client("elbv2").create_load_balancer(
        Name=name, Subnets=subnets(aws), **kwargs
    )["LoadBalancers"][0]


def by_type(records) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for record in records:
        grouped.setdefault(record.resource_type, []).append(record)
    return grouped


def test_alb_with_listeners_web_acl_and_tags(aws):
    elbv2 = aws.client("elbv2")
    lb = make_alb(aws, Tags=[{"Key": "team", "Value": "web"}])
    arn = lb["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
    )
    redirect = elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[REDIRECT],
    )["Listeners"][0]
    secure = elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": CERTIFICATE}],
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "200"},
            }
        ],
    )["Listeners"][0]
    waf = aws.client("wafv2")
    acl = waf.create_web_acl(
        Name="edge-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": "edge",
        },
    )["Summary"]
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=arn)

    records = by_type(collect("elb", session=aws))

    (balancer,) = records[LOAD_BALANCER]
    assert balancer.resource_id == balancer.arn == arn
    assert balancer.name == "web"
    assert balancer.tags == {"team": "web"}
    config = balancer.config
    assert config["Type"] == "application"
    assert config["Attributes"]["deletion_protection.enabled"] == "true"
    assert config["WebACL"] == {
        "Name": "edge-acl",
        "Id": acl["Id"],
        "ARN": acl["ARN"],
    }
    assert "_errors" not in config

    listeners = {r.resource_id: r for r in records[LISTENER]}
    http = listeners[redirect["ListenerArn"]]
    assert http.name == "web HTTP:80"
    assert http.config["LoadBalancer"] == {
        "LoadBalancerName": "web",
        "Type": "application",
        "Scheme": "internet-facing",
    }
    assert http.config["Rules"][0]["IsDefault"] is True
    assert "SslPolicyProtocols" not in http.config
    https = listeners[secure["ListenerArn"]]
    assert https.config["SslPolicyProtocols"] == ["TLSv1.2", "TLSv1.3"]
    assert "Rules" not in https.config


def test_internal_alb_and_nlb_are_not_asked_for_a_web_acl(aws):
    make_alb(aws, name="inside", Scheme="internal")
    aws.client("elbv2").create_load_balancer(
        Name="net", Subnets=subnets(aws, 1), Type="network"
    )
    deny(aws, "wafv2", "GetWebACLForResource")

    records = collect("elb", session=aws)

    assert {r.name for r in records} == {"inside", "net"}
    for record in records:
        assert "WebACL" not in record.config
        assert "_errors" not in record.config


def test_classic_load_balancer_keeps_attributes_and_tls_policies(aws):
    elb = aws.client("elb")
    elb.create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[
            {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80},
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstancePort": 80,
                "SSLCertificateId": CERTIFICATE,
            },
        ],
        AvailabilityZones=["us-east-1a"],
        Tags=[{"Key": "owner", "Value": "ops"}],
    )
    elb.create_load_balancer_policy(
        LoadBalancerName="legacy",
        PolicyName="tls12",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[
            {
                "AttributeName": "Reference-Security-Policy",
                "AttributeValue": "ELBSecurityPolicy-TLS-1-2-2017-01",
            }
        ],
    )
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName="legacy", LoadBalancerPort=443, PolicyNames=["tls12"]
    )

    (classic,) = collect("elb", session=aws)

    assert classic.resource_type == CLASSIC
    assert classic.resource_id == "legacy"
    assert classic.arn == (
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:loadbalancer/legacy"
    )
    assert classic.tags == {"owner": "ops"}
    config = classic.config
    assert "Instances" not in config
    assert config["LoadBalancerAttributes"]["AccessLog"] == {"Enabled": False}
    assert config["PolicyDescriptions"] == [
        {
            "PolicyName": "tls12",
            "PolicyTypeName": "SSLNegotiationPolicyType",
            "PolicyAttributeDescriptions": [
                {
                    "AttributeName": "Reference-Security-Policy",
                    "AttributeValue": "ELBSecurityPolicy-TLS-1-2-2017-01",
                }
            ],
        }
    ]


def test_plain_classic_load_balancer_is_not_asked_for_policies(aws):
    aws.client("elb").create_load_balancer(
        LoadBalancerName="plain",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 25, "InstancePort": 25}],
        AvailabilityZones=["us-east-1a"],
    )
    deny(aws, "elb", "DescribeLoadBalancerPolicies")

    (classic,) = collect("elb", session=aws)

    assert "PolicyDescriptions" not in classic.config
    assert "_errors" not in classic.config


def test_denied_sub_calls_are_recorded_on_the_record(aws):
    elbv2 = aws.client("elbv2")
    arn = make_alb(aws)["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[REDIRECT],
    )
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-2016-08",
        Certificates=[{"CertificateArn": CERTIFICATE}],
        DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}
        ],
    )
    aws.client("elb").create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=["us-east-1a"],
    )
    for service, operation in [
        ("elbv2", "DescribeLoadBalancerAttributes"),
        ("elbv2", "DescribeTags"),
        ("elbv2", "DescribeRules"),
        ("elbv2", "DescribeSSLPolicies"),
        ("wafv2", "GetWebACLForResource"),
        ("elb", "DescribeLoadBalancerAttributes"),
    ]:
        deny(aws, service, operation)

    records = by_type(collect("elb", session=aws))

    (balancer,) = records[LOAD_BALANCER]
    assert set(balancer.config["_errors"]) == {"Attributes", "Tags", "WebACL"}
    assert balancer.config["_errors"]["Attributes"].startswith("access_denied")
    assert balancer.config["Attributes"] is None
    errors = {r.name: r.config.get("_errors", {}) for r in records[LISTENER]}
    assert set(errors["web HTTP:80"]) == {"Rules"}
    assert set(errors["web HTTPS:443"]) == {"SslPolicyProtocols"}
    (classic,) = records[CLASSIC]
    assert set(classic.config["_errors"]) == {"LoadBalancerAttributes"}


def test_load_balancer_deleted_after_listing_is_skipped(aws):
    make_alb(aws)
    deny(aws, "elbv2", "DescribeListeners", code="LoadBalancerNotFound")

    assert collect("elb", session=aws) == []


def test_both_listings_follow_markers(aws, monkeypatch):
    for index in range(3):
        make_alb(aws, name=f"web-{index}")
        aws.client("elb").create_load_balancer(
            LoadBalancerName=f"legacy-{index}",
            Listeners=[
                {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}
            ],
            AvailabilityZones=["us-east-1a"],
        )
    monkeypatch.setattr(ELBCollector, "page_size", 2)
    markers: list[tuple[str, str | None]] = []

    def remember(params, model, **kwargs):
        markers.append((model.service_model.service_name, params.get("Marker")))

    aws.events.register("before-parameter-build.*.DescribeLoadBalancers", remember)

    records = by_type(collect("elb", session=aws))

    assert sorted(r.name for r in records[LOAD_BALANCER]) == [
        "web-0",
        "web-1",
        "web-2",
    ]
    assert sorted(r.name for r in records[CLASSIC]) == [
        "legacy-0",
        "legacy-1",
        "legacy-2",
    ]
    # Two pages from each API: the second request carries the first's marker.
    assert len(markers) == 4
    assert [marker is None for _, marker in markers] == [True, False, True, False]


@pytest.mark.parametrize("service", ["elbv2", "elb"])
def test_denied_load_balancer_listing_raises(aws, service):
    deny(aws, service, "DescribeLoadBalancers")

    with pytest.raises(ClientError) as exc:
        collect("elb", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_denied_listener_listing_fails_the_unit(aws):
    make_alb(aws)
    deny(aws, "elbv2", "DescribeListeners")

    with pytest.raises(ClientError):
        collect("elb", session=aws)


def test_config_is_stable_for_unchanged_load_balancers(aws):
    make_alb(aws)
    aws.client("elb").create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=["us-east-1a"],
    )

    first = {r.resource_id: r.config for r in collect("elb", session=aws)}
    second = {r.resource_id: r.config for r in collect("elb", session=aws)}

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
