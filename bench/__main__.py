"""``python -m bench`` (``make bench``): run every figure, print one table.

Exits 0 whatever the figures say (it is a report); non-zero only when the
harness itself broke (a figure could not be measured).
"""

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable


def main() -> int:
    _prepare_environment()
    from bench import scale as scales

    scale = scales.from_env()
    _setup_database()
    from bench.report import Row, table

    rows: list[Row] = []
    broken = False
    rescan = None

    # BENCH_ONLY=3,4: only those figures (a quick loop while working on one).
    only = {f.strip() for f in os.environ.get("BENCH_ONLY", "").split(",") if f.strip()}

    def figure(name: str, measure: Callable[[], list[Row]]) -> None:
        nonlocal broken
        if only and not only & set(name.split()[0].split("-")):
            return
        started = time.monotonic()
        _log(f"{name} ...")
        try:
            measured = measure()
            rows.extend(measured)
            for row in measured:  # progress, for long (full) runs
                _log(f"  {row.figure}: {row.measured} [{row.verdict}]")
        except Exception as exc:  # report it, and go on with the others
            broken = True
            traceback.print_exc()
            rows.append(Row(name, f"harness error: {type(exc).__name__}: {exc}"))
        _log(f"{name} done in {time.monotonic() - started:.0f} s")

    def collection() -> list[Row]:
        nonlocal rescan
        from bench import collection

        found, rescan = collection.run(scale)
        return found

    def evaluation() -> list[Row]:
        from bench import evaluation

        if rescan is None:
            return [Row("4 evaluation", "not run: no scan was collected")]
        return evaluation.run(rescan, scale.evaluation_repeats)

    def dashboard() -> list[Row]:
        from bench import pages

        if _reusing() and pages.generated():
            _log("  BENCH_REUSE=1: measuring the history already there")
        else:
            took = pages.generate(scale)
            _log(f"  synthetic history generated in {took}")
        return pages.dashboard(scale)

    from bench import ingest, pages, unit_memory

    figure("1-2 collection", collection)
    figure("3 ingest", lambda: ingest.run(scale.ingest_records))
    figure("4 evaluation", evaluation)
    figure(
        "7 worker memory",
        lambda: unit_memory.run(scale.unit_resources, scale.regions[0]),
    )
    figure("5 dashboard", dashboard)
    figure("6 export", lambda: pages.export(scale.export_rows))
    rows.sort(key=lambda r: r.figure[:1])

    print(f"\nParapet benchmark, BENCH_SCALE={scale.name}\n")
    print(table(rows))
    return 1 if broken else 0


def _prepare_environment() -> None:
    """Before Django reads its settings: the scratch database, tasks in-process."""
    from bench import database

    url = database.scratch_url()
    if _reusing():
        database.create_missing(url)
    else:
        database.recreate(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The thread-pool figures run tasks in this process; the Celery figures
    # start their own workers on REDIS_URL (see bench.collection.redis_url).
    if os.environ.get("REDIS_URL"):
        os.environ.setdefault("BENCH_REDIS_URL", os.environ.pop("REDIS_URL"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    _log(f"scratch database {url.rsplit('/', 1)[-1].split('?')[0]}")


def _reusing() -> bool:
    """BENCH_REUSE=1: keep the scratch database and the history a previous
    run generated there (migrated to this code), instead of an hour of
    generating at full size. Figures 1-4 and 7 write their own rows either way.
    """
    return os.environ.get("BENCH_REUSE", "").strip() == "1"


def _setup_database() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    # Failed units are expected (moto lacks some APIs): keep the table readable.
    for name in ("collectors", "findings", "accounts", "celery", "kombu"):
        logging.getLogger(name).setLevel(logging.ERROR)
    call_command("migrate", verbosity=0)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
