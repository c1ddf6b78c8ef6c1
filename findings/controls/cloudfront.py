"""Amazon CloudFront controls: TLS to viewers and origins, WAF, logs, S3 origins.

The whitepaper's CloudFront notes: content is delivered with low latency from
edge locations, and AWS gives no durability guarantee for data held at the
edge. The customer's side is how viewers and origins are reached: over TLS,
behind WAF, logged, and with S3 buckets reachable only through CloudFront.
"""

import re

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

SECTION = "service/networking/cloudfront"
DISTRIBUTION = "AWS::CloudFront::Distribution"

HTTPS_VIEWER_POLICIES = frozenset({"https-only", "redirect-to-https"})
# TLSv1.2_2021 and every later TLS 1.2 policy, and all TLS 1.3 ones.
TLS_POLICY = re.compile(r"^TLSv(?P<version>\d\.\d)_(?P<year>\d{4})$")
MIN_TLS12_YEAR = 2021
RECOMMENDED_TLS_POLICY = "TLSv1.2_2021"


def _items(container: dict | None) -> list:
    """CloudFront's {"Quantity": n, "Items": [...]} lists."""
    return list((container or {}).get("Items") or [])


def _behaviors(r: ResourceView) -> list[tuple[str, dict]]:
    """(path pattern, behavior) for the default and every other behavior."""
    default = r.config.get("DefaultCacheBehavior") or {}
    others = _items(r.config.get("CacheBehaviors"))
    return [("default (*)", default)] + [(b.get("PathPattern", "?"), b) for b in others]


def _origins(r: ResourceView) -> dict[str, dict]:
    return {o.get("Id", ""): o for o in _items(r.config.get("Origins"))}


@control(
    id="cloudfront.viewer-https-only",
    title="Distributions require HTTPS from viewers",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DISTRIBUTION,
    rationale=(
        "The whitepaper asks for SSL/TLS on all data in transit. A cache "
        "behavior that allows HTTP serves content, cookies and tokens to "
        "viewers in clear text, open to reading and tampering on the way."
    ),
    remediation=(
        "CloudFront console → choose the distribution → Behaviors → select "
        "each behavior with HTTP and HTTPS → Edit → Viewer protocol policy: "
        "Redirect HTTP to HTTPS (or HTTPS only) → Save changes."
    ),
    remediation_cli=(
        "aws cloudfront get-distribution-config --id <distribution-id> "
        "> dist.json  # set every ViewerProtocolPolicy to redirect-to-https, "
        "then: aws cloudfront update-distribution --id <distribution-id> "
        "--if-match <etag> --distribution-config file://config.json"
    ),
    security_hub=("CloudFront.3",),
)
def viewer_https_only(r: ResourceView, ctx: Context) -> Result:
    plain = [
        path
        for path, behavior in _behaviors(r)
        if behavior.get("ViewerProtocolPolicy") not in HTTPS_VIEWER_POLICIES
    ]
    if plain:
        return failed(f"cache behaviors allow plain HTTP: {', '.join(plain)}")
    return passed("every cache behavior requires or redirects to HTTPS")


def _policy_is_current(version: str) -> bool:
    match = TLS_POLICY.match(version)
    if not match:
        return False  # SSLv3, TLSv1, TLSv1_2016 …
    if match["version"] > "1.2":
        return True
    return match["version"] == "1.2" and int(match["year"]) >= MIN_TLS12_YEAR


@control(
    id="cloudfront.tls-min-version",
    title="Distributions use a TLS 1.2 minimum policy",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DISTRIBUTION,
    rationale=(
        "The security policy sets the oldest protocol and weakest ciphers "
        "CloudFront negotiates with viewers; policies older than TLSv1.2_2021 "
        "still accept TLS 1.0/1.1 or CBC ciphers that no longer protect data "
        "in transit."
    ),
    remediation=(
        "CloudFront console → choose the distribution → General → Settings → "
        "Edit → Security policy: TLSv1.2_2021 (recommended) → Save changes. "
        "This needs a custom SSL certificate (ACM, us-east-1) and alternate "
        "domain names."
    ),
    remediation_cli=(
        "aws cloudfront get-distribution-config --id <distribution-id> "
        "> dist.json  # set ViewerCertificate.MinimumProtocolVersion to "
        "TLSv1.2_2021, then: aws cloudfront update-distribution --id "
        "<distribution-id> --if-match <etag> --distribution-config "
        "file://config.json"
    ),
    security_hub=("CloudFront.15",),
)
def tls_min_version(r: ResourceView, ctx: Context) -> Result:
    certificate = r.config.get("ViewerCertificate") or {}
    custom = certificate.get("ACMCertificateArn") or certificate.get("IAMCertificateId")
    if not custom:
        # CloudFront fixes the policy of its own certificate (TLSv1, every
        # viewer accepted): there is no setting to judge.
        raise NotEvaluable(
            "the distribution uses the default *.cloudfront.net certificate, "
            "whose minimum TLS version cannot be set"
        )
    version = str(certificate.get("MinimumProtocolVersion") or "unset")
    if _policy_is_current(version):
        return passed(f"MinimumProtocolVersion is {version}")
    return failed(
        f"MinimumProtocolVersion is {version}, older than {RECOMMENDED_TLS_POLICY}"
    )


@control(
    id="cloudfront.waf-attached",
    title="Distributions are protected by AWS WAF",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DISTRIBUTION,
    rationale=(
        "A distribution is the internet-facing front door of its origins; an "
        "AWS WAF web ACL filters common exploits and abusive clients at the "
        "edge, before they reach the origin."
    ),
    remediation=(
        "CloudFront console → choose the distribution → General → Settings → "
        "Edit → AWS WAF web ACL: choose a web ACL (scope CloudFront, created "
        "in us-east-1) or enable security protections → Save changes."
    ),
    remediation_cli=(
        "aws cloudfront get-distribution-config --id <distribution-id> "
        "> dist.json  # set WebACLId to the web ACL ARN, then: aws cloudfront "
        "update-distribution --id <distribution-id> --if-match <etag> "
        "--distribution-config file://config.json"
    ),
    security_hub=("CloudFront.6",),
)
def waf_attached(r: ResourceView, ctx: Context) -> Result:
    acl = str(r.config.get("WebACLId") or "")
    if acl:
        # WAFv2 gives an ARN (…/webacl/<name>/<id>), WAF Classic a bare id.
        parts = acl.split("/")
        name = parts[-2] if acl.startswith("arn:") and len(parts) >= 3 else acl
        return passed(f"protected by web ACL {name}")
    return failed("no AWS WAF web ACL is associated")


@control(
    id="cloudfront.logging-enabled",
    title="Distributions have access logging",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DISTRIBUTION,
    rationale=(
        "User-activity logging is a feature to always configure. Access logs "
        "record every viewer request the edge served, which neither the "
        "origin's logs nor CloudTrail see."
    ),
    remediation=(
        "CloudFront console → choose the distribution → Logging → Add → "
        "Amazon S3 (legacy standard logging: General → Settings → Edit → "
        "Standard logging On, choose the log bucket) → Save changes."
    ),
    remediation_cli=(
        "aws cloudfront get-distribution-config --id <distribution-id> "
        "> dist.json  # set Logging {Enabled: true, Bucket: "
        "<bucket>.s3.amazonaws.com, Prefix: <prefix>}, then: aws cloudfront "
        "update-distribution --id <distribution-id> --if-match <etag> "
        "--distribution-config file://config.json"
    ),
    security_hub=("CloudFront.5",),
)
def logging_enabled(r: ResourceView, ctx: Context) -> Result:
    logging = r.field("Logging") or {}
    if logging.get("Enabled"):
        bucket = str(logging.get("Bucket") or "?").removesuffix(".s3.amazonaws.com")
        return passed(f"access logs go to s3://{bucket}/{logging.get('Prefix', '')}")
    return failed("standard access logging is off")


@control(
    id="cloudfront.s3-origin-access-control",
    title="S3 origins are reachable only through CloudFront (OAC/OAI)",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DISTRIBUTION,
    rationale=(
        "S3 is restricted by default; an S3 origin without origin access "
        "control can only be served if the bucket is public, which lets "
        "anyone bypass CloudFront's TLS, WAF and geo restrictions."
    ),
    remediation=(
        "CloudFront console → choose the distribution → Origins → select the "
        "S3 origin → Edit → Origin access: Origin access control settings → "
        "create or choose a control → Save; then copy the suggested bucket "
        "policy into the bucket and remove its public access."
    ),
    remediation_cli=(
        "aws cloudfront create-origin-access-control "
        "--origin-access-control-config Name=<name>,SigningProtocol=sigv4,"
        "SigningBehavior=always,OriginAccessControlOriginType=s3  # then set "
        "OriginAccessControlId on the origin with update-distribution"
    ),
    security_hub=("CloudFront.13",),
)
def s3_origin_access_control(r: ResourceView, ctx: Context) -> Result:
    origins = _origins(r)
    rest = {
        origin_id: spec
        for origin_id, spec in (r.config.get("S3Origins") or {}).items()
        if spec.get("Endpoint") == "rest"
    }
    if not rest:
        return not_applicable("no origin is an S3 REST endpoint")
    open_origins, legacy = [], []
    for origin_id, spec in rest.items():
        origin = origins.get(origin_id) or {}
        if origin.get("OriginAccessControlId"):
            continue
        if (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity"):
            legacy.append(origin_id)
            continue
        open_origins.append(f"{origin_id} (bucket {spec.get('Bucket')})")
    if open_origins:
        return failed(
            "S3 origins without origin access control, so the bucket must be "
            f"public: {', '.join(open_origins)}"
        )
    if legacy:
        return passed(
            "S3 origins use an origin access identity (legacy OAI; migrate to "
            f"OAC): {', '.join(legacy)}"
        )
    return passed(f"all {len(rest)} S3 origins use origin access control")


def _custom_origin_problems(r: ResourceView, origin_id: str, custom: dict) -> list:
    problems = []
    policy = custom.get("OriginProtocolPolicy", "?")
    if policy == "match-viewer":
        plain = [
            path
            for path, behavior in _behaviors(r)
            if behavior.get("TargetOriginId") == origin_id
            and behavior.get("ViewerProtocolPolicy") not in HTTPS_VIEWER_POLICIES
        ]
        if plain:
            problems.append(
                f"match-viewer passes plain HTTP on through {', '.join(plain)}"
            )
    elif policy != "https-only":
        problems.append(f"OriginProtocolPolicy is {policy}")
    if "SSLv3" in _items(custom.get("OriginSslProtocols")):
        problems.append("OriginSslProtocols include SSLv3")
    return problems


@control(
    id="cloudfront.custom-origin-tls",
    title="Traffic to custom origins is encrypted",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DISTRIBUTION,
    rationale=(
        "Data in transit should be encrypted on every leg: between edge "
        "locations and a custom origin it crosses the internet, so it needs "
        "HTTPS, and SSLv3 no longer protects it."
    ),
    remediation=(
        "CloudFront console → choose the distribution → Origins → select the "
        "custom origin → Edit → Protocol: HTTPS only, Minimum origin SSL "
        "protocol: TLSv1.2 → Save changes."
    ),
    remediation_cli=(
        "aws cloudfront get-distribution-config --id <distribution-id> "
        "> dist.json  # set OriginProtocolPolicy to https-only and "
        "OriginSslProtocols to [TLSv1.2], then: aws cloudfront "
        "update-distribution --id <distribution-id> --if-match <etag> "
        "--distribution-config file://config.json"
    ),
    security_hub=("CloudFront.9", "CloudFront.10"),
)
def custom_origin_tls(r: ResourceView, ctx: Context) -> Result:
    custom = {
        origin_id: origin["CustomOriginConfig"]
        for origin_id, origin in _origins(r).items()
        if origin.get("CustomOriginConfig")
    }
    if not custom:
        return not_applicable("the distribution has no custom origin")
    problems = [
        f"{origin_id}: {problem}"
        for origin_id, config in custom.items()
        for problem in _custom_origin_problems(r, origin_id, config)
    ]
    if problems:
        return failed("; ".join(problems))
    return passed(f"all {len(custom)} custom origins are reached over TLS")


@control(
    id="cloudfront.s3-origin-exists",
    title="S3 origins point to existing buckets",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DISTRIBUTION,
    rationale=(
        "An S3 origin whose bucket was deleted leaves its name free: anyone "
        "who creates a bucket of that name serves their content under the "
        "organisation's domain."
    ),
    remediation=(
        "CloudFront console → choose the distribution → Origins → select the "
        "origin whose bucket is gone → Edit → choose an existing bucket you "
        "own (or delete the origin and its behaviors) → Save changes."
    ),
    remediation_cli=(
        "aws s3api create-bucket --bucket <origin-bucket>  # re-claim the name, "
        "or point the origin elsewhere with aws cloudfront update-distribution"
    ),
    security_hub=("CloudFront.12",),
)
def s3_origin_exists(r: ResourceView, ctx: Context) -> Result:
    origins = r.config.get("S3Origins") or {}
    if not origins:
        return not_applicable("the distribution has no S3 origin")
    statuses = r.field("OriginBuckets") or {}
    missing, unreadable = [], []
    for origin_id, spec in origins.items():
        bucket = spec.get("Bucket", "?")
        status = statuses.get(bucket)
        if status == "missing":
            missing.append(f"{origin_id} → {bucket}")
        elif status == "forbidden":
            unreadable.append(bucket)
        elif status != "found":
            raise NotEvaluable(f"whether bucket {bucket} exists is unknown")
    if missing:
        return failed(f"origin buckets do not exist: {', '.join(missing)}")
    if unreadable:
        return passed(
            f"origin buckets exist, but {', '.join(unreadable)} answered 403 "
            "(another account's bucket, or the scanner may not read it): "
            "confirm it is yours"
        )
    return passed(f"all {len(origins)} S3 origin buckets exist")
