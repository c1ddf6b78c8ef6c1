"""The daily beat entry that prunes raw history past PARAPET_RETENTION_DAYS.

Rollups are never pruned; see findings/retention.py for what is.
"""

from django.db import migrations

from config.beat import periodic_task


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0005_exception_expiry_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_task(
            name="Prune raw history past the retention period",
            task="findings.prune_history",
            # 03:30 UTC: away from the hour, when digests go out and scans start.
            crontab={"minute": "30", "hour": "3"},
            description="Deletes snapshots, status changes and scan units older "
            "than PARAPET_RETENTION_DAYS (0: keep forever) in small batches "
            "(findings/retention.py). Rollups, and so trends, are kept.",
        )
    ]
