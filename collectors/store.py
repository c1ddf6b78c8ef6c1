"""The snapshot store: canonical JSON, sha256, a row only when the hash changes.

A batch of records costs a fixed handful of statements, whatever its size:
lock the known resources (one SELECT … FOR UPDATE joined to their current
snapshot's hash), insert the new ones (one INSERT … ON CONFLICT DO NOTHING),
close the replaced snapshots (one UPDATE), COPY the new snapshots, and point
the changed resources at them (one UPDATE … FROM unnest). Snapshot ids are
drawn from their sequence first, so a new resource is inserted already
pointing at its snapshot (the foreign key is checked at commit). Unchanged
resources are locked and read, never written.
"""

import hashlib
import json
from array import array
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from collectors.base import ResourceRecord, storable, to_jsonable
from collectors.models import Resource, ScanUnit, Snapshot

BATCH_SIZE = 500

_RESOURCE = Resource._meta.db_table
_SNAPSHOT = Snapshot._meta.db_table

Key = tuple[str, str, str]  # a resource's identity in its account: region, type, id


def canonical(document: dict) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@dataclass(slots=True)
class Prepared:
    """A record as stored: plain JSON config and tags, their canonical text
    (written as is, never serialised twice) and the hash over them."""

    arn: str
    name: str
    config: dict
    tags: dict
    config_json: str
    tags_json: str
    sha256: str


def prepare(record: ResourceRecord) -> Prepared:
    """The record's stored form and sha256.

    The hash covers everything a user would call the resource's configuration:
    its config, tags, name and ARN, as the canonical JSON of
    ``{"arn", "config", "name", "tags"}``. That text is assembled from the
    canonical config and tags (sorted keys put them in this order), which are
    what the snapshot stores, so a config is serialised once.
    """
    config = to_jsonable(record.config)
    tags = {storable(str(k)): storable(str(v)) for k, v in (record.tags or {}).items()}
    config_json, tags_json = canonical(config), canonical(tags)
    document = (
        f'{{"arn":{canonical(record.arn)},"config":{config_json},'
        f'"name":{canonical(record.name)},"tags":{tags_json}}}'
    )
    sha = hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()
    return Prepared(
        arn=record.arn or "",
        name=(record.name or "")[:1024],
        config=config,
        tags=tags,
        config_json=config_json,
        tags_json=tags_json,
        sha256=sha,
    )


def digest(record: ResourceRecord) -> tuple[str, dict, dict]:
    """(sha256, config, tags) of a record, the config as stored (plain JSON)."""
    prepared = prepare(record)
    return prepared.sha256, prepared.config, prepared.tags


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _id_array() -> array:
    return array("q")


@dataclass
class StoreResult:
    resources: int = 0
    snapshots_written: int = 0
    deleted: int = 0
    # Ids of the resources stored, for the deletion sweep. Packed 8 bytes
    # each rather than a set of ints: a hundred thousand long-lived int
    # objects, allocated among each page's short-lived ones, would keep
    # their memory from being reused, and the worker would grow with the unit.
    seen_ids: array = field(default_factory=_id_array)


@dataclass(slots=True)
class _Stored:
    """What the store needs of a resource row it has locked."""

    pk: int
    arn: str
    name: str
    deleted: bool
    snapshot_id: int | None
    sha256: str | None


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
    prepared: dict[Key, Prepared] = {}
    for record in batch:
        region = record.region or unit.region
        prepared[(region, record.resource_type, str(record.resource_id))] = prepare(
            record
        )

    with transaction.atomic(), connection.cursor() as cursor:
        # No WAL flush per batch: the unit is marked collected afterwards by a
        # synchronous commit, which flushes this one too. A crash before that
        # leaves the unit unfinished, and it is collected again.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        found = _lock(cursor, unit.account_id, list(prepared))
        missing = [key for key in prepared if key not in found]
        changed = [k for k, row in found.items() if _needs_snapshot(row, prepared[k])]
        # A missing key keeps its id if a concurrent unit inserts it first.
        wanted = missing + changed
        new_ids = dict(zip(wanted, _snapshot_ids(cursor, len(wanted)), strict=True))
        inserted = _insert_resources(cursor, unit, clock, missing, prepared, new_ids)
        raced = [key for key in missing if key not in inserted]
        if raced:  # inserted by a concurrent unit since the lock: now locked too
            found.update(_lock(cursor, unit.account_id, raced))

        snapshots, to_close, updates = _changes(found, prepared, new_ids)
        snapshots += [(new_ids[key], pk, prepared[key]) for key, pk in inserted.items()]
        _close_snapshots(cursor, to_close, clock)
        _copy_snapshots(cursor, snapshots, clock, unit.scan_id)
        _update_resources(cursor, updates)

    result.seen_ids.extend(inserted.values())
    result.seen_ids.extend(row.pk for row in found.values())
    result.resources += len(prepared)
    result.snapshots_written += len(snapshots)


def _changes(
    found: dict[Key, _Stored], prepared: dict[Key, Prepared], new_ids: dict[Key, int]
) -> tuple[
    list[tuple[int, int, Prepared]], list[int], list[tuple[int, Prepared, int | None]]
]:
    """What to write for the known resources of a batch.

    (new snapshots as (id, resource, record), the snapshots they replace,
    resource updates as (resource, record, new snapshot or None)). A resource
    whose hash is unchanged (and that was not deleted) is written only to
    correct its name or ARN.
    """
    snapshots, to_close, updates = [], [], []
    for key, row in found.items():
        record, new_id = prepared[key], None
        if _needs_snapshot(row, record):
            new_id = new_ids[key]
            snapshots.append((new_id, row.pk, record))
            if row.snapshot_id is not None:
                to_close.append(row.snapshot_id)
        renamed = (row.arn, row.name) != (record.arn, record.name)
        if new_id is not None or row.deleted or renamed:
            updates.append((row.pk, record, new_id))
    return snapshots, to_close, updates


def _needs_snapshot(row: _Stored, record: Prepared) -> bool:
    """A changed configuration, or a deleted resource found again: its last
    snapshot was closed when it went missing, so even an identical
    configuration opens a new one (the timeline then shows the gap)."""
    return row.deleted or row.sha256 != record.sha256


def _lock(
    cursor: CursorWrapper, account_id: int, keys: list[Key]
) -> dict[Key, _Stored]:
    """Lock the resources of ``keys`` that exist, with their current hash.

    The row locks serialise two deliveries of a unit and the retention sweep
    (which skips locked resources rather than prune one being revived). Taken
    in key order, so two writers of overlapping batches cannot deadlock.

    Each key is looked up on its own (a LATERAL subquery, which PostgreSQL
    does not flatten because it locks), so a batch costs its keys' index
    probes whatever the statistics say. Joined instead, a table whose
    statistics predate an account's first scan was hashed whole for every
    batch: 150,000 rows, 110 ms per batch of 500.
    """
    if not keys:
        return {}
    regions, types, ids = (list(column) for column in zip(*sorted(keys), strict=True))
    cursor.execute(
        f"""
        SELECT r.id, r.region, r.resource_type, r.resource_id, r.arn, r.name,
               r.deleted_at IS NOT NULL, r.current_snapshot_id, s.sha256
        FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(region, type, id)
        CROSS JOIN LATERAL (
            SELECT * FROM {_RESOURCE} r
            WHERE r.account_id = %s AND r.region = k.region
              AND r.resource_type = k.type AND r.resource_id = k.id
            FOR UPDATE
        ) r
        LEFT JOIN {_SNAPSHOT} s ON s.id = r.current_snapshot_id
        """,  # noqa: S608 (table names from the models' meta)
        [regions, types, ids, account_id],
    )
    return {
        (region, rtype, rid): _Stored(pk, arn, name, deleted, snapshot_id, sha)
        for pk, region, rtype, rid, arn, name, deleted, snapshot_id, sha in cursor
    }


def _snapshot_ids(cursor: CursorWrapper, count: int) -> list[int]:
    """``count`` fresh snapshot ids from the table's sequence."""
    if not count:
        return []
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [_SNAPSHOT, count],
    )
    return [row[0] for row in cursor]


def _insert_resources(
    cursor: CursorWrapper,
    unit: ScanUnit,
    clock: datetime,
    keys: list[Key],
    prepared: dict[Key, Prepared],
    snapshot_ids: dict[Key, int],
) -> dict[Key, int]:
    """Insert the resources of ``keys``, each pointing at its new snapshot.

    Returns the ids of those inserted; a key another transaction inserted
    since ``_lock`` is skipped (ON CONFLICT waits for it to commit).
    """
    if not keys:
        return {}
    regions, types, ids = (list(column) for column in zip(*keys, strict=True))
    cursor.execute(
        f"""
        INSERT INTO {_RESOURCE} (account_id, service, unit_region, region,
            resource_type, resource_id, arn, name, first_seen, current_snapshot_id)
        SELECT %s, %s, %s, k.region, k.type, k.id, k.arn, k.name, %s, k.snapshot
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                    %s::bigint[]) AS k(region, type, id, arn, name, snapshot)
        ON CONFLICT (account_id, region, resource_type, resource_id) DO NOTHING
        RETURNING id, region, resource_type, resource_id
        """,  # noqa: S608 (table name from the model's meta)
        [
            unit.account_id,
            unit.service,
            unit.region,
            clock,
            regions,
            types,
            ids,
            [prepared[key].arn for key in keys],
            [prepared[key].name for key in keys],
            [snapshot_ids[key] for key in keys],
        ],
    )
    return {(region, rtype, rid): pk for pk, region, rtype, rid in cursor}


def _close_snapshots(cursor: CursorWrapper, ids: list[int], clock: datetime) -> None:
    """End the replaced snapshots (before their successors: one current each).

    A revived resource's snapshot already ended when it went missing, and
    keeps that end."""
    if ids:
        cursor.execute(
            f"UPDATE {_SNAPSHOT} SET valid_to = %s "  # noqa: S608
            "WHERE id = ANY(%s::bigint[]) AND valid_to IS NULL",
            [clock, ids],
        )


def _copy_snapshots(
    cursor: CursorWrapper,
    rows: list[tuple[int, int, Prepared]],
    clock: datetime,
    scan_id: int,
) -> None:
    """COPY the new snapshots: their canonical JSON goes in as it was hashed."""
    if not rows:
        return
    sql = (
        f"COPY {_SNAPSHOT} (id, resource_id, sha256, config, tags, valid_from, "
        "scan_id) FROM STDIN"
    )
    with cursor.copy(sql) as copy:
        for snapshot_id, resource_id, record in rows:
            copy.write_row(
                (
                    snapshot_id,
                    resource_id,
                    record.sha256,
                    record.config_json,
                    record.tags_json,
                    clock,
                    scan_id,
                )
            )


def _update_resources(
    cursor: CursorWrapper, rows: list[tuple[int, Prepared, int | None]]
) -> None:
    """Revive, rename and re-point the changed resources in one statement."""
    if not rows:
        return
    cursor.execute(
        f"""
        UPDATE {_RESOURCE} r
        SET arn = k.arn, name = k.name, deleted_at = NULL,
            current_snapshot_id = COALESCE(k.snapshot, r.current_snapshot_id)
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[])
             AS k(id, arn, name, snapshot)
        WHERE r.id = k.id
        """,  # noqa: S608 (table name from the model's meta)
        [
            [pk for pk, _, _ in rows],
            [record.arn for _, record, _ in rows],
            [record.name for _, record, _ in rows],
            [snapshot for _, _, snapshot in rows],
        ],
    )


#: Up to this many seen ids go to the deletion sweep as one array parameter;
#: more are streamed into a temporary table instead, so that sweeping a very
#: large unit does not build a query text the size of its ids.
SEEN_INLINE_MAX = 10_000


def mark_missing_deleted(
    unit: ScanUnit, seen_ids: Collection[int], clock: datetime
) -> int:
    """Resources of a SUCCESSFUL unit's scope that it no longer returned.

    Only called after the unit collected without error: a failed unit never
    deletes anything (unknown is not deleted). The seen ids are matched by a
    hashed array or an indexed table: an anti-join against ``unnest`` would
    loop over them for each row when a fresh table's statistics say "one row".
    """
    staged = len(seen_ids) > SEEN_INLINE_MAX
    with transaction.atomic(), connection.cursor() as cursor:
        if staged:
            _stage_seen(cursor, seen_ids)
            unseen, params = (
                "NOT EXISTS (SELECT 1 FROM store_seen s WHERE s.id = r.id)",
                [],
            )
        else:
            unseen, params = "r.id <> ALL(%s::bigint[])", [list(seen_ids)]
        cursor.execute(
            f"""
            UPDATE {_RESOURCE} r SET deleted_at = %s
            WHERE r.account_id = %s AND r.service = %s AND r.unit_region = %s
              AND r.deleted_at IS NULL AND {unseen}
            RETURNING r.id
            """,  # noqa: S608 (table name from the model's meta, fixed conditions)
            [clock, unit.account_id, unit.service, unit.region, *params],
        )
        gone_ids = [row[0] for row in cursor]
        if gone_ids:
            cursor.execute(
                f"""
                UPDATE {_SNAPSHOT} SET valid_to = %s
                WHERE resource_id = ANY(%s::bigint[]) AND valid_to IS NULL
                """,  # noqa: S608 (table name from the model's meta)
                [clock, gone_ids],
            )
        if staged:
            cursor.execute("DROP TABLE store_seen")
    return len(gone_ids)


def _stage_seen(cursor: CursorWrapper, seen_ids: Iterable[int]) -> None:
    """The seen ids in an indexed temporary table, COPYed a row at a time."""
    cursor.execute("CREATE TEMPORARY TABLE store_seen (id bigint) ON COMMIT DROP")
    with cursor.copy("COPY store_seen (id) FROM STDIN") as copy:
        for pk in seen_ids:
            copy.write_row((pk,))
    cursor.execute("CREATE INDEX ON store_seen (id)")
