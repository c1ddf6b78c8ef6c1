"""The hourly beat entry that sends the email digests due that hour.

It is an ordinary django-celery-beat PeriodicTask, so an administrator can
change its schedule or disable it in the admin (Periodic tasks).
"""

from django.db import migrations

TASK_NAME = "Send email digests due this hour"
TASK = "findings.send_due_digests"
# On the hour: a digest set for 08:00 goes out a moment after 08:00.
CRONTAB = {
    "minute": "0",
    "hour": "*",
    "day_of_week": "*",
    "day_of_month": "*",
    "month_of_year": "*",
}


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab = CrontabSchedule.objects.filter(**CRONTAB, timezone="UTC").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**CRONTAB, timezone="UTC")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "queue": "default",
            "description": "Claims and sends every email digest whose send time "
            "has passed (findings/digests.py). Each user gets one digest per "
            "period however often this runs.",
        },
    )
    _tell_beat(PeriodicTasks)


def remove_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()
    CrontabSchedule.objects.filter(
        **CRONTAB, timezone="UTC", periodictask__isnull=True
    ).delete()
    _tell_beat(PeriodicTasks)


def _tell_beat(PeriodicTasks):
    # A running beat reloads its schedule when this timestamp moves (the
    # model's save signals, which a migration's historical models lack).
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0002_digests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
