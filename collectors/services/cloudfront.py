"""Amazon CloudFront: distributions, with their logging and S3 origin buckets.

One global unit lists every distribution. Besides the listing's summary each
record holds:

- ``Logging``: the standard logging settings, which only
  GetDistributionConfig returns;
- ``S3Origins``: which origins name an S3 bucket endpoint (REST or website),
  and which bucket, read from each origin's domain name;
- ``OriginBuckets``: whether each of those buckets exists (HeadBucket: found,
  forbidden = it exists but is not readable by the scanner, or missing).
"""

import re
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from accounts.aws_errors import classify, error_code
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

DISTRIBUTION = "AWS::CloudFront::Distribution"

NO_SUCH_DISTRIBUTION = "NoSuchDistribution"
# Changes from InProgress to Deployed minutes after every update; the change
# itself is in the configuration (and LastModifiedTime).
VOLATILE_FIELDS = ("Status",)
# <bucket>.s3.amazonaws.com, <bucket>.s3.<region>.amazonaws.com, the legacy
# <bucket>.s3-<region>… and dualstack forms, and the website endpoints
# <bucket>.s3-website-<region>… / <bucket>.s3-website.<region>….
S3_ENDPOINT = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.(?P<kind>s3-website|s3)"
    r"(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$"
)
# Access points and Object Lambda share the s3 naming but are not buckets.
NOT_BUCKETS = (".s3-accesspoint.", ".s3-object-lambda.")
MISSING_CODES = {"404", "NoSuchBucket", "NotFound"}
FORBIDDEN_CODES = {"403", "AccessDenied", "Forbidden"}
MOVED_CODES = {"301", "PermanentRedirect"}


def s3_origin(domain_name: str) -> dict | None:
    """``{"Bucket", "Endpoint": "rest" | "website"}`` for an S3 endpoint."""
    domain = domain_name.lower().rstrip(".")
    if any(marker in domain for marker in NOT_BUCKETS):
        return None
    match = S3_ENDPOINT.match(domain)
    if not match:
        return None
    endpoint = "website" if match["kind"] == "s3-website" else "rest"
    return {"Bucket": match["bucket"], "Endpoint": endpoint}


@register
class CloudFrontCollector(Collector):
    service = "cloudfront"
    is_global = True
    resource_types = (DISTRIBUTION,)
    #: ListDistributions page size (MaxItems).
    page_size = 100

    def collect(self) -> Iterator[ResourceRecord]:
        cloudfront = self.client("cloudfront")
        self._bucket_status: dict[str, tuple[str | None, str | None]] = {}
        pages = cloudfront.get_paginator("list_distributions").paginate(
            PaginationConfig={"PageSize": self.page_size}
        )
        for page in pages:
            for summary in (page.get("DistributionList") or {}).get("Items", []):
                record = self._distribution(cloudfront, summary)
                if record is not None:
                    yield record

    def _distribution(
        self, cloudfront: BaseClient, summary: dict
    ) -> ResourceRecord | None:
        identifier = summary["Id"]
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "Logging",
            cloudfront.get_distribution_config,
            absent=(NO_SUCH_DISTRIBUTION,),
            Id=identifier,
        )
        if response is None and "Logging" not in errors:
            return None  # deleted between the listing and now
        config: dict[str, Any] = to_jsonable(
            {k: v for k, v in summary.items() if k not in VOLATILE_FIELDS}
        )
        config["Logging"] = (
            None
            if response is None
            else to_jsonable((response.get("DistributionConfig") or {}).get("Logging"))
        )
        s3_origins = {}
        for origin in (summary.get("Origins") or {}).get("Items", []):
            found = s3_origin(origin.get("DomainName", ""))
            if found:
                s3_origins[origin["Id"]] = found
        config["S3Origins"] = s3_origins
        config["OriginBuckets"] = {
            spec["Bucket"]: self._head_bucket(errors, spec["Bucket"])
            for spec in s3_origins.values()
        }
        tagging = self.optional(
            errors,
            "Tags",
            cloudfront.list_tags_for_resource,
            Resource=summary.get("ARN", ""),
        )
        tags = {
            t["Key"]: t.get("Value", "")
            for t in ((tagging or {}).get("Tags") or {}).get("Items", [])
        }
        if errors:
            config[ERRORS_KEY] = errors
        aliases = (summary.get("Aliases") or {}).get("Items") or []
        return ResourceRecord(
            resource_type=DISTRIBUTION,
            resource_id=identifier,
            config=config,
            arn=summary.get("ARN", ""),
            name=aliases[0] if aliases else summary.get("DomainName", identifier),
            tags=tags,
        )

    def _head_bucket(self, errors: dict[str, str], bucket: str) -> str | None:
        """found / forbidden / missing; None (and an error) when unknown."""
        if bucket not in self._bucket_status:
            self._bucket_status[bucket] = self._ask_head_bucket(bucket)
        status, problem = self._bucket_status[bucket]
        if problem:
            errors["OriginBuckets"] = problem
        return status

    def _ask_head_bucket(self, bucket: str) -> tuple[str | None, str | None]:
        try:
            self.client("s3").head_bucket(Bucket=bucket)
        except ClientError as exc:
            code = error_code(exc)
            if code in MISSING_CODES:
                return "missing", None
            if code in FORBIDDEN_CODES:
                return "forbidden", None
            if code in MOVED_CODES:
                return "found", None  # exists, in another region
            kind, _message = classify(exc)
            return None, f"{kind}: HeadBucket {code}".strip()
        return "found", None
