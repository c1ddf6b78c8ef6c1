from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from findings import retention

LABELS = {
    "finding_changes": "status changes",
    "snapshots": "snapshots",
    "scan_units": "scan units",
    "findings": "findings",
    "resources": "deleted resources",
}


class Command(BaseCommand):
    help = (
        "Prune raw history (snapshots, status changes, scan units, long-deleted "
        "resources) older than PARAPET_RETENTION_DAYS, as the nightly beat task "
        "does. Rollups, and so trends, are never pruned."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            metavar="N",
            help="keep N days instead of PARAPET_RETENTION_DAYS "
            "(0 keeps everything; otherwise at least 30)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be pruned; delete nothing",
        )

    def handle(self, *args, **opts):
        days = settings.PARAPET_RETENTION_DAYS if opts["days"] is None else opts["days"]
        # The same rule as the setting's: a typo must not wipe the history.
        if days < 0 or 0 < days < 30:
            raise CommandError(f"--days must be 0 or at least 30, got {days}")
        now = timezone.now()
        cut = retention.cutoff(days, now)
        if cut is None:
            self.stdout.write("Retention is off (0 days): nothing pruned.")
            return
        pruned = retention.prune(days=days, now=now, dry_run=opts["dry_run"])
        verb = "Would prune" if opts["dry_run"] else "Pruned"
        self.stdout.write(
            f"{verb} raw history before {cut:%Y-%m-%d %H:%M} UTC ({days} days):"
        )
        for name, count in pruned.as_dict().items():
            self.stdout.write(f"  {LABELS[name]:<18} {count:>10,}")
        if opts["dry_run"]:
            self.stdout.write("Nothing deleted (--dry-run).")
