"""The snapshot store's writes: only changes, in a fixed number of statements."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectors import store
from collectors.base import ResourceRecord
from collectors.models import GLOBAL_REGION, Resource, Snapshot
from collectors.store import digest, mark_missing_deleted, store_records
from findings.tests.factories import make_account, make_org, make_scan, make_unit

pytestmark = pytest.mark.django_db

T1 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)


@pytest.fixture
def units():
    """Two scans' s3 units of one account (global service)."""
    account = make_account(make_org())
    first = make_unit(
        make_scan(account.organization, at=T1), account, region=GLOBAL_REGION
    )
    second = make_unit(
        make_scan(account.organization, at=T2), account, region=GLOBAL_REGION
    )
    return first, second


def bucket(name: str, **config) -> ResourceRecord:
    return ResourceRecord(
        resource_type="AWS::S3::Bucket",
        resource_id=name,
        arn=f"arn:aws:s3:::{name}",
        name=name,
        tags={"team": "data"},
        config={"Name": name, **config},
    )


def versions() -> dict[int, int]:
    """Row version (xmin) of every resource: it moves whenever a row is written."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text::bigint FROM collectors_resource")
        return dict(cursor.fetchall())


def check_deferred_constraints() -> None:
    """The foreign keys a commit would check (tests never commit)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_new_records_become_resources_pointing_at_their_snapshot(units):
    first, _ = units
    awkward = 'tab\there, newline\n, backslash \\, "quotes", é, 🙂'
    records = [bucket("logs", Policy={"Sid": awkward}), bucket("site")]

    result = store_records(first, records, T1)

    check_deferred_constraints()
    assert (result.resources, result.snapshots_written) == (2, 2)
    logs = Resource.objects.select_related("current_snapshot").get(resource_id="logs")
    assert set(result.seen_ids) == set(Resource.objects.values_list("pk", flat=True))
    assert (logs.arn, logs.name, logs.first_seen) == ("arn:aws:s3:::logs", "logs", T1)
    assert (logs.service, logs.unit_region, logs.region) == ("s3", "global", "global")
    snapshot = logs.current_snapshot
    assert snapshot.config == {"Name": "logs", "Policy": {"Sid": awkward}}
    assert snapshot.tags == {"team": "data"}
    assert (snapshot.valid_from, snapshot.valid_to) == (T1, None)
    assert snapshot.scan_id == first.scan_id
    assert snapshot.sha256 == digest(records[0])[0]


def test_the_hash_is_unchanged_so_stored_history_is_not_rewritten():
    # Pinned from the store before it assembled the document from its parts:
    # a different hash would write a new snapshot of every resource.
    record = ResourceRecord(
        "AWS::S3::Bucket",
        "logs",
        {
            "Name": "logs",
            "Policy": {"Statement": [{"Effect": "Deny", "Sid": 'tab\there \\ "q" é'}]},
            "CreationDate": datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        },
        arn="arn:aws:s3:::logs",
        name="logs",
        tags={"team": "data", "z": "1"},
    )

    assert digest(record)[0] == (
        "d64824ecb5eb988397371480d02498b1c68d0da65effd8e2bcf715030dc4132c"
    )


def test_an_unchanged_rescan_writes_no_row(units):
    first, second = units
    store_records(first, [bucket("logs"), bucket("site")], T1)
    before = versions()

    result = store_records(second, [bucket("logs"), bucket("site")], T2)

    assert result.snapshots_written == 0
    assert len(set(result.seen_ids)) == 2
    assert versions() == before  # not even rewritten with the same values
    assert Snapshot.objects.count() == 2


def test_a_change_closes_the_old_snapshot_and_touches_only_that_resource(units):
    first, second = units
    store_records(first, [bucket("logs"), bucket("site")], T1)
    site = Resource.objects.get(resource_id="site")
    before = versions()

    result = store_records(
        second, [bucket("logs", Versioning="Enabled"), bucket("site")], T2
    )

    check_deferred_constraints()
    assert result.snapshots_written == 1
    logs = Resource.objects.select_related("current_snapshot").get(resource_id="logs")
    assert logs.current_snapshot.config["Versioning"] == "Enabled"
    timeline = list(logs.snapshots.order_by("valid_from"))
    assert [(s.valid_from, s.valid_to) for s in timeline] == [(T1, T2), (T2, None)]
    assert timeline[1].scan_id == second.scan_id
    assert versions()[site.pk] == before[site.pk]
    assert versions()[logs.pk] != before[logs.pk]


def test_a_renamed_resource_gets_its_new_name_and_a_snapshot(units):
    first, second = units
    store_records(first, [bucket("logs")], T1)
    renamed = ResourceRecord(
        "AWS::S3::Bucket", "logs", {"Name": "logs"}, arn="arn:x", name="Logs 2"
    )

    store_records(second, [renamed], T2)

    logs = Resource.objects.get(resource_id="logs")
    assert (logs.arn, logs.name) == ("arn:x", "Logs 2")
    assert logs.snapshots.count() == 2


def test_only_a_successful_units_missing_resources_are_deleted(units):
    first, second = units
    store_records(first, [bucket("logs"), bucket("site")], T1)
    other = make_unit(second.scan, second.account, service="ec2")
    store_records(other, [bucket("elsewhere")], T2)  # another unit's scope

    stored = store_records(second, [bucket("site")], T2)
    gone = mark_missing_deleted(second, stored.seen_ids, T2)

    assert gone == 1
    logs = Resource.objects.get(resource_id="logs")
    assert logs.deleted_at == T2
    assert not logs.snapshots.filter(valid_to__isnull=True).exists()
    live = Resource.objects.filter(deleted_at__isnull=True)
    assert {r.resource_id for r in live} == {"site", "elsewhere"}


def test_a_large_units_seen_ids_are_staged_in_a_table_for_the_sweep(units, monkeypatch):
    first, second = units
    store_records(first, [bucket(f"b{n}") for n in range(6)], T1)
    monkeypatch.setattr(store, "SEEN_INLINE_MAX", 2)

    stored = store_records(second, [bucket(f"b{n}") for n in (0, 2, 3, 5)], T2)
    gone = mark_missing_deleted(second, stored.seen_ids, T2)
    again = mark_missing_deleted(second, stored.seen_ids, T2)  # table dropped

    assert (gone, again) == (2, 0)
    deleted = Resource.objects.filter(deleted_at=T2)
    assert {r.resource_id for r in deleted} == {"b1", "b4"}
    assert Snapshot.objects.filter(valid_to__isnull=True).count() == 4


def test_a_deleted_resource_found_again_is_revived(units):
    first, second = units
    store_records(first, [bucket("logs")], T1)
    mark_missing_deleted(first, set(), T1)
    assert Resource.objects.get(resource_id="logs").deleted_at == T1

    result = store_records(second, [bucket("logs", Versioning="Enabled")], T2)

    logs = Resource.objects.select_related("current_snapshot").get(resource_id="logs")
    assert logs.deleted_at is None
    assert logs.current_snapshot.config["Versioning"] == "Enabled"
    assert logs.pk in result.seen_ids
    assert logs.snapshots.filter(valid_to__isnull=True).count() == 1


def test_a_deleted_resource_found_again_unchanged_gets_an_open_snapshot(units):
    first, second = units
    store_records(first, [bucket("logs")], T1)
    mark_missing_deleted(first, set(), T1)
    closed = Resource.objects.get(resource_id="logs").current_snapshot

    result = store_records(second, [bucket("logs")], T2)

    logs = Resource.objects.select_related("current_snapshot").get(resource_id="logs")
    assert logs.deleted_at is None
    assert result.snapshots_written == 1
    assert logs.current_snapshot != closed
    assert (logs.current_snapshot.valid_from, logs.current_snapshot.valid_to) == (
        T2,
        None,
    )
    closed.refresh_from_db()
    assert closed.valid_to == T1  # the gap between T1 and T2 stays visible


def test_a_resource_a_concurrent_unit_inserted_first_is_not_duplicated(
    units, monkeypatch
):
    # The other unit commits between this batch's lock and its insert: the
    # insert skips the row, which is then locked and treated as known.
    first, second = units
    store_records(first, [bucket("logs")], T1)
    real_lock = store._lock
    calls = []

    def lock_missing_it_once(cursor, account_id, keys):
        calls.append(keys)
        return {} if len(calls) == 1 else real_lock(cursor, account_id, keys)

    monkeypatch.setattr(store, "_lock", lock_missing_it_once)

    result = store_records(second, [bucket("logs", Versioning="Enabled")], T2)

    check_deferred_constraints()
    assert len(calls) == 2
    assert Resource.objects.count() == 1
    logs = Resource.objects.select_related("current_snapshot").get()
    assert logs.current_snapshot.config["Versioning"] == "Enabled"
    assert logs.snapshots.filter(valid_to__isnull=True).count() == 1
    assert (result.snapshots_written, list(result.seen_ids)) == (1, [logs.pk])


def test_statements_per_batch_do_not_grow_with_its_records(
    units, django_assert_max_num_queries, monkeypatch
):
    first, second = units
    monkeypatch.setattr(store, "BATCH_SIZE", 50)
    records = [bucket(f"b{n}") for n in range(120)]  # 3 batches
    # Per batch: savepoint, SET LOCAL, lock, ids, insert, COPY, release.
    with django_assert_max_num_queries(3 * 7):
        store_records(first, records, T1)
    changed = [bucket(f"b{n}", Versioning="Enabled") for n in range(120)]
    # Savepoint, SET LOCAL, lock, ids, close, COPY, update, release.
    with django_assert_max_num_queries(3 * 8):
        result = store_records(second, changed, T2)

    assert result.snapshots_written == 120
    assert Snapshot.objects.filter(valid_to__isnull=True).count() == 120
    assert Snapshot.objects.count() == 240


def test_known_resources_are_looked_up_by_key_whatever_the_statistics(units):
    """A batch probes the identity index once per record, never reads the
    whole account: an account's first scan fills the table after its
    statistics were taken (here, never analyzed at all)."""
    first, second = units
    store_records(first, (bucket(f"b-{n:05d}") for n in range(3000)), T1)
    with CaptureQueriesContext(connection) as captured:
        result = store_records(second, [bucket("b-00042"), bucket("b-02999")], T2)
    assert result.snapshots_written == 0

    (lock,) = [q["sql"] for q in captured if "FOR UPDATE" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + lock)
        plan = cursor.fetchone()[0]
    scans = []

    def walk(node: dict) -> None:
        if node.get("Relation Name") == Resource._meta.db_table:
            scans.append(
                (node["Node Type"], node.get("Index Name"), node["Actual Rows"])
            )
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    assert scans == [("Index Scan", "resource_identity", 1)]
