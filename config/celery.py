import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("parapet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _prepare_worker(**kwargs) -> None:
    from config import warmup

    warmup.prepare_worker()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender, **kwargs) -> None:
    """As Django around a request: drop connections past ``CONN_MAX_AGE`` or
    broken, keep the others (``CELERY_DB_REUSE_MAX`` in config/settings.py).
    Not around a task run eagerly: that one runs in its caller's connection,
    perhaps inside its transaction."""
    from django import db

    if not getattr(sender.request, "is_eager", False):
        db.close_old_connections()
