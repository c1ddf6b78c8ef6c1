"""Helpers for control tests: collect from moto, evaluate in memory.

Used by the tests of every service: build a real configuration in moto, run the
real collector over it, and evaluate a control on the records it produced.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

import boto3

from accounts.aws import forget_clients, new_session
from collectors.base import COLLECTORS, ResourceRecord
from collectors.models import GLOBAL_REGION
from findings.controls.base import REGISTRY, ResourceView, Result, StaticContext

ACCOUNT_ID = "123456789012"  # moto's default account


def collect(
    service: str,
    region: str = "us-east-1",
    *,
    session: boto3.Session | None = None,
    account_id: str = ACCOUNT_ID,
    now: datetime | None = None,
) -> list[ResourceRecord]:
    """Run the real collector for ``service`` (global services ignore region)."""
    cls = COLLECTORS[service]
    unit_region = GLOBAL_REGION if cls.is_global else region
    collector = cls(
        session or new_session(region_name="us-east-1"),
        account_id,
        unit_region,
        now or datetime.now(UTC),
    )
    return [_with_region(r, unit_region) for r in collector.collect()]


def _with_region(record: ResourceRecord, unit_region: str) -> ResourceRecord:
    if record.region:
        return record
    return ResourceRecord(
        resource_type=record.resource_type,
        resource_id=record.resource_id,
        config=record.config,
        arn=record.arn,
        name=record.name,
        tags=record.tags,
        region=unit_region,
    )


def view(record: ResourceRecord, account_id: str = ACCOUNT_ID) -> ResourceView:
    return ResourceView(
        account_id=account_id,
        region=record.region or GLOBAL_REGION,
        resource_type=record.resource_type,
        resource_id=record.resource_id,
        config=record.config,
        arn=record.arn,
        name=record.name,
        tags=record.tags,
    )


def evaluate(
    control_id: str,
    records: Iterable[ResourceRecord],
    *,
    regions: Iterable[str] = ("us-east-1",),
    now: datetime | None = None,
    uncollected: dict | None = None,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Result]:
    """Results of one control over the records, keyed by resource id."""
    ctl = REGISTRY[control_id]
    by_type: dict[str, list[ResourceView]] = defaultdict(list)
    for record in records:
        by_type[record.resource_type].append(view(record, account_id))
    ctx = StaticContext(
        account_id=account_id,
        now=now or datetime.now(UTC),
        regions=list(regions),
        by_type=dict(by_type),
        uncollected=dict(uncollected or {}),
    )
    return {
        v.resource_id: ctl.evaluate(v, ctx) for v in by_type.get(ctl.resource_type, [])
    }


def deny(
    session: boto3.Session, service: str, operation: str, code: str = "AccessDenied"
):
    """Make every ``service.operation`` call from clients of ``session`` fail.

    Registered as a botocore ``before-call`` handler, which answers in place of
    the HTTP request: the same ClientError a real AWS denial raises. Clients
    created from the session afterwards inherit it; the session's shared
    clients are dropped so that collectors make such ones.
    """
    from botocore.awsrequest import AWSResponse

    status = 403 if "Denied" in code or code.startswith("Unauthorized") else 400

    def answer(**kwargs):
        http = AWSResponse("https://denied.invalid", status, {}, None)
        return http, {
            "Error": {"Code": code, "Message": f"simulated {code} for {operation}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    event_service = {"s3control": "s3-control"}.get(service, service)
    session.events.register(f"before-call.{event_service}.{operation}", answer)
    forget_clients(session)  # clients already shared would not inherit it
    return answer
