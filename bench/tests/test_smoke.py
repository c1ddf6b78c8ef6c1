"""``make bench`` must keep working: the whole harness at a tiny scale.

Runs ``python -m bench`` as ``make bench`` does, against its own scratch
database on the test run's PostgreSQL server (never the test database), and
checks that every figure was measured and printed with its target.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FIGURES = ("1 collection", "2 unchanged rescan", "3 ingest", "4 evaluation")
FIGURES += ("4 evaluation, reads held in memory",)
FIGURES += ("5 page: overview", "5 page: explorer", "6 export", "7 worker memory")


def _server_url(name: str) -> str:
    """A URL for database ``name`` on the server the tests use."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db["PASSWORD"] else user
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{name}?host={db['HOST']}"
    return (
        f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    )


def test_the_benchmark_runs_and_prints_every_figure():
    from bench import database

    name = f"parapet_bench_smoke_{os.getpid()}"
    env = {
        **os.environ,
        "BENCH_SCALE": "tiny",
        "DATABASE_URL": _server_url("postgres"),
        "BENCH_DATABASE": name,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bench"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        database.drop(_server_url(name))
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    for figure in FIGURES:
        assert f"| {figure}" in table, f"{figure} missing from:\n{table}"
    assert "harness error" not in table
    # The scans collected through the simulator: calls were made and counted.
    calls = re.search(r"first scan +\| [^|]*?, (\d+) calls", table)
    assert calls and int(calls.group(1)) > 0, table
    assert "≤ 5× bare, ≤ 30 queries" in table
