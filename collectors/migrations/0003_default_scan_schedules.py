"""Every existing organization gets its scan schedule: daily at 02:00 UTC.

New organizations get one when created (collectors/models.py); these are
ordinary django-celery-beat PeriodicTasks, editable on the schedule page and
in the admin. The names and values mirror collectors/schedule.py as of now.
"""

import json

from django.db import migrations

from config.beat import tell_beat

TASK = "collectors.scheduled_scan"
CRONTAB = {
    "minute": "0",
    "hour": "2",
    "day_of_month": "*",
    "month_of_year": "*",
    "day_of_week": "*",
}


def _name(organization_id):
    return f"Scheduled scan of organization #{organization_id}"


def create_schedules(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    organizations = list(Organization.objects.all())
    if not organizations:
        return
    crontab = CrontabSchedule.objects.filter(**CRONTAB, timezone="UTC").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**CRONTAB, timezone="UTC")
    for organization in organizations:
        PeriodicTask.objects.get_or_create(
            name=_name(organization.pk),
            defaults={
                "task": TASK,
                "kwargs": json.dumps({"organization_id": organization.pk}),
                "crontab": crontab,
                "queue": "default",
                "description": f"Scans {organization.name}. A start while a scan "
                "of it is in progress is skipped and recorded "
                "(collectors/schedule.py).",
            },
        )
    tell_beat(apps)


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=TASK).delete()
    tell_beat(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0002_scan_skipped_one_active_per_org"),
        ("accounts", "0002_organization_services"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
