"""Figure 3: the snapshot store's rows/s ÷ a raw COPY of the same rows.

The store is given synthetic records shaped like a collector's (an S3 bucket's
configuration, about 1 KB of JSON) for one unit that has never seen them, so
every record becomes a resource and a snapshot. The baseline COPYs the same
resource and snapshot rows, with the same canonical JSON, into scratch copies
of the two tables: what this machine's PostgreSQL can take at best.
"""

import statistics
import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, Organization
from bench.report import Row, ratio
from collectors.base import ResourceRecord
from collectors.models import Resource, Scan, ScanUnit, Snapshot
from collectors.store import canonical, digest, store_records

TARGET = 0.5
REPEATS = 3


def records(count: int, salt: str) -> list[ResourceRecord]:
    return [
        ResourceRecord(
            resource_type="AWS::S3::Bucket",
            resource_id=f"bench-{salt}-{n:07d}",
            arn=f"arn:aws:s3:::bench-{salt}-{n:07d}",
            name=f"bench-{salt}-{n:07d}",
            tags={"team": f"team-{n % 17}", "env": "prod" if n % 3 else "dev"},
            config={
                "Name": f"bench-{salt}-{n:07d}",
                "CreationDate": "2024-05-01T10:00:00+00:00",
                "Versioning": {"Status": "Enabled" if n % 2 else "Suspended"},
                "Encryption": {
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": f"arn:aws:kms:us-east-1:1:key/{n}",
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
                "PublicAccessBlock": dict.fromkeys(
                    (
                        "BlockPublicAcls",
                        "IgnorePublicAcls",
                        "BlockPublicPolicy",
                        "RestrictPublicBuckets",
                    ),
                    n % 5 != 0,
                ),
                "Logging": {"TargetBucket": "logs", "TargetPrefix": f"s3/{n}/"},
                "Policy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [f"arn:aws:s3:::bench-{n}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
                "Lifecycle": [{"ID": "expire", "Status": "Enabled", "Days": 365}],
            },
        )
        for n in range(count)
    ]


def run(count: int) -> list[Row]:
    unit = _scratch_unit()
    store_rates, copy_rates = [], []
    for attempt in range(REPEATS):
        batch = records(count, f"r{attempt}")
        started = time.perf_counter()
        result = store_records(unit, batch, timezone.now())
        store_rates.append(result.resources / (time.perf_counter() - started))
        copy_rates.append(_copy_rate(unit, records(count, f"c{attempt}")))
    # The same records again: nothing changed, nothing written.
    started = time.perf_counter()
    store_records(unit, batch, timezone.now())
    unchanged = count / (time.perf_counter() - started)
    store, copy = statistics.median(store_rates), statistics.median(copy_rates)
    value = store / copy
    return [
        Row(
            "3 ingest: snapshot store ÷ raw COPY",
            f"{store:,.0f} rows/s ÷ {copy:,.0f} rows/s = {ratio(value)} "
            f"({count:,} new records, median of {REPEATS}; "
            f"unchanged re-store {unchanged:,.0f} rows/s)",
            f"≥ {TARGET}",
            value >= TARGET,
        )
    ]


def _scratch_unit() -> ScanUnit:
    organization = Organization.objects.create(
        name="Bench ingest",
        management_account_id="800000000000",
        external_id="bench",
        simulated=True,
    )
    account = Account.objects.create(
        organization=organization, account_id="800000000001", name="ingest"
    )
    scan = Scan.objects.create(
        organization=organization, started_at=timezone.now(), status="running"
    )
    return ScanUnit.objects.create(
        scan=scan, account=account, region="global", service="s3", status="running"
    )


def _copy_rate(unit: ScanUnit, batch: list[ResourceRecord]) -> float:
    """Rows/s of COPYing the store's rows (resource + snapshot per record)."""
    now = timezone.now()
    resource_table = Resource._meta.db_table
    snapshot_table = Snapshot._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        for table in (resource_table, snapshot_table):
            cursor.execute(
                f"CREATE TEMP TABLE bench_{table} (LIKE {table} INCLUDING ALL) "
                "ON COMMIT DROP"
            )
        started = time.perf_counter()
        _copy_rows(cursor, unit, batch, now, resource_table, snapshot_table)
        elapsed = time.perf_counter() - started
    return len(batch) / elapsed


def _copy_rows(cursor, unit, batch, now: datetime, resources: str, snapshots: str):
    resource_sql = (
        f"COPY bench_{resources} (id, account_id, service, unit_region, region, "
        "resource_type, resource_id, arn, name, first_seen) FROM STDIN"
    )
    with cursor.copy(resource_sql) as copy:
        for n, record in enumerate(batch, start=1):
            copy.write_row(
                (
                    n,
                    unit.account_id,
                    unit.service,
                    unit.region,
                    unit.region,
                    record.resource_type,
                    record.resource_id,
                    record.arn,
                    record.name,
                    now,
                )
            )
    snapshot_sql = (
        f"COPY bench_{snapshots} (id, resource_id, sha256, config, tags, "
        "valid_from, scan_id) FROM STDIN"
    )
    with cursor.copy(snapshot_sql) as copy:
        for n, record in enumerate(batch, start=1):
            sha, config, tags = digest(record)
            copy.write_row(
                (n, n, sha, canonical(config), canonical(tags), now, unit.scan_id)
            )
