"""Figure 4: the engine's evaluations/s ÷ a bare loop over the same calls.

The engine re-evaluates a scan of the simulated organization (reading the
current snapshots, comparing with the stored findings, writing rollups). While
it runs, every (control, resource view, context) it evaluates is recorded; the
baseline then calls the same control functions on exactly those inputs in a
plain loop, with no database and no bookkeeping, its contexts' memos emptied
before each round as the engine's are new. Like the engine's batches, the
loop runs with the cyclic garbage collector paused: its collections would
walk everything the recorded calls hold and slow the baseline, not the
engine.
"""

import statistics
import time

from bench.report import Row, ratio
from collectors.models import Scan
from config.warmup import collector_paused
from findings import engine

TARGET = 0.5


def run(scan: Scan, repeats: int) -> list[Row]:
    calls: list[tuple] = []
    original = engine.run_control

    def recording(control, view, ctx):
        calls.append((control, view, ctx))
        return original(control, view, ctx)

    engine.run_control = recording
    try:
        engine.evaluate_scan(scan)  # warm-up, and the inputs of the bare loop
    finally:
        engine.run_control = original
    if not calls:
        return [Row("4 evaluation", "not run: the scan evaluated nothing")]

    engine_rates = _engine_rates(scan, repeats)
    contexts = {id(ctx): ctx for _control, _view, ctx in calls}.values()
    bare_rates = []
    for _ in range(repeats):
        # As the engine's, each round's contexts start without the values their
        # controls memoise per account (the CIS alarms' parsed patterns).
        for ctx in contexts:
            ctx._memo.clear()
        with collector_paused():
            started = time.perf_counter()
            for control, view, ctx in calls:
                original(control, view, ctx)
            bare_rates.append(len(calls) / (time.perf_counter() - started))
    rate, bare = statistics.median(engine_rates), statistics.median(bare_rates)
    value = rate / bare
    own = statistics.median(_rates_with_reads_held(scan, repeats))
    return [
        Row(
            "4 evaluation: engine ÷ bare loop",
            f"{rate:,.0f}/s ÷ {bare:,.0f}/s = {ratio(value)} "
            f"({len(calls):,} resource × control evaluations, median of {repeats})",
            f"≥ {TARGET}",
            value >= TARGET,
        ),
        Row(
            "4 evaluation, reads held in memory",
            f"{own:,.0f}/s ÷ {bare:,.0f}/s = {ratio(own / bare)}: the engine's "
            "own work (parse, views, compare, count), the database left out",
        ),
    ]


def _rates_with_reads_held(scan: Scan, repeats: int) -> list[float]:
    """The engine's rate with every read answered from memory, as the
    warm-up's rows: what the database costs is the difference with the
    engine's figure, what is left is the engine's own work per resource.
    (An unchanged re-evaluation reads only: nothing is written.)"""
    held: dict[tuple, list[tuple]] = {}
    fetch = engine._fetch

    def from_memory(sql: str, params: list) -> list[tuple]:
        key = (sql, repr(params))
        if key not in held:
            held[key] = fetch(sql, params)
        return held[key]

    engine._fetch = from_memory
    try:
        engine.evaluate_scan(scan)  # fills ``held``
        return _engine_rates(scan, repeats)
    finally:
        engine._fetch = fetch


def _engine_rates(scan: Scan, repeats: int) -> list[float]:
    """Evaluations per second of ``repeats`` re-evaluations of ``scan``."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        evaluated = engine.evaluate_scan(scan)["evaluated"]
        rates.append(evaluated / (time.perf_counter() - started))
    return rates
