"""A version of the rollups, bumped by PostgreSQL on every write to them.

The dashboard caches what it computes from ControlRollup under a key that
includes this version (findings/dashboard.py ``rollup_version``), so a page
never shows figures older than the last evaluation or exception recount.
A statement-level trigger rather than calls in the writers: every path that
writes rollups (the engine, exception recounts, the history generator's COPY,
a cascade from a deleted scan) bumps it, including ones not written yet.

The counter takes its values from a sequence, so a rolled-back write never
hands out a number twice; the epoch is new with every database, so a Redis
shared by several databases (test runs) never mixes their entries. The row is
updated inside the writer's transaction: readers see the new version exactly
when they can see the rows it stands for.
"""

from django.db import migrations

FORWARD = [
    "CREATE SEQUENCE findings_rollup_version_seq",
    """
    CREATE TABLE findings_rollup_version (
        id smallint PRIMARY KEY CHECK (id = 1),
        epoch uuid NOT NULL DEFAULT gen_random_uuid(),
        version bigint NOT NULL DEFAULT nextval('findings_rollup_version_seq')
    )
    """,
    "INSERT INTO findings_rollup_version (id) VALUES (1)",
    """
    CREATE FUNCTION findings_bump_rollup_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE findings_rollup_version
        SET version = nextval('findings_rollup_version_seq') WHERE id = 1;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER rollup_write_bumps_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON findings_controlrollup
    FOR EACH STATEMENT EXECUTE FUNCTION findings_bump_rollup_version()
    """,
]

BACKWARD = [
    "DROP TRIGGER rollup_write_bumps_version ON findings_controlrollup",
    "DROP FUNCTION findings_bump_rollup_version()",
    "DROP TABLE findings_rollup_version",
    "DROP SEQUENCE findings_rollup_version_seq",
]


class Migration(migrations.Migration):
    dependencies = [("findings", "0006_retention_schedule")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
