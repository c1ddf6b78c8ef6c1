"""The hourly beat entry that sends the email digests due that hour."""

from django.db import migrations

from config.beat import periodic_task


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0002_digests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_task(
            name="Send email digests due this hour",
            task="findings.send_due_digests",
            # On the hour: a digest set for 08:00 goes out a moment after 08:00.
            crontab={"minute": "0"},
            description="Claims and sends every email digest whose send time "
            "has passed (findings/digests.py). Each user gets one digest per "
            "period however often this runs.",
        )
    ]
