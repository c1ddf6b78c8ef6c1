"""The beat entry that reaps units whose worker stopped responding: every 5 min.

See collectors/recovery.py.
"""

from django.db import migrations

from config.beat import periodic_task


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0003_default_scan_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_task(
            name="Reap scan units whose worker stopped responding",
            task="collectors.reap_stuck_units",
            every_minutes=5,
            description="Marks failed the scan units whose heartbeat is older "
            "than PARAPET_UNIT_HEARTBEAT_TIMEOUT, finishes the scans left with "
            "nothing to wait for, and sends again units whose messages were lost "
            "(collectors/recovery.py).",
        )
    ]
