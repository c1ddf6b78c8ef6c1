"""Amazon S3: buckets (listed once per account) and the account's Block Public Access.

Each bucket record carries the bucket's real region and the result of every
per-bucket configuration call under its own key. "Not configured" answers
(NoSuchBucketPolicy, NoSuchTagSet, ...) are stored as None or {}; any other
failure goes to ``config["_errors"]`` under the same key, so a control that
needs that value reports ERROR instead of reading it as "not configured".
"""

import json
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError, UnknownRegionError

from accounts.aws_errors import error_code
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

BUCKET = "AWS::S3::Bucket"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "AWS::S3::AccountPublicAccessBlock"

# AWS's maximum page. ListBuckets without MaxBuckets is rejected for accounts
# whose bucket quota was raised above 10,000, so always ask for pages.
LIST_BUCKETS_PAGE_SIZE = 10_000

# get_bucket_location answers None (older SDKs: "") for us-east-1 and the
# legacy "EU" for eu-west-1.
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}

NO_SUCH_BUCKET = "NoSuchBucket"


@register
class S3Collector(Collector):
    service = "s3"
    is_global = True
    resource_types = (BUCKET, ACCOUNT_PUBLIC_ACCESS_BLOCK)

    def collect(self) -> Iterator[ResourceRecord]:
        yield self._account_public_access_block()
        s3 = self.client("s3")
        buckets = self.paginate(
            s3,
            "list_buckets",
            "Buckets",
            PaginationConfig={"PageSize": LIST_BUCKETS_PAGE_SIZE},
        )
        for bucket in buckets:
            record = self._bucket(s3, bucket)
            if record is not None:
                yield record

    def _account_public_access_block(self) -> ResourceRecord:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "PublicAccessBlock",
            self.client("s3control").get_public_access_block,
            absent=("NoSuchPublicAccessBlockConfiguration",),
            AccountId=self.account_id,
        )
        # Emitted even when absent (None), so the account control can FAIL.
        config: dict[str, Any] = {
            "PublicAccessBlock": _inner(response, "PublicAccessBlockConfiguration")
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=ACCOUNT_PUBLIC_ACCESS_BLOCK,
            resource_id=self.account_id,
            config=config,
            name="S3 Block Public Access (account)",
        )

    def _bucket(self, s3: BaseClient, listed: dict) -> ResourceRecord | None:
        name = listed["Name"]
        region = self._bucket_region(s3, listed)
        if region is None:
            return None  # deleted between the listing and now
        # Ask the bucket's own region: a us-east-1 client would be redirected
        # (an extra round trip per call) for buckets elsewhere.
        client = self.client("s3", region=region)
        errors: dict[str, str] = {}

        def get(key: str, operation: str, *absent: str) -> dict | None:
            return self.optional(
                errors,
                key,
                getattr(client, operation),
                # A bucket deleted mid-collection answers NoSuchBucket here:
                # recorded as an error (ERROR findings), never as "absent".
                absent=absent,
                Bucket=name,
            )

        policy = _parse_policy(
            get("Policy", "get_bucket_policy", "NoSuchBucketPolicy"), errors
        )
        policy_status: dict | None = {}
        if policy is not None or "Policy" in errors:
            response = get(
                "PolicyStatus", "get_bucket_policy_status", "NoSuchBucketPolicy"
            )
            if response is not None:
                policy_status = to_jsonable(response.get("PolicyStatus") or {})
            elif "PolicyStatus" in errors:
                policy_status = None

        tagging = get("Tags", "get_bucket_tagging", "NoSuchTagSet")
        tags = {t["Key"]: t["Value"] for t in (tagging or {}).get("TagSet", [])}

        config: dict[str, Any] = {
            "Name": name,
            "CreationDate": to_jsonable(listed.get("CreationDate")),
            "Policy": policy,
            "PolicyStatus": policy_status,
            "PublicAccessBlock": _inner(
                get(
                    "PublicAccessBlock",
                    "get_public_access_block",
                    "NoSuchPublicAccessBlockConfiguration",
                ),
                "PublicAccessBlockConfiguration",
            ),
            "Acl": _plain(get("Acl", "get_bucket_acl")),
            "OwnershipControls": _inner(
                get(
                    "OwnershipControls",
                    "get_bucket_ownership_controls",
                    "OwnershipControlsNotFoundError",
                ),
                "OwnershipControls",
            ),
            # None: no configuration returned. AWS always returns one (SSE-S3
            # at least) since January 2023; simulators may not.
            "Encryption": _inner(
                get(
                    "Encryption",
                    "get_bucket_encryption",
                    "ServerSideEncryptionConfigurationNotFoundError",
                ),
                "ServerSideEncryptionConfiguration",
            ),
            "Versioning": _plain(get("Versioning", "get_bucket_versioning")),
            "Logging": _plain(get("Logging", "get_bucket_logging")),
            "Cors": _plain(get("Cors", "get_bucket_cors", "NoSuchCORSConfiguration")),
            "ObjectLock": _inner(
                get(
                    "ObjectLock",
                    "get_object_lock_configuration",
                    "ObjectLockConfigurationNotFoundError",
                ),
                "ObjectLockConfiguration",
            ),
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=BUCKET,
            resource_id=name,
            config=config,
            arn=listed.get("BucketArn") or f"arn:{self._partition(region)}:s3:::{name}",
            name=name,
            tags=tags,
            region=region,
        )

    def _partition(self, region: str) -> str:
        try:
            return self.session.get_partition_for_region(region)
        except UnknownRegionError:
            # A region newer than this botocore: it shares the scanner's partition.
            return self.session.get_partition_for_region(self.client_region)

    def _bucket_region(self, s3: BaseClient, listed: dict) -> str | None:
        """The bucket's region, or None when the bucket no longer exists.

        A bucket whose region cannot be known cannot be stored under a stable
        identity, so that failure propagates (the unit is recorded as failed)
        rather than the bucket being dropped, which would read as deleted.
        """
        try:
            response = s3.get_bucket_location(Bucket=listed["Name"])
        except ClientError as exc:
            if error_code(exc) == NO_SUCH_BUCKET:
                return None
            # Current AWS listings name the region too; use it when present.
            if listed.get("BucketRegion"):
                return listed["BucketRegion"]
            raise
        location = response.get("LocationConstraint")
        return _LEGACY_LOCATIONS.get(location, location)


def _plain(response: dict | None) -> dict | None:
    return None if response is None else to_jsonable(response)


def _inner(response: dict | None, key: str) -> dict | None:
    """``response[key]`` as plain JSON; None when the call answered "absent"."""
    if response is None:
        return None
    return to_jsonable(response.get(key))


def _parse_policy(response: dict | None, errors: dict[str, str]) -> dict | None:
    if response is None:
        return None
    try:
        return json.loads(response["Policy"])
    except (KeyError, TypeError, ValueError) as exc:
        errors["Policy"] = f"other: bucket policy is not valid JSON ({exc})"
        return None
