"""Unit counters on the scan row, so the scan pages read one row per scan.

The scans page and scans.csv aggregated every unit of the scans they list;
they now read ``counted_*``, written when a scan ends
(``ScanQuerySet.count_units``). Scans that had ended before this migration
are counted here, from their units; scans in progress are counted when they
end. In reverse the counts go with the fields.
"""

from django.db import migrations, models

# Frozen here rather than calling ScanQuerySet.count_units, which follows the
# model as it is now: the same counts (collectors.models.UNIT_COUNTERS).
COUNT_ENDED_SCANS = """
UPDATE collectors_scan AS scan SET
    (counted_total, counted_ok, counted_failed, counted_skipped,
     counted_resumable, counted_api_calls, counted_resources) = (
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE u.status = 'ok'),
               COUNT(*) FILTER (WHERE u.status = 'failed'),
               COUNT(*) FILTER (WHERE u.status = 'skipped'),
               COUNT(*) FILTER (WHERE u.status = 'failed'
                                OR (u.status = 'skipped' AND u.error_kind = '')),
               COALESCE(SUM(u.api_calls), 0),
               COALESCE(SUM(u.resources), 0)
        FROM collectors_scanunit AS u
        WHERE u.scan_id = scan.id
    ),
    counted_at = now()
WHERE scan.status NOT IN ('pending', 'running', 'evaluating')
"""


def _counter(name: str, field: models.Field) -> migrations.AddField:
    return migrations.AddField(model_name="scan", name=name, field=field)


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0004_reap_stuck_units_schedule"),
    ]

    operations = [
        _counter("counted_at", models.DateTimeField(blank=True, null=True)),
        _counter("counted_total", models.PositiveIntegerField(default=0)),
        _counter("counted_ok", models.PositiveIntegerField(default=0)),
        _counter("counted_failed", models.PositiveIntegerField(default=0)),
        _counter("counted_skipped", models.PositiveIntegerField(default=0)),
        _counter("counted_resumable", models.PositiveIntegerField(default=0)),
        _counter("counted_api_calls", models.BigIntegerField(default=0)),
        _counter("counted_resources", models.BigIntegerField(default=0)),
        migrations.RunSQL(COUNT_ENDED_SCANS, reverse_sql=migrations.RunSQL.noop),
    ]
