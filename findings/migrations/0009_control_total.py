"""Totals per scan x control over every account, kept by PostgreSQL.

Control and section figures of a user who sees whole organizations read days
x controls rows here instead of days x controls x accounts rollups. Unlike
AccountRollup (0008), which recomputes the pairs a write touched, these are
kept by deltas: a scan writes its rollups in batches of accounts, and summing
every account's rollups of each control again after each batch would read
the scan's rollups once per batch. Three statement-level triggers on
ControlRollup (transition tables) add what a statement inserted, add the
difference of what it updated, and take away what it deleted; a total whose
last rollup went is deleted. A deletion never creates a total, so a scan's
cascade may remove totals and rollups in either order.

The rows a statement touches are locked in key order first, so writers of
the same scan (an evaluation, an exception recount) queue instead of
deadlocking. Loads that turn triggers off (the history generator) call
findings_sum_control_totals for their scans; existing rollups are summed by
it once, here.
"""

import django.db.models.deletion
from django.db import migrations, models


COUNTS = "passed, failed, errors, not_applicable, unknown, suppressed"
_COLUMNS = COUNTS.split(", ")


def _each(template: str) -> str:
    return ", ".join(template.format(c=c) for c in _COLUMNS)


def _lock(keys: str) -> str:
    """Lock the totals of the (scan_id, control_id) pairs ``keys`` selects."""
    return f"""
        PERFORM 1 FROM findings_controltotal t
        JOIN ({keys}) AS k ON t.scan_id = k.scan_id AND t.control_id = k.control_id
        ORDER BY t.scan_id, t.control_id
        FOR UPDATE OF t;
    """


FORWARD = [
    f"""
    CREATE FUNCTION findings_sum_control_totals(scans bigint[]) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO findings_controltotal
            (scan_id, control_id, section, at, accounts, {COUNTS})
        SELECT scan_id, control_id, max(section), max(at), count(*),
               {_each("sum({c})")}
        FROM findings_controlrollup
        WHERE scans IS NULL OR scan_id = ANY(scans)
        GROUP BY scan_id, control_id;
    $$
    """,
    f"""
    CREATE FUNCTION findings_control_totals_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_lock("SELECT DISTINCT scan_id, control_id FROM new_rows")}
        INSERT INTO findings_controltotal AS t
            (scan_id, control_id, section, at, accounts, {COUNTS})
        SELECT scan_id, control_id, max(section), max(at), count(*),
               {_each("sum({c})")}
        FROM new_rows
        GROUP BY scan_id, control_id
        ORDER BY scan_id, control_id
        ON CONFLICT (scan_id, control_id) DO UPDATE SET
            section = EXCLUDED.section,
            at = greatest(t.at, EXCLUDED.at),
            accounts = t.accounts + EXCLUDED.accounts,
            {_each("{c} = t.{c} + EXCLUDED.{c}")};
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION findings_control_totals_updated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {
        _lock(
            "SELECT scan_id, control_id FROM new_rows"
            " UNION SELECT scan_id, control_id FROM old_rows"
        )
    }
        UPDATE findings_controltotal AS t SET
            section = coalesce(d.section, t.section),
            at = coalesce(d.at, t.at),
            accounts = t.accounts + d.accounts,
            {_each("{c} = t.{c} + d.{c}")}
        FROM (
            SELECT scan_id, control_id,
                   max(section) FILTER (WHERE sign = 1) AS section,
                   max(at) FILTER (WHERE sign = 1) AS at,
                   sum(sign) AS accounts,
                   {_each("sum(sign * {c}) AS {c}")}
            FROM (
                SELECT 1 AS sign, * FROM new_rows
                UNION ALL SELECT -1, * FROM old_rows
            ) AS changed
            GROUP BY scan_id, control_id
        ) AS d
        WHERE t.scan_id = d.scan_id AND t.control_id = d.control_id;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION findings_control_totals_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_lock("SELECT DISTINCT scan_id, control_id FROM old_rows")}
        UPDATE findings_controltotal AS t SET
            accounts = t.accounts - d.accounts,
            {_each("{c} = t.{c} - d.{c}")}
        FROM (
            SELECT scan_id, control_id, count(*) AS accounts, {_each("sum({c}) AS {c}")}
            FROM old_rows
            GROUP BY scan_id, control_id
        ) AS d
        WHERE t.scan_id = d.scan_id AND t.control_id = d.control_id;
        DELETE FROM findings_controltotal t
        USING (SELECT DISTINCT scan_id, control_id FROM old_rows) AS k
        WHERE t.scan_id = k.scan_id AND t.control_id = k.control_id
          AND t.accounts = 0;
        RETURN NULL;
    END
    $$
    """,
    *(
        f"""
        CREATE TRIGGER control_totals_after_{op.lower()}
        AFTER {op} ON findings_controlrollup
        REFERENCING {tables}
        FOR EACH STATEMENT EXECUTE FUNCTION findings_control_totals_{verb}()
        """
        for op, verb, tables in (
            ("INSERT", "inserted", "NEW TABLE AS new_rows"),
            ("UPDATE", "updated", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "deleted", "OLD TABLE AS old_rows"),
        )
    ),
    "SELECT findings_sum_control_totals(NULL)",
]

BACKWARD = [
    *(
        f"DROP TRIGGER control_totals_after_{op} ON findings_controlrollup"
        for op in ("insert", "update", "delete")
    ),
    *(
        f"DROP FUNCTION findings_control_totals_{verb}()"
        for verb in ("inserted", "updated", "deleted")
    ),
    "DROP FUNCTION findings_sum_control_totals(bigint[])",
]


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0005_scan_counters"),
        ("findings", "0008_account_rollup"),
    ]

    operations = [
        migrations.CreateModel(
            name="ControlTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("at", models.DateTimeField()),
                ("passed", models.PositiveIntegerField(default=0)),
                ("failed", models.PositiveIntegerField(default=0)),
                ("errors", models.PositiveIntegerField(default=0)),
                ("not_applicable", models.PositiveIntegerField(default=0)),
                ("unknown", models.PositiveIntegerField(default=0)),
                ("suppressed", models.PositiveIntegerField(default=0)),
                ("control_id", models.CharField(max_length=100)),
                ("section", models.CharField(max_length=100)),
                ("accounts", models.PositiveIntegerField(default=0)),
                (
                    "scan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="collectors.scan",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["control_id", "at"], name="control_total_trend_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("scan", "control_id"), name="control_total_identity"
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
