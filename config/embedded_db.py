"""An embedded PostgreSQL for machines that have none (``make demo``, ``make test``).

When ``DATABASE_URL`` is unset, a private PostgreSQL server is started from the
``pgserver`` package in a git-ignored data folder and ``DATABASE_URL`` is pointed
at it, before Django reads its settings. With ``DATABASE_URL`` set, nothing here
runs.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def ensure_database_url() -> None:
    if os.environ.get("DATABASE_URL"):
        return
    import logging
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI).
        warnings.simplefilter("ignore")
        import pgserver
    # pgserver logs at interpreter exit, after stream handlers have closed.
    logging.getLogger("pgserver").setLevel(logging.ERROR)

    data_dir = Path(os.environ.get("PARAPET_PGDATA", BASE_DIR / ".pgdata"))
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None leaves the server running for the next command, which
    # reuses it; `make stop-db` stops it.
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    os.environ["DATABASE_URL"] = server.get_uri()
    os.environ.setdefault("PARAPET_EMBEDDED_DB", "1")
