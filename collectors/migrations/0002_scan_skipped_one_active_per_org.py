"""Scans never overlap: a SKIPPED status and at most one active scan per organization.

Before the constraint is added, older overlapping scans still marked active
(left behind by a vanished worker) are cancelled, newest kept.
"""

from django.db import migrations, models

ACTIVE = ["pending", "running", "evaluating"]


def cancel_overlapping(apps, schema_editor):
    Scan = apps.get_model("collectors", "Scan")
    from django.utils import timezone

    newest = (
        Scan.objects.filter(status__in=ACTIVE)
        .order_by("organization_id", "-started_at")
        .distinct("organization_id")
        .values("pk")
    )
    Scan.objects.filter(status__in=ACTIVE).exclude(pk__in=newest).update(
        status="cancelled",
        finished_at=timezone.now(),
        message="Cancelled by the upgrade: a newer scan of the organization "
        "was also in progress.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="scan",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("running", "Collecting"),
                    ("evaluating", "Evaluating"),
                    ("finished", "Finished"),
                    ("partial", "Finished with gaps"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                    ("skipped", "Skipped"),
                ],
                default="pending",
                max_length=12,
            ),
        ),
        migrations.RunPython(cancel_overlapping, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="scan",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ACTIVE)),
                fields=("organization",),
                name="scan_one_active_per_org",
            ),
        ),
    ]
