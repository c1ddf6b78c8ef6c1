"""Elastic Load Balancing controls: TLS at the edge, logging, protection, AZs, WAF.

The whitepaper's ELB notes: a load balancer offloads TLS, is the single point of
contact and first line of defence for an application, takes VPC security
groups and supports end-to-end TLS.

A control names one resource type, yet three rows of the reference also cover
Classic Load Balancers (Security Hub ELB.5, ELB.8 and ELB.10). Their checks
accept a Classic record as well (``CLASSIC_LOAD_BALANCER``), so the Classic
half is evaluated as soon as a control can be declared for more than one type;
until then the engine runs them on the type named here only.
"""

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

SECTION = "service/networking/elb"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
CLASSIC_LOAD_BALANCER = "AWS::ElasticLoadBalancing::LoadBalancer"

TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
CLASSIC_TLS_PROTOCOLS = frozenset({"HTTPS", "SSL"})
STRONG_TLS_VERSIONS = frozenset({"TLSv1.2", "TLSv1.3"})
# The only predefined Classic policy that accepts nothing below TLS 1.2.
CLASSIC_TLS12_POLICY = "ELBSecurityPolicy-TLS-1-2-2017-01"
RECOMMENDED_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
PREDEFINED_PREFIX = "ELBSecurityPolicy-"


def _is_classic(r: ResourceView) -> bool:
    return r.resource_type == CLASSIC_LOAD_BALANCER


def _attribute(r: ResourceView, key: str) -> bool:
    """An ALB/NLB/GWLB attribute; AWS reports "true"/"false" strings.

    An attribute missing from the answer has AWS's default, which is "false"
    for every attribute checked here.
    """
    attributes = r.field("Attributes")
    if attributes is None:
        raise NotEvaluable("load balancer attributes were not collected")
    return str(attributes.get(key, "false")).lower() == "true"


def _lb_type(r: ResourceView) -> str:
    return str(r.config.get("Type", "?"))


def _listener_label(r: ResourceView) -> str:
    return f"{r.config.get('Protocol', '?')}:{r.config.get('Port', '?')}"


# -- listeners -------------------------------------------------------------------------


def _redirect_problem(action: dict) -> str | None:
    """Why an action lets plain HTTP through (None: it redirects to HTTPS)."""
    kind = action.get("Type", "?")
    if kind != "redirect":
        return f"{kind} instead of a redirect to HTTPS"
    protocol = (action.get("RedirectConfig") or {}).get("Protocol", "#{protocol}")
    if str(protocol).upper() == "HTTPS":
        return None
    return f"redirects keeping protocol {protocol}"


@control(
    id="elb.alb.http-redirects-to-https",
    title="ALB HTTP listeners redirect to HTTPS",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=LISTENER,
    rationale=(
        "The whitepaper asks for SSL/TLS on all data in transit. An HTTP "
        "listener that serves requests instead of redirecting them sends every "
        "request and response across the internet in clear text."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the ALB → Listeners and rules → "
        "select the HTTP listener → Manage listener → Edit listener → Default "
        "action: Redirect to URL, protocol HTTPS, port 443, status 301 → Save; "
        "change every rule of the listener to the same redirect."
    ),
    remediation_cli=(
        "aws elbv2 modify-listener --listener-arn <listener-arn> "
        "--default-actions Type=redirect,RedirectConfig='{Protocol=HTTPS,"
        "Port=443,StatusCode=HTTP_301}'"
    ),
    security_hub=("ELB.1",),
)
def alb_http_redirects_to_https(r: ResourceView, ctx: Context) -> Result:
    balancer = r.config.get("LoadBalancer") or {}
    if balancer.get("Type") != "application":
        return not_applicable(
            f"listener of a {balancer.get('Type', '?')} load balancer, not an ALB"
        )
    if r.config.get("Protocol") != "HTTP":
        return not_applicable(f"{_listener_label(r)} is not a plain HTTP listener")
    problems = [
        f"default action: {problem}"
        for action in r.config.get("DefaultActions", [])
        if (problem := _redirect_problem(action))
    ]
    for rule in r.field("Rules") or []:
        if rule.get("IsDefault"):
            continue  # the default rule repeats DefaultActions
        problems.extend(
            f"rule {rule.get('Priority', '?')}: {problem}"
            for action in rule.get("Actions", [])
            if (problem := _redirect_problem(action))
        )
    if problems:
        return failed(f"{_listener_label(r)} serves plain HTTP: {'; '.join(problems)}")
    return passed(f"{_listener_label(r)} redirects every request to HTTPS")


@control(
    id="elb.clb.tls-listeners",
    title="Classic LB listeners use HTTPS or SSL",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CLASSIC_LOAD_BALANCER,
    rationale=(
        "ELB offloads TLS so clients connect over an encrypted channel. A "
        "Classic Load Balancer listener on HTTP or TCP accepts clear-text "
        "connections, and a Classic LB cannot redirect them to HTTPS."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the Classic LB → Listeners → "
        "Edit → add an HTTPS (or SSL) listener with a certificate from ACM, "
        "remove the HTTP/TCP listeners → Save. Consider migrating to an ALB, "
        "which can redirect HTTP to HTTPS."
    ),
    remediation_cli=(
        "aws elb create-load-balancer-listeners --load-balancer-name <name> "
        "--listeners Protocol=HTTPS,LoadBalancerPort=443,InstanceProtocol=HTTP,"
        "InstancePort=80,SSLCertificateId=<certificate-arn> && "
        "aws elb delete-load-balancer-listeners --load-balancer-name <name> "
        "--load-balancer-ports 80"
    ),
    security_hub=("ELB.3",),
)
def clb_tls_listeners(r: ResourceView, ctx: Context) -> Result:
    listeners = [
        d.get("Listener") or {} for d in r.config.get("ListenerDescriptions", [])
    ]
    plain = [
        f"{listener.get('Protocol', '?')}:{listener.get('LoadBalancerPort', '?')}"
        for listener in listeners
        if str(listener.get("Protocol", "")).upper() not in CLASSIC_TLS_PROTOCOLS
    ]
    if plain:
        return failed(f"listeners without TLS: {', '.join(plain)}")
    if not listeners:
        return passed("the Classic LB has no listeners")
    return passed(f"all {len(listeners)} listeners use HTTPS or SSL")


def _classic_reference(names: list[str], policies: dict[str, dict]) -> str | None:
    """The predefined policy a Classic listener's negotiation policy copies."""
    for name in names:
        if name in policies:
            attributes = {
                a.get("AttributeName"): a.get("AttributeValue")
                for a in policies[name].get("PolicyAttributeDescriptions", [])
            }
            return attributes.get("Reference-Security-Policy") or "a custom policy"
        if name.startswith(PREDEFINED_PREFIX):
            return name  # a predefined policy set on the listener by name
    return None


def _classic_policy_result(r: ResourceView) -> Result:
    policies = {p.get("PolicyName"): p for p in r.field("PolicyDescriptions") or []}
    problems, checked = [], 0
    for description in r.config.get("ListenerDescriptions", []):
        listener = description.get("Listener") or {}
        protocol = str(listener.get("Protocol", "")).upper()
        if protocol not in CLASSIC_TLS_PROTOCOLS:
            continue
        checked += 1
        label = f"{protocol}:{listener.get('LoadBalancerPort', '?')}"
        reference = _classic_reference(description.get("PolicyNames", []), policies)
        if reference is None:
            problems.append(f"{label} has no TLS negotiation policy")
        elif reference != CLASSIC_TLS12_POLICY:
            problems.append(f"{label} uses {reference}, not {CLASSIC_TLS12_POLICY}")
    if not checked:
        return not_applicable("the Classic LB has no HTTPS or SSL listener")
    if problems:
        return failed("; ".join(problems))
    return passed(f"every HTTPS/SSL listener uses {CLASSIC_TLS12_POLICY}")


@control(
    id="elb.listener.tls-policy",
    title="TLS listeners use a TLS 1.2+ security policy",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=LISTENER,
    rationale=(
        "End-to-end TLS only protects data in transit if old protocol versions "
        "are refused: a security policy that still offers TLS 1.0 or 1.1 lets "
        "a client, or an attacker downgrading it, use broken ciphers."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the load balancer → Listeners "
        "→ select the HTTPS/TLS listener → Manage listener → Edit listener → "
        f"Security policy: {RECOMMENDED_POLICY} → Save. For a Classic LB: "
        "Listeners → Edit → Cipher → Predefined security policy "
        f"{CLASSIC_TLS12_POLICY} → Save."
    ),
    remediation_cli=(
        "aws elbv2 modify-listener --listener-arn <listener-arn> "
        f"--ssl-policy {RECOMMENDED_POLICY}"
    ),
    security_hub=("ELB.17", "ELB.8"),
)
def listener_tls_policy(r: ResourceView, ctx: Context) -> Result:
    if _is_classic(r):
        return _classic_policy_result(r)
    if r.config.get("Protocol") not in TLS_PROTOCOLS:
        return not_applicable(f"{_listener_label(r)} does not terminate TLS")
    policy = r.config.get("SslPolicy") or "(none)"
    protocols = r.field("SslPolicyProtocols")
    if not protocols:
        raise NotEvaluable(f"protocols of security policy {policy} are unknown")
    weak = sorted(set(protocols) - STRONG_TLS_VERSIONS)
    if weak:
        return failed(
            f"{_listener_label(r)} security policy {policy} still offers "
            f"{', '.join(weak)}"
        )
    return passed(
        f"{_listener_label(r)} security policy {policy} offers only "
        f"{', '.join(sorted(protocols))}"
    )


# -- load balancers --------------------------------------------------------------------


@control(
    id="elb.access-logs",
    title="Load balancer access logs are enabled",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=LOAD_BALANCER,
    rationale=(
        "User-activity logging is a feature to always configure. As the single "
        "point of contact for clients, the load balancer's access log is the "
        "record of every request that reached the application."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the load balancer → Attributes "
        "→ Edit → Monitoring: turn on Access logs, choose an S3 bucket whose "
        "policy lets Elastic Load Balancing write to it → Save changes."
    ),
    remediation_cli=(
        "aws elbv2 modify-load-balancer-attributes --load-balancer-arn <lb-arn> "
        "--attributes Key=access_logs.s3.enabled,Value=true "
        "Key=access_logs.s3.bucket,Value=<log-bucket>"
    ),
    security_hub=("ELB.5",),
)
def access_logs(r: ResourceView, ctx: Context) -> Result:
    if _is_classic(r):
        attributes = r.field("LoadBalancerAttributes") or {}
        log = attributes.get("AccessLog") or {}
        if log.get("Enabled"):
            return passed(f"access logs go to s3://{log.get('S3BucketName', '?')}")
        return failed("AccessLog is disabled on the Classic LB")
    if _lb_type(r) == "gateway":
        return not_applicable("Gateway Load Balancers have no access logs")
    if _attribute(r, "access_logs.s3.enabled"):
        attributes = r.config["Attributes"]
        bucket = attributes.get("access_logs.s3.bucket") or "?"
        prefix = attributes.get("access_logs.s3.prefix") or ""
        return passed(f"access logs go to s3://{bucket}/{prefix}")
    return failed("access_logs.s3.enabled is false")


@control(
    id="elb.deletion-protection",
    title="ALB/NLB/GWLB deletion protection is on",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=LOAD_BALANCER,
    rationale=(
        "The load balancer is the application's single point of contact; "
        "deleting it by mistake takes the whole application off line and "
        "releases its DNS name. Deletion protection makes that a two-step act."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the load balancer → Attributes "
        "→ Edit → Protection: turn on Deletion protection → Save changes."
    ),
    remediation_cli=(
        "aws elbv2 modify-load-balancer-attributes --load-balancer-arn <lb-arn> "
        "--attributes Key=deletion_protection.enabled,Value=true"
    ),
    security_hub=("ELB.6",),
)
def deletion_protection(r: ResourceView, ctx: Context) -> Result:
    if _attribute(r, "deletion_protection.enabled"):
        return passed("deletion_protection.enabled is true")
    return failed("deletion_protection.enabled is false")


@control(
    id="elb.alb.drop-invalid-headers",
    title="ALBs drop invalid HTTP header fields",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=LOAD_BALANCER,
    rationale=(
        "As the first line of defence, an ALB should not forward malformed "
        "header fields to targets, where they enable HTTP desync and request "
        "smuggling attacks."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the ALB → Attributes → Edit → "
        "Packet handling: turn on Drop invalid header fields → Save changes."
    ),
    remediation_cli=(
        "aws elbv2 modify-load-balancer-attributes --load-balancer-arn <lb-arn> "
        "--attributes Key=routing.http.drop_invalid_header_fields.enabled,"
        "Value=true"
    ),
    security_hub=("ELB.4",),
)
def alb_drop_invalid_headers(r: ResourceView, ctx: Context) -> Result:
    if _lb_type(r) != "application":
        return not_applicable(f"a {_lb_type(r)} load balancer, not an ALB")
    if _attribute(r, "routing.http.drop_invalid_header_fields.enabled"):
        return passed("routing.http.drop_invalid_header_fields.enabled is true")
    return failed(
        "routing.http.drop_invalid_header_fields.enabled is false: invalid "
        "headers are forwarded to targets"
    )


@control(
    id="elb.multi-az",
    title="Load balancers span at least two AZs",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=LOAD_BALANCER,
    rationale=(
        "Spreading an application across Availability Zones makes it resilient "
        "to most failure modes; a load balancer in a single zone goes down "
        "with that zone, however many targets it has elsewhere."
    ),
    remediation=(
        "EC2 console → Load Balancers → choose the load balancer → Network "
        "mapping → Edit subnets → select a subnet in at least one more "
        "Availability Zone → Save changes."
    ),
    remediation_cli=(
        "aws elbv2 set-subnets --load-balancer-arn <lb-arn> "
        "--subnets <subnet-in-az-a> <subnet-in-az-b>"
    ),
    security_hub=("ELB.13", "ELB.10"),
)
def multi_az(r: ResourceView, ctx: Context) -> Result:
    if _is_classic(r):
        zones = sorted(set(r.config.get("AvailabilityZones", [])))
    else:
        zones = sorted(
            {z.get("ZoneName", "") for z in r.config.get("AvailabilityZones", [])}
        )
    if len(zones) >= 2:
        return passed(f"spans {len(zones)} AZs: {', '.join(zones)}")
    return failed(f"runs in one AZ only: {', '.join(zones) or 'none'}")


@control(
    id="elb.alb.waf-attached",
    title="Internet-facing ALBs have an AWS WAF web ACL",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=LOAD_BALANCER,
    rationale=(
        "An internet-facing ALB is the first line of defence for the "
        "application behind it; a WAF web ACL filters common exploits (SQL "
        "injection, cross-site scripting, bad bots) before they reach targets."
    ),
    remediation=(
        "WAF & Shield console → Web ACLs (the ALB's region) → choose or create "
        "a web ACL → Associated AWS resources → Add AWS resources → "
        "Application Load Balancer → select the ALB → Add."
    ),
    remediation_cli=(
        "aws wafv2 associate-web-acl --web-acl-arn <web-acl-arn> "
        "--resource-arn <lb-arn>"
    ),
    security_hub=("ELB.16*",),
)
def alb_waf_attached(r: ResourceView, ctx: Context) -> Result:
    if _lb_type(r) != "application":
        return not_applicable(f"a {_lb_type(r)} load balancer, not an ALB")
    # AWS always names the scheme; internet-facing is its default.
    if (r.config.get("Scheme") or "internet-facing") != "internet-facing":
        return not_applicable("internal ALB, not reachable from the internet")
    acl = r.field("WebACL")
    if acl:
        return passed(f"protected by web ACL {acl.get('Name') or acl.get('ARN')}")
    return failed("internet-facing ALB has no AWS WAF web ACL")
