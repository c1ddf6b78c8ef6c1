# Every entry point (manage.py, WSGI/ASGI, the Celery worker, pytest) imports
# this package before the settings, so this is the one place that points
# DATABASE_URL at an embedded PostgreSQL when none is configured. It is the only
# deliberate import-time side effect in the project.
from config.embedded_db import ensure_database_url

ensure_database_url()

from config.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
