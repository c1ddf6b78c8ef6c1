"""A web process starts with its views and templates loaded and frozen, so
full garbage collections during requests skip them (config/warmup.py)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc
import config.wsgi
from django.template import engines
loader = engines["django"].engine.template_loaders[0]
print(gc.get_freeze_count(), len(gc.get_objects()), len(loader.get_template_cache))
"""


def test_the_wsgi_application_starts_warm_and_frozen():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    frozen, tracked, templates = map(int, done.stdout.split())
    # Everything loaded at start-up is out of the collector's way...
    assert frozen > 50_000
    assert tracked < 5_000
    # ...including every page's templates, compiled once.
    assert templates >= len(list((ROOT / "templates").rglob("*.html")))
