"""CloudFront controls, evaluated on what the real collector reads from moto.

moto drops two things AWS returns in ListDistributions: an origin's
S3OriginConfig and its OriginAccessControlId. The origin-access tests
therefore serve moto's own listing with those fields put back, shaped as AWS
documents them, through a botocore hook.
"""

import copy

import pytest
from botocore.awsrequest import AWSResponse

from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import collect, deny, evaluate

DISTRIBUTION = "AWS::CloudFront::Distribution"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ACM = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"
OAI = "origin-access-identity/cloudfront/E74FTE3AJFJ256A"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge-acl/0a1b2c3d"

CATALOG = [
    # id, severity, Security Hub
    ("cloudfront.viewer-https-only", Severity.MEDIUM, ("CloudFront.3",)),
    ("cloudfront.tls-min-version", Severity.MEDIUM, ("CloudFront.15",)),
    ("cloudfront.waf-attached", Severity.MEDIUM, ("CloudFront.6",)),
    ("cloudfront.logging-enabled", Severity.MEDIUM, ("CloudFront.5",)),
    ("cloudfront.s3-origin-access-control", Severity.HIGH, ("CloudFront.13",)),
    (
        "cloudfront.custom-origin-tls",
        Severity.MEDIUM,
        ("CloudFront.9", "CloudFront.10"),
    ),
    ("cloudfront.s3-origin-exists", Severity.HIGH, ("CloudFront.12",)),
]


@pytest.mark.parametrize(("control_id", "severity", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/networking/cloudfront"
    assert ctl.severity == severity
    assert ctl.resource_type == DISTRIBUTION
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale and ctl.remediation
    assert ctl.remediation_cli.startswith("aws ")


def test_no_distributions_means_no_findings(aws):
    records = collect("cloudfront", session=aws)
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, records) == {}


# -- helpers ---------------------------------------------------------------------------


def custom(
    origin_id="app",
    domain="app.example.com",
    policy="https-only",
    protocols=("TLSv1.2",),
) -> dict:
    return {
        "Id": origin_id,
        "DomainName": domain,
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": policy,
            "OriginSslProtocols": {
                "Quantity": len(protocols),
                "Items": list(protocols),
            },
        },
    }


def bucket_origin(origin_id="assets", bucket="assets") -> dict:
    return {
        "Id": origin_id,
        "DomainName": f"{bucket}.s3.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }


def behavior(path: str, origin: str, viewer: str = "redirect-to-https") -> dict:
    return {
        "PathPattern": path,
        "TargetOriginId": origin,
        "ViewerProtocolPolicy": viewer,
        "CachePolicyId": CACHING_OPTIMIZED,
    }


def make_distribution(
    aws, *origins, viewer="redirect-to-https", behaviors=(), **config
) -> str:
    origins = origins or (custom(),)
    distribution = {
        "CallerReference": "site",
        "Comment": "site",
        "Enabled": True,
        "Origins": {"Quantity": len(origins), "Items": list(origins)},
        "DefaultCacheBehavior": {
            "TargetOriginId": origins[0]["Id"],
            "ViewerProtocolPolicy": viewer,
            "CachePolicyId": CACHING_OPTIMIZED,
        },
        **config,
    }
    if behaviors:
        distribution["CacheBehaviors"] = {
            "Quantity": len(behaviors),
            "Items": list(behaviors),
        }
    return aws.client("cloudfront").create_distribution(
        DistributionConfig=distribution
    )["Distribution"]["Id"]


def serve_origins_as_aws(aws, **origin_fields: dict) -> None:
    """Answer ListDistributions with moto's listing plus the origin fields
    moto drops (``origin id -> fields``), as AWS returns them."""
    listing = aws.client("cloudfront").list_distributions()["DistributionList"]
    listing = copy.deepcopy(listing)
    for item in listing["Items"]:
        for origin in item["Origins"]["Items"]:
            origin.update(origin_fields.get(origin["Id"], {}))

    def answer(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {
            "DistributionList": listing,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    aws.events.register("before-call.cloudfront.ListDistributions", answer)


def check(aws, control_id: str, identifier: str):
    return evaluate(control_id, collect("cloudfront", session=aws))[identifier]


# -- cloudfront.viewer-https-only ------------------------------------------------------


def test_https_viewers_pass(aws):
    identifier = make_distribution(
        aws, behaviors=[behavior("/api/*", "app", "https-only")]
    )
    result = check(aws, "cloudfront.viewer-https-only", identifier)
    assert result.status == Status.PASS


def test_behavior_allowing_http_fails_naming_it(aws):
    identifier = make_distribution(
        aws, behaviors=[behavior("/legacy/*", "app", "allow-all")]
    )
    result = check(aws, "cloudfront.viewer-https-only", identifier)
    assert result.status == Status.FAIL
    assert result.reason == "cache behaviors allow plain HTTP: /legacy/*"


def test_default_behavior_allowing_http_fails(aws):
    identifier = make_distribution(aws, viewer="allow-all")
    result = check(aws, "cloudfront.viewer-https-only", identifier)
    assert result.reason == "cache behaviors allow plain HTTP: default (*)"


# -- cloudfront.tls-min-version --------------------------------------------------------


def certificate(version: str) -> dict:
    return {
        "ViewerCertificate": {
            "ACMCertificateArn": ACM,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": version,
        },
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
    }


@pytest.mark.parametrize("version", ["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"])
def test_current_tls_policy_passes(aws, version):
    identifier = make_distribution(aws, **certificate(version))
    result = check(aws, "cloudfront.tls-min-version", identifier)
    assert result.status == Status.PASS
    assert result.reason == f"MinimumProtocolVersion is {version}"


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1.1_2016", "TLSv1.2_2019"])
def test_older_tls_policy_fails(aws, version):
    identifier = make_distribution(aws, **certificate(version))
    result = check(aws, "cloudfront.tls-min-version", identifier)
    assert result.status == Status.FAIL
    assert result.reason == (
        f"MinimumProtocolVersion is {version}, older than TLSv1.2_2021"
    )


def test_default_certificate_is_not_evaluable(aws):
    identifier = make_distribution(aws)
    result = check(aws, "cloudfront.tls-min-version", identifier)
    assert result.status == Status.ERROR
    assert "default *.cloudfront.net certificate" in result.reason


# -- cloudfront.waf-attached -----------------------------------------------------------


def test_web_acl_passes(aws):
    identifier = make_distribution(aws, WebACLId=WEB_ACL)
    result = check(aws, "cloudfront.waf-attached", identifier)
    assert result.status == Status.PASS
    assert result.reason == "protected by web ACL edge-acl"


def test_no_web_acl_fails(aws):
    identifier = make_distribution(aws)
    assert check(aws, "cloudfront.waf-attached", identifier).status == Status.FAIL


# -- cloudfront.logging-enabled --------------------------------------------------------


def test_logging_on_passes(aws):
    identifier = make_distribution(
        aws,
        Logging={
            "Enabled": True,
            "IncludeCookies": False,
            "Bucket": "logs.s3.amazonaws.com",
            "Prefix": "cf/",
        },
    )
    result = check(aws, "cloudfront.logging-enabled", identifier)
    assert result.status == Status.PASS
    assert result.reason == "access logs go to s3://logs/cf/"


def test_logging_off_fails(aws):
    identifier = make_distribution(aws)
    result = check(aws, "cloudfront.logging-enabled", identifier)
    assert result.status == Status.FAIL


def test_denied_distribution_config_is_an_error(aws):
    identifier = make_distribution(aws)
    deny(aws, "cloudfront", "GetDistributionConfig")
    result = check(aws, "cloudfront.logging-enabled", identifier)
    assert result.status == Status.ERROR


# -- cloudfront.s3-origin-access-control -----------------------------------------------

OAC = "cloudfront.s3-origin-access-control"


def test_s3_origin_with_oac_passes(aws):
    identifier = make_distribution(aws, bucket_origin())
    serve_origins_as_aws(
        aws,
        assets={
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": "E2QWRUHAPOMQZL",
        },
    )
    result = check(aws, OAC, identifier)
    assert result.status == Status.PASS
    assert result.reason == "all 1 S3 origins use origin access control"


def test_s3_origin_with_legacy_oai_passes_flagged(aws):
    identifier = make_distribution(aws, bucket_origin())
    serve_origins_as_aws(
        aws,
        assets={
            "S3OriginConfig": {"OriginAccessIdentity": OAI},
            "OriginAccessControlId": "",
        },
    )
    result = check(aws, OAC, identifier)
    assert result.status == Status.PASS
    assert "legacy OAI" in result.reason


def test_s3_origin_without_access_control_fails(aws):
    identifier = make_distribution(aws, bucket_origin())
    serve_origins_as_aws(
        aws,
        assets={
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": "",
        },
    )
    result = check(aws, OAC, identifier)
    assert result.status == Status.FAIL
    assert result.reason.endswith("public: assets (bucket assets)")


def test_s3_rest_endpoint_set_up_as_custom_origin_fails(aws):
    # Moto's own answer: a custom origin naming an S3 REST endpoint.
    identifier = make_distribution(aws, custom("files", "files.s3.amazonaws.com"))
    assert check(aws, OAC, identifier).status == Status.FAIL


def test_no_s3_rest_origin_is_not_applicable(aws):
    identifier = make_distribution(
        aws, custom("site", "site.s3-website-us-east-1.amazonaws.com", "http-only")
    )
    assert check(aws, OAC, identifier).status == Status.NOT_APPLICABLE


# -- cloudfront.custom-origin-tls ------------------------------------------------------

ORIGIN_TLS = "cloudfront.custom-origin-tls"


def test_https_only_origin_passes(aws):
    identifier = make_distribution(aws)
    result = check(aws, ORIGIN_TLS, identifier)
    assert result.status == Status.PASS
    assert result.reason == "all 1 custom origins are reached over TLS"


def test_http_only_origin_with_sslv3_fails(aws):
    identifier = make_distribution(
        aws, custom(policy="http-only", protocols=("SSLv3", "TLSv1.2"))
    )
    result = check(aws, ORIGIN_TLS, identifier)
    assert result.status == Status.FAIL
    assert result.reason == (
        "app: OriginProtocolPolicy is http-only; app: OriginSslProtocols include SSLv3"
    )


def test_match_viewer_follows_the_viewer_policy(aws):
    identifier = make_distribution(
        aws,
        custom(policy="match-viewer"),
        behaviors=[behavior("/open/*", "app", "allow-all")],
    )
    result = check(aws, ORIGIN_TLS, identifier)
    assert result.status == Status.FAIL
    assert result.reason == "app: match-viewer passes plain HTTP on through /open/*"


def test_match_viewer_with_https_viewers_passes(aws):
    identifier = make_distribution(aws, custom(policy="match-viewer"))
    assert check(aws, ORIGIN_TLS, identifier).status == Status.PASS


def test_only_s3_origins_are_not_applicable_to_custom_origin_tls(aws):
    identifier = make_distribution(aws, bucket_origin())
    assert check(aws, ORIGIN_TLS, identifier).status == Status.NOT_APPLICABLE


# -- cloudfront.s3-origin-exists -------------------------------------------------------

EXISTS = "cloudfront.s3-origin-exists"


def test_existing_origin_bucket_passes(aws):
    aws.client("s3").create_bucket(Bucket="assets")
    identifier = make_distribution(aws, bucket_origin())
    result = check(aws, EXISTS, identifier)
    assert result.status == Status.PASS
    assert result.reason == "all 1 S3 origin buckets exist"


def test_deleted_origin_bucket_fails(aws):
    identifier = make_distribution(
        aws,
        bucket_origin(),
        custom("site", "old-site.s3-website-us-east-1.amazonaws.com", "http-only"),
    )
    result = check(aws, EXISTS, identifier)
    assert result.status == Status.FAIL
    assert result.reason == (
        "origin buckets do not exist: assets → assets, site → old-site"
    )


def test_bucket_answering_403_passes_flagged(aws):
    identifier = make_distribution(aws, bucket_origin())
    deny(aws, "s3", "HeadBucket", code="403")
    result = check(aws, EXISTS, identifier)
    assert result.status == Status.PASS
    assert "assets answered 403" in result.reason


def test_failed_head_bucket_is_an_error(aws):
    identifier = make_distribution(aws, bucket_origin())
    deny(aws, "s3", "HeadBucket", code="SlowDown")
    assert check(aws, EXISTS, identifier).status == Status.ERROR


def test_no_s3_origin_is_not_applicable_to_bucket_existence(aws):
    identifier = make_distribution(aws)
    assert check(aws, EXISTS, identifier).status == Status.NOT_APPLICABLE
