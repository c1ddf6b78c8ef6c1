from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from collectors.models import UNIT_COUNTERS, Scan
from collectors.pipeline import (
    ScanError,
    cancel_scan,
    split_list,
    wait_for_scan,
)
from collectors.recovery import NotResumable, resume_scan
from collectors.schedule import ScanBusy, start_scan_unless_busy
from findings.summary import findings_by_status


class Command(BaseCommand):
    help = (
        "Scan an organization through the real pipeline and print a summary, "
        "cancel a scan in progress (--cancel ID), or collect the failed and "
        "cancelled units of a scan again (--resume ID)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="name; optional if only one")
        parser.add_argument("--account", action="append", default=[], help="id")
        parser.add_argument("--regions", default="", help="comma-separated")
        parser.add_argument("--services", default="", help="comma-separated")
        parser.add_argument("--wait", action="store_true", help="wait for the end")
        parser.add_argument("--timeout", type=int, default=3600)
        parser.add_argument(
            "--cancel", type=int, metavar="ID", help="cancel this scan instead"
        )
        parser.add_argument(
            "--resume",
            type=int,
            metavar="ID",
            help="collect this scan's failed and cancelled units again instead",
        )

    def handle(self, *args, **opts):
        if opts["cancel"] is not None:
            self._cancel(opts["cancel"])
            return
        if opts["resume"] is not None:
            scan = self._resume(opts["resume"])
        else:
            scan = self._start(opts)
        if not opts["wait"]:
            return
        scan = wait_for_scan(scan, timeout=opts["timeout"])
        self._summary(scan)
        if not scan.is_done:
            raise CommandError(f"Scan #{scan.pk} did not finish within the timeout.")
        if scan.status == Scan.Status.FAILED:
            raise CommandError(
                f"Scan #{scan.pk}: nothing could be scanned. {scan.message} "
                "See the unit errors above."
            )

    def _start(self, opts) -> Scan:
        org = self._organization(opts["organization"])
        accounts = [a for value in opts["account"] for a in split_list(value)]
        try:
            scan = start_scan_unless_busy(
                org.pk,
                trigger=Scan.Trigger.CLI,
                account_ids=accounts or None,
                regions=split_list(opts["regions"]) or None,
                services=split_list(opts["services"]) or None,
            )
        except ScanBusy as busy:
            raise CommandError(
                f"{busy} Scans of an organization never overlap: wait for it, "
                f"or cancel it with --cancel {busy.active.pk}."
            ) from None
        except ScanError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Scan #{scan.pk} of {org.name}: {scan.units.count()} units "
            f"({', '.join(scan.services)} in {', '.join(scan.regions)})"
        )
        return scan

    def _resume(self, scan_id: int) -> Scan:
        scan = Scan.objects.filter(pk=scan_id).first()
        if scan is None:
            raise CommandError(f"No scan #{scan_id}.")
        try:
            count = resume_scan(scan_id, by="the command line")
        except NotResumable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Scan #{scan_id} resumed: {count} units to collect again; "
            "the scan is evaluated again when they are done."
        )
        return scan

    def _cancel(self, scan_id: int) -> None:
        scan = Scan.objects.filter(pk=scan_id).first()
        if scan is None:
            raise CommandError(f"No scan #{scan_id}.")
        if not cancel_scan(scan_id, by="the command line"):
            raise CommandError(
                f"Scan #{scan_id} had already ended "
                f"({scan.get_status_display().lower()}): nothing to cancel."
            )
        self.stdout.write(
            f"Scan #{scan_id} cancelled: units not collected yet will not be, "
            "and it will not be evaluated."
        )

    def _organization(self, name: str | None) -> Organization:
        if name:
            try:
                return Organization.objects.get(name=name)
            except Organization.DoesNotExist:
                raise CommandError(f"No organization named {name!r}.") from None
        orgs = list(Organization.objects.all()[:2])
        if len(orgs) != 1:
            raise CommandError(
                "Name the organization with --organization"
                if orgs
                else "No organization yet: run add_organization first."
            )
        return orgs[0]

    def _summary(self, scan: Scan) -> None:
        counts = scan.units.aggregate(**UNIT_COUNTERS)
        units = scan.units.select_related("account")
        denied = sum(1 for u in units if u.error_kind == "access_denied")
        resources = counts["resources"] or 0
        self.stdout.write(
            f"Scan #{scan.pk} {scan.get_status_display().lower()}: "
            f"units ok {counts['ok']}, denied {denied}, "
            f"failed {counts['failed'] - denied}, skipped {counts['skipped']}; "
            f"{resources} resources"
        )
        for unit in units:
            if unit.status == unit.Status.FAILED:
                self.stdout.write(
                    f"  gap: {unit.account.account_id} {unit.region} {unit.service}: "
                    f"{unit.get_error_kind_display()}: {unit.error_message}"
                )
        by_status = findings_by_status(scan.organization)
        self.stdout.write(
            "Findings: " + ", ".join(f"{status} {n}" for status, n in by_status.items())
        )
