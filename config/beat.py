"""Beat entries that migrations create: ordinary django-celery-beat PeriodicTasks.

Being rows, not settings, an administrator can move or disable them in the admin
(Periodic tasks), and a running beat picks the change up. A migration adds one
with ``periodic_task(...)``; reversing it removes the entry and a schedule
nothing else uses. Only django-celery-beat's historical models are touched.
"""

from functools import partial
from typing import Any

from django.db import migrations

CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def periodic_task(
    *,
    name: str,
    task: str,
    description: str,
    crontab: dict[str, str] | None = None,
    every_minutes: int | None = None,
    queue: str = "default",
) -> migrations.RunPython:
    """A migration operation adding the entry ``name`` (kept if it exists)."""
    if (crontab is None) == (every_minutes is None):
        raise ValueError("give exactly one of crontab and every_minutes")
    entry = {
        "name": name,
        "task": task,
        "description": description,
        "crontab": crontab,
        "every_minutes": every_minutes,
        "queue": queue,
    }
    return migrations.RunPython(partial(_add, **entry), partial(_remove, **entry))


def _schedule(apps, crontab, every_minutes) -> tuple[Any, dict]:
    if crontab is not None:
        values = {f: crontab.get(f, "*") for f in CRONTAB_FIELDS} | {"timezone": "UTC"}
        return apps.get_model("django_celery_beat", "CrontabSchedule"), values
    values = {"every": every_minutes, "period": "minutes"}
    return apps.get_model("django_celery_beat", "IntervalSchedule"), values


def _add(
    apps, schema_editor, *, name, task, description, crontab, every_minutes, queue
):
    model, values = _schedule(apps, crontab, every_minutes)
    schedule = model.objects.filter(**values).first() or model.objects.create(**values)
    field = "crontab" if crontab is not None else "interval"
    apps.get_model("django_celery_beat", "PeriodicTask").objects.get_or_create(
        name=name,
        defaults={
            "task": task,
            field: schedule,
            "queue": queue,
            "description": description,
        },
    )
    tell_beat(apps)


def _remove(apps, schema_editor, *, name, crontab, every_minutes, **_):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name=name
    ).delete()
    model, values = _schedule(apps, crontab, every_minutes)
    model.objects.filter(**values, periodictask__isnull=True).delete()
    tell_beat(apps)


def tell_beat(apps) -> None:
    # A running beat reloads its schedule when this timestamp moves (the
    # model's save signals, which a migration's historical models lack).
    from django.utils import timezone

    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )
