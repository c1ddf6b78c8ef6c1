"""Sizes of one run: ``BENCH_SCALE=tiny|small|full`` (small by default).

``BENCH_LATENCY_MS`` overrides the latency added to every AWS call.
"""

import dataclasses
import os
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Scale:
    name: str
    # (1)(2) collection: member accounts × regions, the services scanned
    # (None: all), the latency added to every AWS call, and how many
    # Celery worker processes to try (each with ``worker_concurrency``).
    accounts: int
    regions: tuple[str, ...]
    services: tuple[str, ...] | None
    latency_ms: int
    worker_counts: tuple[int, ...]
    worker_concurrency: int
    # (3) records stored through the snapshot store; (4) engine repetitions.
    ingest_records: int
    evaluation_repeats: int
    # (5) synthetic history and page timing.
    history_accounts: int
    history_resources: int
    history_days: int
    page_repeats: int
    # (6) rows exported; (7) resources returned by one unit.
    export_rows: int
    unit_resources: int


SCALES = {
    "tiny": Scale(
        name="tiny",
        accounts=1,
        regions=("us-east-1",),
        services=("iam", "s3", "ec2"),
        latency_ms=10,
        worker_counts=(),
        worker_concurrency=8,
        ingest_records=500,
        evaluation_repeats=1,
        history_accounts=2,
        history_resources=300,
        history_days=3,
        page_repeats=2,
        export_rows=1_000,
        unit_resources=200,
    ),
    "small": Scale(
        name="small",
        accounts=5,
        regions=("us-east-1", "eu-west-1"),
        services=None,
        latency_ms=100,
        worker_counts=(1, 2),
        worker_concurrency=8,
        ingest_records=5_000,
        evaluation_repeats=3,
        history_accounts=20,
        history_resources=20_000,
        history_days=30,
        page_repeats=9,
        export_rows=100_000,
        unit_resources=10_000,
    ),
    "full": Scale(
        name="full",
        accounts=50,
        regions=("us-east-1", "eu-west-1", "ap-southeast-2"),
        services=None,
        latency_ms=100,
        worker_counts=(1, 2),
        worker_concurrency=8,
        ingest_records=50_000,
        evaluation_repeats=3,
        history_accounts=1_000,
        history_resources=1_000_000,
        history_days=365,
        page_repeats=9,
        export_rows=1_000_000,
        unit_resources=100_000,
    ),
}


def from_env() -> Scale:
    name = os.environ.get("BENCH_SCALE", "small").strip().lower() or "small"
    if name not in SCALES:
        raise ImproperlyConfigured(
            f"BENCH_SCALE must be one of {', '.join(SCALES)}, got {name!r}"
        )
    scale = SCALES[name]
    # BENCH_LATENCY_MS=0 shows the collection floor this machine allows.
    latency = os.environ.get("BENCH_LATENCY_MS", "").strip()
    if latency:
        if not latency.isdigit():
            raise ImproperlyConfigured(
                f"BENCH_LATENCY_MS must be a whole number, got {latency!r}"
            )
        scale = dataclasses.replace(scale, latency_ms=int(latency))
    return scale
