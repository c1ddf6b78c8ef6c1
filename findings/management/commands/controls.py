from django.core.management.base import BaseCommand

from findings.catalog_docs import catalog_markdown
from findings.controls import REGISTRY
from findings.exports import csv_lines

COLUMNS = ["id", "title", "section", "severity", "resource_type", "cis", "fsbp"]


class Command(BaseCommand):
    help = "List the control catalog."

    def add_arguments(self, parser):
        parser.add_argument(
            "--format", choices=["table", "csv", "markdown"], default="table"
        )
        parser.add_argument(
            "--output", help="write to this file instead of stdout (markdown)"
        )

    def handle(self, *args, **opts):
        if opts["format"] == "markdown":
            text = catalog_markdown()
            if opts["output"]:
                with open(opts["output"], "w", encoding="utf-8") as f:
                    f.write(text)
                self.stdout.write(f"Wrote {len(REGISTRY)} controls to {opts['output']}")
            else:
                self.stdout.write(text, ending="")
            return
        controls = sorted(REGISTRY.values(), key=lambda c: (c.section, c.id))
        rows = [
            [
                c.id,
                c.title,
                c.section,
                c.severity.value,
                c.resource_type,
                c.cis,
                ";".join(c.fsbp),
            ]
            for c in controls
        ]
        if opts["format"] == "csv":
            for line in csv_lines(COLUMNS, rows):
                self.stdout.write(line, ending="")
            return
        for c in controls:
            self.stdout.write(f"{c.id:<48} {c.severity.value:<9} {c.title}")
        self.stdout.write(f"{len(controls)} controls")
