"""Totals per scan x account, kept by PostgreSQL from ControlRollup.

Trends read days x accounts rows here instead of days x accounts x controls
rollups. Three statement-level triggers (insert, update, delete; a trigger
with transition tables fires for one event) hand the (scan, account) pairs a
statement touched to one function, which recomputes those pairs' totals from
ControlRollup: a pair with no rollups left loses its row, the others are
upserted, and a row whose totals did not change is not rewritten. Recomputing
rather than adding deltas means the totals cannot drift from the rollups.

Loads that turn triggers off (``session_replication_role = replica``: the
history generator) write the totals themselves. Existing rollups are summed
once, here.
"""

import django.db.models.deletion
from django.db import migrations, models

COUNTS = "passed, failed, errors, not_applicable, unknown, suppressed"
SUMS = ", ".join(f"sum({c})" for c in COUNTS.split(", "))
NEW = ", ".join(f"EXCLUDED.{c}" for c in ("at", *COUNTS.split(", ")))
OLD = ", ".join(f"t.{c}" for c in ("at", *COUNTS.split(", ")))

PAIRS = {
    "INSERT": "SELECT scan_id, account_id FROM new_rows",
    "UPDATE": "SELECT scan_id, account_id FROM new_rows"
    " UNION SELECT scan_id, account_id FROM old_rows",
    "DELETE": "SELECT scan_id, account_id FROM old_rows",
}

FORWARD = [
    f"""
    CREATE FUNCTION findings_refresh_account_rollups(scans bigint[], accounts bigint[])
    RETURNS void LANGUAGE sql AS $$
        DELETE FROM findings_accountrollup t
        USING unnest(scans, accounts) AS p(scan_id, account_id)
        WHERE t.scan_id = p.scan_id AND t.account_id = p.account_id
          AND NOT EXISTS (
              SELECT 1 FROM findings_controlrollup r
              WHERE r.scan_id = p.scan_id AND r.account_id = p.account_id
          );
        INSERT INTO findings_accountrollup AS t (scan_id, account_id, at, {COUNTS})
        SELECT r.scan_id, r.account_id, max(r.at), {SUMS}
        FROM findings_controlrollup r
        JOIN unnest(scans, accounts) AS p(scan_id, account_id)
          ON r.scan_id = p.scan_id AND r.account_id = p.account_id
        GROUP BY r.scan_id, r.account_id
        ON CONFLICT (scan_id, account_id) DO UPDATE
        SET (at, {COUNTS}) = ({NEW})
        WHERE ({OLD}) IS DISTINCT FROM ({NEW});
    $$
    """,
    f"""
    CREATE FUNCTION findings_account_rollups_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        scans bigint[];
        accounts bigint[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(scan_id), array_agg(account_id) INTO scans, accounts
            FROM ({PAIRS["INSERT"]} GROUP BY 1, 2) AS pairs;
        ELSIF TG_OP = 'UPDATE' THEN
            SELECT array_agg(scan_id), array_agg(account_id) INTO scans, accounts
            FROM ({PAIRS["UPDATE"]}) AS pairs;
        ELSE
            SELECT array_agg(scan_id), array_agg(account_id) INTO scans, accounts
            FROM ({PAIRS["DELETE"]} GROUP BY 1, 2) AS pairs;
        END IF;
        IF scans IS NOT NULL THEN
            PERFORM findings_refresh_account_rollups(scans, accounts);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    *(
        f"""
        CREATE TRIGGER account_rollups_after_{op.lower()}
        AFTER {op} ON findings_controlrollup
        REFERENCING {tables}
        FOR EACH STATEMENT EXECUTE FUNCTION findings_account_rollups_trigger()
        """
        for op, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        )
    ),
    f"""
    INSERT INTO findings_accountrollup (scan_id, account_id, at, {COUNTS})
    SELECT scan_id, account_id, max(at), {SUMS}
    FROM findings_controlrollup GROUP BY scan_id, account_id
    """,
]

BACKWARD = [
    *(
        f"DROP TRIGGER account_rollups_after_{op} ON findings_controlrollup"
        for op in ("insert", "update", "delete")
    ),
    "DROP FUNCTION findings_account_rollups_trigger()",
    "DROP FUNCTION findings_refresh_account_rollups(bigint[], bigint[])",
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_audit_event"),
        ("collectors", "0005_scan_counters"),
        ("findings", "0007_rollup_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountRollup",
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
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
                (
                    "scan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="account_rollups",
                        to="collectors.scan",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["account", "at"], name="account_rollup_trend_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("scan", "account"), name="account_rollup_identity"
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
