"""A Celery worker keeps its database connection from task to task, as
Django keeps a request's: a scan is thousands of short tasks."""

import time

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from collectors import tasks
from config.celery import app
from config.tests import probe


def _run_task_signals() -> None:
    """What a worker sends around a task (here, outside any task: not eager)."""
    fixup = DjangoWorkerFixup(app)  # Celery's own, as a worker installs it
    for signal, handler in (
        (signals.task_prerun, fixup.on_task_prerun),
        (signals.task_postrun, fixup.on_task_postrun),
    ):
        signal.send(sender=tasks.run_unit, task_id="t", task=tasks.run_unit)
        handler(sender=tasks.run_unit)


@pytest.mark.django_db(transaction=True)
def test_tasks_share_a_connection_until_it_is_too_old():
    connection.ensure_connection()
    opened = connection.connection

    for _ in range(3):
        _run_task_signals()
    assert connection.connection is opened

    connection.close_at = time.monotonic() - 1  # past CONN_MAX_AGE
    _run_task_signals()
    assert connection.connection is not opened


@pytest.mark.django_db
def test_a_task_run_eagerly_keeps_its_callers_transaction():
    """The demo and the tests run tasks in the caller's transaction."""
    from accounts.models import Organization

    Organization.objects.create(name="kept", management_account_id="111122223333")
    result = tasks.reap_stuck_units.apply()

    assert result.successful()
    assert Organization.objects.filter(name="kept").exists()


def test_the_memory_limit_of_a_pool_process_is_given_in_megabytes():
    """Celery counts KiB; the variable says MB."""
    code = (
        "import django; django.setup(); from config.celery import app; "
        "print(app.conf.worker_max_memory_per_child)"
    )
    printed = probe.run(code, PARAPET_WORKER_MAX_MEMORY_MB="200")
    assert printed.split()[-1] == str(200 * 1024)
