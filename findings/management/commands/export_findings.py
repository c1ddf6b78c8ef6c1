from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from findings.controls.base import Status
from findings.exports import FINDING_COLUMNS, csv_lines, finding_rows, live_findings


class Command(BaseCommand):
    help = "Write current findings as CSV on stdout."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="organization name")
        parser.add_argument(
            "--status", choices=[s.value for s in Status], help="only this status"
        )
        parser.add_argument("--format", choices=["csv"], default="csv")

    def handle(self, *args, **opts):
        findings = live_findings()
        if opts["organization"]:
            try:
                org = Organization.objects.get(name=opts["organization"])
            except Organization.DoesNotExist:
                raise CommandError(
                    f"No organization named {opts['organization']!r}."
                ) from None
            findings = findings.filter(account__organization=org)
        if opts["status"]:
            findings = findings.filter(status=opts["status"])
        for line in csv_lines(FINDING_COLUMNS, finding_rows(findings)):
            self.stdout.write(line, ending="")
