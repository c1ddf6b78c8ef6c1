"""ELB controls, evaluated on what the real collector reads from moto.

Three controls also cover Classic Load Balancers, a second resource type the
engine cannot yet route to them (see findings/controls/elb.py); their Classic
half is exercised by evaluating the control directly on Classic records.
"""

from datetime import UTC, datetime

import pytest

from findings.controls import REGISTRY
from findings.controls.base import ResourceView, Severity, StaticContext, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate, view

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
CLASSIC = "AWS::ElasticLoadBalancing::LoadBalancer"
CERTIFICATE = f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/edge"
REDIRECT = {
    "Type": "redirect",
    "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
}
REFERENCE = "Reference-Security-Policy"
TLS12 = "ELBSecurityPolicy-TLS-1-2-2017-01"
OLD = "ELBSecurityPolicy-2016-08"
OK_RESPONSE = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}

CATALOG = [
    # id, severity, resource type, Security Hub
    ("elb.alb.http-redirects-to-https", Severity.MEDIUM, LISTENER, ("ELB.1",)),
    ("elb.clb.tls-listeners", Severity.MEDIUM, CLASSIC, ("ELB.3",)),
    ("elb.listener.tls-policy", Severity.HIGH, LISTENER, ("ELB.17", "ELB.8")),
    ("elb.access-logs", Severity.MEDIUM, LOAD_BALANCER, ("ELB.5",)),
    ("elb.deletion-protection", Severity.LOW, LOAD_BALANCER, ("ELB.6",)),
    ("elb.alb.drop-invalid-headers", Severity.MEDIUM, LOAD_BALANCER, ("ELB.4",)),
    ("elb.multi-az", Severity.MEDIUM, LOAD_BALANCER, ("ELB.13", "ELB.10")),
    ("elb.alb.waf-attached", Severity.MEDIUM, LOAD_BALANCER, ("ELB.16*",)),
]


@pytest.mark.parametrize(("control_id", "severity", "rtype", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, rtype, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/networking/elb"
    assert ctl.severity == severity
    assert ctl.resource_type == rtype
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale and ctl.remediation
    assert ctl.remediation_cli.startswith("aws ")


def test_no_load_balancers_means_no_findings(aws):
    records = collect("elb", session=aws)
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, records) == {}


# -- helpers ---------------------------------------------------------------------------


def subnets(aws, count: int = 2) -> list[str]:
    found = aws.client("ec2").describe_subnets()["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in found}
    return [by_zone[zone] for zone in sorted(by_zone)[:count]]


def make_lb(aws, name="web", kind="application", zones=2, **kwargs) -> str:
    kwargs.setdefault("Scheme", "internet-facing")
    return aws.client("elbv2").create_load_balancer(
        Name=name, Subnets=subnets(aws, zones), Type=kind, **kwargs
    )["LoadBalancers"][0]["LoadBalancerArn"]


def set_attribute(aws, arn: str, key: str, value: str = "true") -> None:
    aws.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": key, "Value": value}]
    )


def add_listener(aws, arn: str, protocol="HTTP", port=80, actions=None, **kw) -> str:
    if protocol in ("HTTPS", "TLS"):
        kw.setdefault("Certificates", [{"CertificateArn": CERTIFICATE}])
    return aws.client("elbv2").create_listener(
        LoadBalancerArn=arn,
        Protocol=protocol,
        Port=port,
        DefaultActions=actions or [OK_RESPONSE],
        **kw,
    )["Listeners"][0]["ListenerArn"]


def target_group(aws, arn: str, protocol="HTTP", port=80) -> str:
    elbv2 = aws.client("elbv2")
    vpc = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    return elbv2.create_target_group(
        Name=f"tg-{protocol.lower()}-{port}",
        Protocol=protocol,
        Port=port,
        VpcId=vpc["VpcId"],
    )["TargetGroups"][0]["TargetGroupArn"]


def make_classic(aws, listeners, zones=("us-east-1a", "us-east-1b")) -> None:
    aws.client("elb").create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[
            {
                "Protocol": protocol,
                "LoadBalancerPort": port,
                "InstancePort": 80,
                **({"SSLCertificateId": CERTIFICATE} if protocol == "HTTPS" else {}),
            }
            for protocol, port in listeners
        ],
        AvailabilityZones=list(zones),
    )


def set_classic_policy(aws, attribute: str, value: str) -> None:
    elb = aws.client("elb")
    elb.create_load_balancer_policy(
        LoadBalancerName="legacy",
        PolicyName="negotiation",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": attribute, "AttributeValue": value}],
    )
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName="legacy", LoadBalancerPort=443, PolicyNames=["negotiation"]
    )


def check(aws, control_id: str, resource_id: str):
    return evaluate(control_id, collect("elb", session=aws))[resource_id]


def run_on(control_id: str, resource: ResourceView):
    """The control's check on one resource, as the engine runs it."""
    ctx = StaticContext(
        account_id=ACCOUNT_ID, now=datetime.now(UTC), regions=["us-east-1"]
    )
    return REGISTRY[control_id].evaluate(resource, ctx)


def check_classic(aws, control_id: str):
    """The control's check on the Classic LB collected from moto."""
    records = collect("elb", session=aws)
    (classic,) = [view(r) for r in records if r.resource_type == CLASSIC]
    return run_on(control_id, classic)


# -- elb.alb.http-redirects-to-https ---------------------------------------------------

REDIRECTS = "elb.alb.http-redirects-to-https"


def test_http_listener_redirecting_to_https_passes(aws):
    listener = add_listener(aws, make_lb(aws), actions=[REDIRECT])
    result = check(aws, REDIRECTS, listener)
    assert result.status == Status.PASS
    assert result.reason == "HTTP:80 redirects every request to HTTPS"


def test_http_listener_forwarding_fails(aws):
    arn = make_lb(aws)
    forward = {"Type": "forward", "TargetGroupArn": target_group(aws, arn)}
    listener = add_listener(aws, arn, actions=[forward])
    result = check(aws, REDIRECTS, listener)
    assert result.status == Status.FAIL
    assert result.reason == (
        "HTTP:80 serves plain HTTP: default action: forward instead of a "
        "redirect to HTTPS"
    )


def test_rule_serving_plain_http_fails(aws):
    arn = make_lb(aws)
    listener = add_listener(aws, arn, actions=[REDIRECT])
    aws.client("elbv2").create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/health"]}],
        Actions=[OK_RESPONSE],
    )
    result = check(aws, REDIRECTS, listener)
    assert result.status == Status.FAIL
    assert "rule 10: fixed-response instead of a redirect" in result.reason


def test_redirect_keeping_the_protocol_fails(aws):
    keep = {
        "Type": "redirect",
        "RedirectConfig": {"Host": "www.example.com", "StatusCode": "HTTP_301"},
    }
    listener = add_listener(aws, make_lb(aws), actions=[keep])
    result = check(aws, REDIRECTS, listener)
    assert result.status == Status.FAIL
    assert "redirects keeping protocol" in result.reason


def test_https_listener_and_nlb_listener_are_not_applicable(aws):
    https = add_listener(aws, make_lb(aws), protocol="HTTPS", port=443)
    nlb = make_lb(aws, name="net", kind="network")
    tcp = add_listener(
        aws,
        nlb,
        protocol="TCP",
        actions=[{"Type": "forward", "TargetGroupArn": target_group(aws, nlb, "TCP")}],
    )
    results = evaluate(REDIRECTS, collect("elb", session=aws))
    assert results[https].status == Status.NOT_APPLICABLE
    assert results[tcp].status == Status.NOT_APPLICABLE
    assert "network load balancer" in results[tcp].reason


def test_denied_rules_are_an_error(aws):
    listener = add_listener(aws, make_lb(aws), actions=[REDIRECT])
    deny(aws, "elbv2", "DescribeRules")
    assert check(aws, REDIRECTS, listener).status == Status.ERROR


# -- elb.clb.tls-listeners -------------------------------------------------------------


def test_classic_lb_with_only_tls_listeners_passes(aws):
    make_classic(aws, [("HTTPS", 443), ("SSL", 8443)])
    result = check(aws, "elb.clb.tls-listeners", "legacy")
    assert result.status == Status.PASS
    assert result.reason == "all 2 listeners use HTTPS or SSL"


def test_classic_lb_with_http_listener_fails(aws):
    make_classic(aws, [("HTTP", 80), ("HTTPS", 443), ("TCP", 25)])
    result = check(aws, "elb.clb.tls-listeners", "legacy")
    assert result.status == Status.FAIL
    assert result.reason == "listeners without TLS: HTTP:80, TCP:25"


# -- elb.listener.tls-policy -----------------------------------------------------------

TLS_POLICY = "elb.listener.tls-policy"


def test_tls13_policy_passes(aws):
    listener = add_listener(
        aws,
        make_lb(aws),
        protocol="HTTPS",
        port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
    )
    result = check(aws, TLS_POLICY, listener)
    assert result.status == Status.PASS
    assert result.reason == (
        "HTTPS:443 security policy ELBSecurityPolicy-TLS13-1-2-2021-06 offers "
        "only TLSv1.2, TLSv1.3"
    )


def test_policy_offering_tls10_fails_on_an_nlb_tls_listener(aws):
    nlb = make_lb(aws, name="net", kind="network")
    listener = add_listener(
        aws,
        nlb,
        protocol="TLS",
        port=443,
        SslPolicy="ELBSecurityPolicy-2016-08",
        actions=[{"Type": "forward", "TargetGroupArn": target_group(aws, nlb, "TCP")}],
    )
    result = check(aws, TLS_POLICY, listener)
    assert result.status == Status.FAIL
    assert result.reason == (
        "TLS:443 security policy ELBSecurityPolicy-2016-08 still offers TLSv1, TLSv1.1"
    )


def test_plain_http_listener_is_not_applicable_to_tls_policy(aws):
    listener = add_listener(aws, make_lb(aws))
    assert check(aws, TLS_POLICY, listener).status == Status.NOT_APPLICABLE


def test_denied_ssl_policies_are_an_error(aws):
    listener = add_listener(
        aws,
        make_lb(aws),
        protocol="HTTPS",
        port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
    )
    deny(aws, "elbv2", "DescribeSSLPolicies")
    assert check(aws, TLS_POLICY, listener).status == Status.ERROR


@pytest.mark.parametrize(
    ("attribute", "value", "status", "reason"),
    [
        (REFERENCE, TLS12, Status.PASS, f"every HTTPS/SSL listener uses {TLS12}"),
        (REFERENCE, OLD, Status.FAIL, f"HTTPS:443 uses {OLD}, not {TLS12}"),
        (
            "Protocol-TLSv1.2",
            "true",
            Status.FAIL,
            f"HTTPS:443 uses a custom policy, not {TLS12}",
        ),
    ],
)
def test_classic_negotiation_policy(aws, attribute, value, status, reason):
    make_classic(aws, [("HTTPS", 443)])
    set_classic_policy(aws, attribute, value)
    result = check_classic(aws, TLS_POLICY)
    assert (result.status, result.reason) == (status, reason)


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        ("ELBSecurityPolicy-TLS-1-2-2017-01", Status.PASS),
        ("ELBSecurityPolicy-2016-08", Status.FAIL),
    ],
)
def test_classic_predefined_policy_named_on_the_listener(policy, status):
    # AWS lets a listener name a predefined policy directly; it is then not
    # among the load balancer's own policy descriptions.
    classic = ResourceView(
        account_id=ACCOUNT_ID,
        region="us-east-1",
        resource_type=CLASSIC,
        resource_id="legacy",
        config={
            "LoadBalancerName": "legacy",
            "ListenerDescriptions": [
                {
                    "Listener": {
                        "Protocol": "HTTPS",
                        "LoadBalancerPort": 443,
                        "InstanceProtocol": "HTTP",
                        "InstancePort": 80,
                        "SSLCertificateId": CERTIFICATE,
                    },
                    "PolicyNames": ["AWSConsole-LBCookieStickinessPolicy-1", policy],
                }
            ],
            "PolicyDescriptions": [],
        },
    )
    assert run_on(TLS_POLICY, classic).status == status


def test_classic_listener_without_negotiation_policy_fails(aws):
    make_classic(aws, [("HTTPS", 443)])
    result = check_classic(aws, TLS_POLICY)
    assert result.status == Status.FAIL
    assert result.reason == "HTTPS:443 has no TLS negotiation policy"


def test_classic_without_tls_listener_is_not_applicable(aws):
    make_classic(aws, [("HTTP", 80)])
    assert check_classic(aws, TLS_POLICY).status == Status.NOT_APPLICABLE


def test_classic_denied_policies_are_an_error(aws):
    make_classic(aws, [("HTTPS", 443)])
    deny(aws, "elb", "DescribeLoadBalancerPolicies")
    assert check_classic(aws, TLS_POLICY).status == Status.ERROR


# -- elb.access-logs -------------------------------------------------------------------


def test_access_logs_on_passes(aws):
    arn = make_lb(aws)
    aws.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": "lb-logs"},
            {"Key": "access_logs.s3.prefix", "Value": "web"},
        ],
    )
    result = check(aws, "elb.access-logs", arn)
    assert result.status == Status.PASS
    assert result.reason == "access logs go to s3://lb-logs/web"


def test_access_logs_default_off_fails(aws):
    arn = make_lb(aws)
    result = check(aws, "elb.access-logs", arn)
    assert result.status == Status.FAIL
    assert result.reason == "access_logs.s3.enabled is false"


def test_gateway_lb_is_not_applicable_to_access_logs(aws):
    arn = aws.client("elbv2").create_load_balancer(
        Name="gwlb", Subnets=subnets(aws, 1), Type="gateway"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    assert check(aws, "elb.access-logs", arn).status == Status.NOT_APPLICABLE


def test_denied_attributes_are_an_error_for_every_attribute_control(aws):
    arn = make_lb(aws)
    deny(aws, "elbv2", "DescribeLoadBalancerAttributes")
    records = collect("elb", session=aws)
    for control_id in (
        "elb.access-logs",
        "elb.deletion-protection",
        "elb.alb.drop-invalid-headers",
    ):
        result = evaluate(control_id, records)[arn]
        assert result.status == Status.ERROR, control_id
        assert "Attributes could not be read (access_denied" in result.reason


def test_classic_access_logs(aws):
    make_classic(aws, [("HTTPS", 443)])
    assert check_classic(aws, "elb.access-logs").status == Status.FAIL
    aws.client("elb").modify_load_balancer_attributes(
        LoadBalancerName="legacy",
        LoadBalancerAttributes={
            "AccessLog": {"Enabled": True, "S3BucketName": "lb-logs"}
        },
    )
    result = check_classic(aws, "elb.access-logs")
    assert result.status == Status.PASS
    assert result.reason == "access logs go to s3://lb-logs"
    deny(aws, "elb", "DescribeLoadBalancerAttributes")
    assert check_classic(aws, "elb.access-logs").status == Status.ERROR


# -- elb.deletion-protection and elb.alb.drop-invalid-headers --------------------------


def test_deletion_protection(aws):
    arn = make_lb(aws)
    assert check(aws, "elb.deletion-protection", arn).status == Status.FAIL
    set_attribute(aws, arn, "deletion_protection.enabled")
    assert check(aws, "elb.deletion-protection", arn).status == Status.PASS


def test_drop_invalid_headers(aws):
    arn = make_lb(aws)
    result = check(aws, "elb.alb.drop-invalid-headers", arn)
    assert result.status == Status.FAIL
    assert "invalid headers are forwarded" in result.reason
    set_attribute(aws, arn, "routing.http.drop_invalid_header_fields.enabled")
    assert check(aws, "elb.alb.drop-invalid-headers", arn).status == Status.PASS


def test_drop_invalid_headers_is_not_applicable_to_an_nlb(aws):
    arn = make_lb(aws, name="net", kind="network")
    result = check(aws, "elb.alb.drop-invalid-headers", arn)
    assert result.status == Status.NOT_APPLICABLE


# -- elb.multi-az ----------------------------------------------------------------------


def test_load_balancer_in_two_zones_passes(aws):
    arn = make_lb(aws)
    result = check(aws, "elb.multi-az", arn)
    assert result.status == Status.PASS
    assert result.reason == "spans 2 AZs: us-east-1a, us-east-1b"


def test_load_balancer_in_one_zone_fails(aws):
    arn = make_lb(aws, name="net", kind="network", zones=1)
    result = check(aws, "elb.multi-az", arn)
    assert result.status == Status.FAIL
    assert result.reason == "runs in one AZ only: us-east-1a"


@pytest.mark.parametrize(
    ("zones", "status"),
    [(("us-east-1a",), Status.FAIL), (("us-east-1a", "us-east-1b"), Status.PASS)],
)
def test_classic_multi_az(aws, zones, status):
    make_classic(aws, [("HTTPS", 443)], zones=zones)
    assert check_classic(aws, "elb.multi-az").status == status


# -- elb.alb.waf-attached --------------------------------------------------------------

WAF = "elb.alb.waf-attached"


def attach_web_acl(aws, arn: str) -> None:
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


def test_alb_with_web_acl_passes(aws):
    arn = make_lb(aws)
    attach_web_acl(aws, arn)
    result = check(aws, WAF, arn)
    assert result.status == Status.PASS
    assert result.reason == "protected by web ACL edge-acl"


def test_alb_without_web_acl_fails(aws):
    arn = make_lb(aws)
    result = check(aws, WAF, arn)
    assert result.status == Status.FAIL


def test_alb_without_a_reported_scheme_counts_as_internet_facing(aws):
    # AWS always reports Scheme (default internet-facing); moto omits it.
    created = aws.client("elbv2").create_load_balancer(Name="web", Subnets=subnets(aws))
    arn = created["LoadBalancers"][0]["LoadBalancerArn"]
    assert check(aws, WAF, arn).status == Status.FAIL


def test_internal_alb_and_nlb_are_not_applicable_to_waf(aws):
    internal = make_lb(aws, name="inside", Scheme="internal")
    nlb = make_lb(aws, name="net", kind="network")
    results = evaluate(WAF, collect("elb", session=aws))
    assert results[internal].status == Status.NOT_APPLICABLE
    assert results[nlb].status == Status.NOT_APPLICABLE


def test_denied_web_acl_lookup_is_an_error(aws):
    arn = make_lb(aws)
    attach_web_acl(aws, arn)
    deny(aws, "wafv2", "GetWebACLForResource")
    assert check(aws, WAF, arn).status == Status.ERROR
