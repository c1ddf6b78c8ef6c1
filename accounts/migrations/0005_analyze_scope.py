"""Statistics for the scope tables of an existing installation, once.

From now on they are refreshed whenever a team changes (accounts.statistics):
autovacuum never analyzes tables this small.
"""

from django.db import migrations

TABLES = (
    "accounts_organization",
    "accounts_account",
    "accounts_team",
    "accounts_team_accounts",
    "accounts_membership",
)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_audit_event")]

    operations = [
        migrations.RunSQL(f"ANALYZE {', '.join(TABLES)}", migrations.RunSQL.noop),
    ]
