"""The beat entry that logs expired exceptions and recounts the current rollups.

Exceptions stop applying at their expiry whatever this does; the sweep writes
the audit log and moves the counts.
"""

from django.db import migrations

from config.beat import periodic_task


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0004_suppressions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        periodic_task(
            name="Record expired exceptions",
            task="findings.expire_exceptions",
            every_minutes=10,
            description="Writes an 'expired' entry in the exceptions' audit log "
            "once per exception and recounts the dashboard's current counts "
            "(findings/suppressions.py expire_due).",
        )
    ]
