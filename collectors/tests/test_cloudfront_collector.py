"""The CloudFront collector against moto: distributions, logging, S3 origins."""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from collectors.models import GLOBAL_REGION
from collectors.services.cloudfront import s3_origin
from findings.testing import collect, deny

DISTRIBUTION = "AWS::CloudFront::Distribution"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def custom(origin_id: str, domain: str) -> dict:
    return {
        "Id": origin_id,
        "DomainName": domain,
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
            "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
        },
    }


def bucket_origin(origin_id: str, domain: str) -> dict:
    return {
        "Id": origin_id,
        "DomainName": domain,
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }


def make_distribution(aws, reference: str, *origins: dict, **config) -> str:
    origins = origins or (custom("app", "app.example.com"),)
    distribution = {
        "CallerReference": reference,
        "Comment": reference,
        "Enabled": True,
        "Origins": {"Quantity": len(origins), "Items": list(origins)},
        "DefaultCacheBehavior": {
            "TargetOriginId": origins[0]["Id"],
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
        },
        **config,
    }
    return aws.client("cloudfront").create_distribution(
        DistributionConfig=distribution
    )["Distribution"]["Id"]


def by_id(records) -> dict:
    return {r.resource_id: r for r in records}


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("assets.s3.amazonaws.com", {"Bucket": "assets", "Endpoint": "rest"}),
        (
            "my.assets.s3.eu-west-1.amazonaws.com",
            {"Bucket": "my.assets", "Endpoint": "rest"},
        ),
        ("assets.s3-us-west-2.amazonaws.com", {"Bucket": "assets", "Endpoint": "rest"}),
        (
            "assets.s3.dualstack.us-east-2.amazonaws.com",
            {"Bucket": "assets", "Endpoint": "rest"},
        ),
        (
            "site.s3-website-us-east-1.amazonaws.com",
            {"Bucket": "site", "Endpoint": "website"},
        ),
        (
            "site.s3-website.eu-central-1.amazonaws.com",
            {"Bucket": "site", "Endpoint": "website"},
        ),
        ("Assets.S3.amazonaws.com.", {"Bucket": "assets", "Endpoint": "rest"}),
        ("ap-1234.s3-accesspoint.us-east-1.amazonaws.com", None),
        ("app.example.com", None),
        ("s3.amazonaws.com.evil.example", None),
    ],
)
def test_s3_origin_domains(domain, expected):
    assert s3_origin(domain) == expected


def test_distribution_with_logging_s3_origins_and_tags(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="assets")
    identifier = make_distribution(
        aws,
        "site",
        bucket_origin("assets", "assets.s3.amazonaws.com"),
        bucket_origin("gone", "gone-bucket.s3.us-east-1.amazonaws.com"),
        custom("website", "old-site.s3-website-us-east-1.amazonaws.com"),
        custom("api", "api.example.com"),
        Logging={
            "Enabled": True,
            "IncludeCookies": False,
            "Bucket": "logs.s3.amazonaws.com",
            "Prefix": "cf/",
        },
        Aliases={"Quantity": 1, "Items": ["www.example.com"]},
    )
    cloudfront = aws.client("cloudfront")
    arn = cloudfront.get_distribution(Id=identifier)["Distribution"]["ARN"]
    cloudfront.tag_resource(
        Resource=arn, Tags={"Items": [{"Key": "team", "Value": "web"}]}
    )

    (record,) = collect("cloudfront", session=aws)

    assert record.resource_type == DISTRIBUTION
    assert record.resource_id == identifier
    assert record.region == GLOBAL_REGION
    assert record.arn == arn
    assert record.name == "www.example.com"
    assert record.tags == {"team": "web"}
    config = record.config
    assert "Status" not in config
    assert config["Logging"] == {
        "Enabled": True,
        "IncludeCookies": False,
        "Bucket": "logs.s3.amazonaws.com",
        "Prefix": "cf/",
    }
    assert config["S3Origins"] == {
        "assets": {"Bucket": "assets", "Endpoint": "rest"},
        "gone": {"Bucket": "gone-bucket", "Endpoint": "rest"},
        "website": {"Bucket": "old-site", "Endpoint": "website"},
    }
    assert config["OriginBuckets"] == {
        "assets": "found",
        "gone-bucket": "missing",
        "old-site": "missing",
    }
    assert "_errors" not in config


def test_head_bucket_403_means_the_bucket_exists_elsewhere(aws):
    make_distribution(aws, "site", bucket_origin("other", "theirs.s3.amazonaws.com"))
    deny(aws, "s3", "HeadBucket", code="403")

    (record,) = collect("cloudfront", session=aws)

    assert record.config["OriginBuckets"] == {"theirs": "forbidden"}
    assert "_errors" not in record.config


def test_failed_sub_calls_are_recorded(aws):
    make_distribution(aws, "site", bucket_origin("assets", "assets.s3.amazonaws.com"))
    deny(aws, "cloudfront", "GetDistributionConfig")
    deny(aws, "cloudfront", "ListTagsForResource")
    deny(aws, "s3", "HeadBucket", code="SlowDown")

    (record,) = collect("cloudfront", session=aws)

    errors = record.config["_errors"]
    assert set(errors) == {"Logging", "Tags", "OriginBuckets"}
    assert errors["Logging"].startswith("access_denied")
    assert errors["OriginBuckets"] == "throttled: HeadBucket SlowDown"
    assert record.config["Logging"] is None
    assert record.config["OriginBuckets"] == {"assets": None}


def test_distribution_deleted_after_listing_is_skipped(aws):
    make_distribution(aws, "site")
    deny(aws, "cloudfront", "GetDistributionConfig", code="NoSuchDistribution")

    assert collect("cloudfront", session=aws) == []


def test_listing_follows_markers(aws):
    for reference in ("one", "two", "three"):
        make_distribution(aws, reference)
    items = aws.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    requested: list[dict] = []

    # moto returns every distribution on one page; serve AWS's paging instead.
    def pages(params, **kwargs):
        query = params.get("query_string") or {}
        requested.append(dict(query))
        first = not query.get("Marker")
        listing = {
            "Marker": query.get("Marker", ""),
            "MaxItems": 2,
            "IsTruncated": first,
            "Quantity": 2 if first else 1,
            "Items": items[:2] if first else items[2:],
        }
        if first:
            listing["NextMarker"] = items[1]["Id"]
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {
            "DistributionList": listing,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    aws.events.register("before-call.cloudfront.ListDistributions", pages)

    records = collect("cloudfront", session=aws)

    assert sorted(r.resource_id for r in records) == sorted(i["Id"] for i in items)
    assert [q.get("Marker") for q in requested] == [None, items[1]["Id"]]
    assert requested[0]["MaxItems"] == "100"


def test_denied_listing_raises(aws):
    deny(aws, "cloudfront", "ListDistributions")

    with pytest.raises(ClientError) as exc:
        collect("cloudfront", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_config_is_stable_for_unchanged_distributions(aws):
    aws.client("s3").create_bucket(Bucket="assets")
    make_distribution(aws, "site", bucket_origin("assets", "assets.s3.amazonaws.com"))

    first = [r.config for r in collect("cloudfront", session=aws)]
    second = [r.config for r in collect("cloudfront", session=aws)]

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
