"""Run a few lines in a fresh interpreter, as a process starts: what it
prints. For what happens once per process (start-up, settings)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, **env: str) -> str:
    """The standard output of ``code`` run with the project's settings and
    ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
