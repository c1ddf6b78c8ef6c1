"""The snapshot store: canonical JSON, sha256, a row only when the hash changes."""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.db import transaction

from collectors.base import ResourceRecord, storable, to_jsonable
from collectors.models import Resource, ScanUnit, Snapshot

BATCH_SIZE = 500


def canonical(document: dict) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def digest(record: ResourceRecord) -> tuple[str, dict, dict]:
    """(sha256, config, tags) of a record, the config as stored (plain JSON).

    The hash covers everything a user would call the resource's configuration:
    its config, tags, name and ARN.
    """
    config = to_jsonable(record.config)
    tags = {storable(str(k)): storable(str(v)) for k, v in (record.tags or {}).items()}
    document = {"arn": record.arn, "name": record.name, "tags": tags, "config": config}
    sha = hashlib.sha256(
        canonical(document).encode("utf-8", "surrogatepass")
    ).hexdigest()
    return sha, config, tags


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class StoreResult:
    resources: int = 0
    snapshots_written: int = 0
    deleted: int = 0
    seen_ids: set[int] = field(default_factory=set)


def store_records(
    unit: ScanUnit, records: Iterable[ResourceRecord], clock: datetime
) -> StoreResult:
    """Upsert resources and write snapshots for the records of one unit.

    Streams in batches. Idempotent: a redelivered unit finds the same hashes
    and writes nothing; the one-current-snapshot constraint backs this up.
    """
    result = StoreResult()
    for batch in _batches(records, BATCH_SIZE):
        _store_batch(unit, batch, clock, result)
    return result


def _store_batch(
    unit: ScanUnit, batch: list[ResourceRecord], clock: datetime, result: StoreResult
) -> None:
    account_id = unit.account_id
    prepared: dict[tuple[str, str, str], tuple[ResourceRecord, str, dict, dict]] = {}
    for record in batch:
        region = record.region or unit.region
        key = (region, record.resource_type, str(record.resource_id))
        prepared[key] = (record, *digest(record))

    with transaction.atomic():
        existing: dict[tuple[str, str, str], Resource] = {}
        regions = {k[0] for k in prepared}
        types = {k[1] for k in prepared}
        ids = {k[2] for k in prepared}
        rows = (
            Resource.objects.filter(
                account_id=account_id,
                region__in=regions,
                resource_type__in=types,
                resource_id__in=ids,
            )
            .select_related("current_snapshot")
            .select_for_update(of=("self",))
        )
        for row in rows:
            existing[(row.region, row.resource_type, row.resource_id)] = row

        new_resources = []
        for key, (record, _sha, _config, _tags) in prepared.items():
            if key not in existing:
                new_resources.append(
                    Resource(
                        account_id=account_id,
                        service=unit.service,
                        unit_region=unit.region,
                        region=key[0],
                        resource_type=key[1],
                        resource_id=key[2],
                        arn=record.arn or "",
                        name=(record.name or "")[:1024],
                        first_seen=clock,
                    )
                )
        if new_resources:
            Resource.objects.bulk_create(new_resources)
            for row in new_resources:
                existing[(row.region, row.resource_type, row.resource_id)] = row

        to_close: list[int] = []
        new_snapshots: list[Snapshot] = []
        touched: list[Resource] = []
        for key, (record, sha, config, tags) in prepared.items():
            resource = existing[key]
            current = resource.current_snapshot
            changed_identity = (
                resource.deleted_at is not None
                or resource.arn != (record.arn or "")
                or resource.name != (record.name or "")[:1024]
            )
            if current is None or current.sha256 != sha:
                if current is not None:
                    to_close.append(current.pk)
                new_snapshots.append(
                    Snapshot(
                        resource=resource,
                        sha256=sha,
                        config=config,
                        tags=tags,
                        valid_from=clock,
                        scan_id=unit.scan_id,
                    )
                )
            if changed_identity or current is None or current.sha256 != sha:
                resource.deleted_at = None
                resource.arn = record.arn or ""
                resource.name = (record.name or "")[:1024]
                touched.append(resource)
            result.seen_ids.add(resource.pk)
        if to_close:
            Snapshot.objects.filter(pk__in=to_close).update(valid_to=clock)
        if new_snapshots:
            Snapshot.objects.bulk_create(new_snapshots)
            by_resource = {s.resource_id: s for s in new_snapshots}
            for resource in touched:
                if resource.pk in by_resource:
                    resource.current_snapshot = by_resource[resource.pk]
        if touched:
            Resource.objects.bulk_update(
                touched, ["deleted_at", "arn", "name", "current_snapshot"]
            )
        result.resources += len(prepared)
        result.snapshots_written += len(new_snapshots)


def mark_missing_deleted(unit: ScanUnit, seen_ids: set[int], clock: datetime) -> int:
    """Resources of a SUCCESSFUL unit's scope that it no longer returned.

    Only called after the unit collected without error: a failed unit never
    deletes anything (unknown is not deleted).
    """
    gone = (
        Resource.objects.filter(
            account_id=unit.account_id,
            service=unit.service,
            unit_region=unit.region,
            deleted_at__isnull=True,
        )
        .exclude(pk__in=seen_ids)
        .values_list("pk", flat=True)
    )
    gone_ids = list(gone)
    if not gone_ids:
        return 0
    with transaction.atomic():
        Resource.objects.filter(pk__in=gone_ids).update(deleted_at=clock)
        Snapshot.objects.filter(resource_id__in=gone_ids, valid_to__isnull=True).update(
            valid_to=clock
        )
    return len(gone_ids)
