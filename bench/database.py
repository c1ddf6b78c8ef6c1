"""The benchmark's scratch database, dropped and created afresh for every run.

On the server of ``DATABASE_URL`` when it is set, else on the embedded
PostgreSQL that ``make demo`` and ``make test`` use. Never the database named
in ``DATABASE_URL`` itself, nor a test database: its name is
``BENCH_DATABASE`` (``parapet_bench`` unless set).
"""

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_NAME = "parapet_bench"


def scratch_url() -> str:
    """DATABASE_URL with the scratch database's name; starts the embedded
    server when no DATABASE_URL is set."""
    from config.embedded_db import ensure_database_url

    ensure_database_url()
    name = os.environ.get("BENCH_DATABASE", DEFAULT_NAME)
    if not name.replace("_", "").isalnum() or name.startswith("test_"):
        raise SystemExit(f"BENCH_DATABASE must be a plain name, not {name!r}")
    parts = urlsplit(os.environ["DATABASE_URL"])
    if parts.path.lstrip("/") == name:
        return os.environ["DATABASE_URL"]
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate(url: str) -> None:
    """Drop the scratch database (closing other sessions on it) and create it."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(_libpq(maintenance), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def create_missing(url: str) -> None:
    """Create the scratch database unless it exists (BENCH_REUSE=1)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(_libpq(maintenance), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _libpq(url: str) -> str:
    """libpq takes postgres:// URLs as they are, ``?host=`` socket dirs included."""
    return url.replace("pgsql://", "postgresql://", 1)


def drop(url: str) -> None:
    """Drop a scratch database (the smoke test cleans up after itself)."""
    parts = urlsplit(url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(_libpq(maintenance), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(parts.path.lstrip("/"))
            )
        )
