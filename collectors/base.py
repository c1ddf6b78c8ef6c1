"""The collector framework: one subclass per AWS service, registered by name.

A collector is a generator of ``ResourceRecord``s for one account session and
one region (or once per account for global services). It pages through every
list call, streams records instead of accumulating them, and records the
failure of a per-resource sub-call in the record's ``config["_errors"]`` so a
control that needs that field reports ERROR instead of guessing.
"""

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import boto3
from botocore.client import BaseClient
from botocore.exceptions import ClientError, UnknownRegionError
from botocore.parsers import ResponseParserError

from accounts.aws import DEFAULT_REGION, shared_client
from accounts.aws_errors import classify, error_code
from collectors.models import GLOBAL_REGION

ERRORS_KEY = "_errors"
# The collector whose code is running on this thread: the AWS calls made
# now count toward it (clients are shared between collectors).
_counting: ContextVar["Collector | None"] = ContextVar("collector", default=None)


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    resource_type: str  # CloudFormation / AWS Config name, e.g. AWS::S3::Bucket
    resource_id: str
    config: dict
    arn: str = ""
    name: str = ""
    tags: dict = field(default_factory=dict)
    # None: the unit's region (GLOBAL_REGION for global services).
    region: str | None = None


class Collector:
    service: ClassVar[str]
    is_global: ClassVar[bool] = False
    resource_types: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, session: boto3.Session, account_id: str, region: str, now: datetime
    ) -> None:
        self.session = session
        self.account_id = account_id
        self.region = region
        self.now = now
        self.api_calls = 0
        self._clients: dict[str, BaseClient] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "collect" in cls.__dict__:
            cls.collect = _counted(cls.__dict__["collect"])

    def collect(self) -> Iterator[ResourceRecord]:
        raise NotImplementedError

    @contextmanager
    def counting(self) -> Iterator[None]:
        """Count the AWS calls made inside toward this collector's
        ``api_calls`` (``collect`` does, step by step)."""
        token = _counting.set(self)
        try:
            yield
        finally:
            _counting.reset(token)

    @property
    def client_region(self) -> str:
        return DEFAULT_REGION if self.region == GLOBAL_REGION else self.region

    def client(self, name: str, region: str | None = None) -> BaseClient:
        """The session's client (shared with other collectors of the session)."""
        region = region or self.client_region
        key = f"{name}@{region}"
        if key not in self._clients:
            client = shared_client(self.session, name, region)
            # Count HTTP requests, retries included: the unit's API-call
            # figure. Once per client, whichever collector asks first.
            client.meta.events.register(
                "before-send", _count_call, unique_id="parapet-api-calls"
            )
            self._clients[key] = client
        return self._clients[key]

    def partition(self) -> str | None:
        """aws, aws-cn, aws-us-gov ... of this region (None: unknown to botocore)."""
        try:
            return self.session.get_partition_for_region(self.client_region)
        except UnknownRegionError:
            return None

    def offered_here(self, service_name: str) -> bool:
        """Whether botocore knows an endpoint of ``service_name`` in this region.

        Some services run in a few regions only; elsewhere there is nothing
        to ask and nothing to collect. A region newer than this botocore is
        asked anyway, so any error shows.
        """
        partition = self.partition()
        if partition is None:
            return True
        regions = self.session.get_available_regions(service_name, partition)
        return not regions or self.client_region in regions

    def paginate(
        self, client: BaseClient, operation: str, result_key: str, **kwargs: Any
    ) -> Iterator[Any]:
        """Every item of ``result_key`` across all pages of ``operation``."""
        if client.can_paginate(operation):
            for page in client.get_paginator(operation).paginate(**kwargs):
                yield from page.get(result_key, [])
        else:
            yield from getattr(client, operation)(**kwargs).get(result_key, [])

    def gather(
        self,
        errors: dict[str, str],
        key: str,
        client: BaseClient,
        operation: str,
        result_key: str,
        **kwargs: Any,
    ) -> list | None:
        """Every item of a paginated sub-listing, or None (failure in ``errors``).

        ``optional`` for a listing: a page that fails midway records the
        failure instead of yielding a partial list that would read as complete.
        """

        def drain() -> dict:
            return {
                "items": list(self.paginate(client, operation, result_key, **kwargs))
            }

        response = self.optional(errors, key, drain)
        return None if response is None else response["items"]

    def optional(
        self,
        errors: dict[str, str],
        key: str,
        call: Callable[..., dict],
        *,
        absent: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> dict | None:
        """Call a per-resource API; ``None`` when the thing is absent.

        ``absent`` lists the error codes that mean "not configured" (for example
        ``NoSuchBucketPolicy``). Any other error is recorded under ``key`` in
        ``errors`` and ``None`` is returned, so the record is still stored and
        the controls that need ``key`` report ERROR rather than PASS.
        """
        try:
            return call(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code in absent:
                return None
            kind, _message = classify(exc)
            # Kind and code only: AWS's message names the caller's session,
            # which changes every scan and would rewrite the snapshot each time.
            operation = getattr(exc, "operation_name", "call")
            errors[key] = f"{kind}: {operation} {code}".strip()
            return None
        except (ResponseParserError, UnicodeDecodeError):
            # An endpoint that answered with something other than AWS's
            # format (a simulator's error page, bytes that are not UTF-8,
            # which botocore decodes without a wrapper): unknown, never
            # "absent", and the rest of the resource is still stored.
            errors[key] = f"unsupported: {key} answer could not be parsed"
            return None


def _count_call(**kwargs: Any) -> None:
    collector = _counting.get()
    if collector is not None:
        collector.api_calls += 1


def _counted(
    collect: Callable[[Collector], Iterator[ResourceRecord]],
) -> Callable[[Collector], Iterator[ResourceRecord]]:
    """``collect`` counting its calls toward its collector while it runs (not
    while its caller stores what it yielded, which may run another's)."""

    @functools.wraps(collect)
    def counted(self: Collector) -> Iterator[ResourceRecord]:
        records = collect(self)
        try:
            while True:
                with self.counting():
                    try:
                        record = next(records)
                    except StopIteration:
                        return
                yield record
        finally:
            records.close()

    return counted


COLLECTORS: dict[str, type[Collector]] = {}

#: The botocore services the collectors make clients of (``Collector.client``):
#: what a worker parses before it forks its pool (``config.warmup``). A test
#: keeps it in step with the collectors' code.
CLIENT_SERVICES = (
    *("accessanalyzer", "account", "acm", "autoscaling", "backup", "cloudfront"),
    *("cloudsearch", "cloudtrail", "cloudwatch", "config", "datapipeline", "dax"),
    *("dynamodb", "ec2", "elasticache", "elb", "elbv2", "emr", "events"),
    *("guardduty", "iam", "kinesis", "kms", "logs", "macie2", "opensearch"),
    *("organizations", "rds", "redshift", "route53", "route53domains", "s3"),
    *("s3control", "secretsmanager", "securityhub", "ses", "sns", "sqs", "ssm"),
    *("sso-admin", "stepfunctions", "support", "wafv2", "workspaces"),
)


def register(cls: type[Collector]) -> type[Collector]:
    if cls.service in COLLECTORS:
        raise ValueError(f"collector for {cls.service!r} registered twice")
    COLLECTORS[cls.service] = cls
    return cls


def service_for_type(resource_type: str) -> str | None:
    for name, cls in COLLECTORS.items():
        if resource_type in cls.resource_types:
            return name
    return None


# NUL and lone surrogates: valid in a Python str (a JSON answer's "\u0000" or
# "\ud800"), refused by Postgres' jsonb and text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with what Postgres cannot store replaced by U+FFFD.

    One such character in a hostile policy would otherwise fail the whole
    batch, and with it every resource of the unit.
    """
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def to_jsonable(value: Any) -> Any:
    """boto3 responses as plain JSON: datetimes in ISO 8601 UTC, bytes as text,
    text that Postgres can store (``storable``)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {
            storable(str(k)): to_jsonable(v)
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return storable(value.decode("utf-8", errors="replace"))
    return value
