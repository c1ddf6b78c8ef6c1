"""A malformed setting stops start-up with the variable's name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_int, env_list

REPO = Path(__file__).resolve().parents[2]


def test_env_helpers_name_the_variable(monkeypatch):
    monkeypatch.setenv("PARAPET_X", "maybe")
    with pytest.raises(ImproperlyConfigured, match="PARAPET_X"):
        env_bool("PARAPET_X")
    monkeypatch.setenv("PARAPET_N", "ten")
    with pytest.raises(ImproperlyConfigured, match="PARAPET_N must be an integer"):
        env_int("PARAPET_N", 1)
    monkeypatch.setenv("PARAPET_N", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env_int("PARAPET_N", 1, minimum=5)
    monkeypatch.setenv("PARAPET_L", " a, b ,,c ")
    assert env_list("PARAPET_L") == ["a", "b", "c"]


def test_database_url_forms():
    db = database_from_url(
        "DATABASE_URL", "postgres://u:p%40ss@db.internal:6543/parapet"
    )
    assert (db["HOST"], db["PORT"], db["USER"], db["PASSWORD"], db["NAME"]) == (
        "db.internal",
        "6543",
        "u",
        "p@ss",
        "parapet",
    )
    socket = database_from_url(
        "DATABASE_URL", "postgresql://postgres:@/postgres?host=/tmp/pg"
    )
    assert socket["HOST"] == "/tmp/pg"
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must be a postgres"):
        database_from_url("DATABASE_URL", "mysql://x@y/z")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARAPET_AWS_MAX_ATTEMPTS", "lots"),
        ("PARAPET_WORKER_MAX_MEMORY_MB", "1GB"),
        ("PARAPET_HTTPS", "perhaps"),
        ("PARAPET_ENV", "staging"),
        ("DATABASE_URL", "sqlite:///x.db"),
    ],
)
def test_malformed_setting_stops_startup(variable, value):
    env = {**os.environ, variable: value}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parapet")
    env[variable] = value
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_requires_a_secret_key():
    env = {
        **os.environ,
        "PARAPET_ENV": "production",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/parapet",
    }
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_sessions_run_without_postgres_jit():
    """JIT compiling cost seconds on aggregates that run in milliseconds."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
