"""`make demo`: a simulated AWS organization, real scans, then the dashboard."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import Account, Membership, Organization, Team

#: Account-wide exceptions: (account, control, days to expiry, reason, approver).
DEMO_ACCOUNT_EXCEPTIONS = [
    (
        "sandbox",
        "vpc.subnet.no-auto-public-ip",
        90,
        "Sandbox workloads are disposable and hold no customer data (enforced "
        "by SCP); public IPs are accepted there until the sandbox VPC redesign.",
        "CISO (ticket SEC-1042)",
    ),
    (
        "dev",
        "vpc.flow-logs-enabled",
        30,
        "Development VPCs are being rebuilt by the platform team; flow logs "
        "come with the new VPCs.",
        "Head of Platform (ticket SEC-1077)",
    ),
]

#: The demo's scans are a week apart, so its trends and history have a shape.
SCAN_INTERVAL = timedelta(days=7)

DEMO_ORG = "Demo organization"
DEMO_USER = "demo"
DEMO_PASSWORD = "parapet-demo"  # noqa: S105  (a local, simulated demo only)
SCOPED_USER = "dev-lead"


class Command(BaseCommand):
    help = (
        "Start a simulated AWS organization (moto), scan it a few times with "
        "configuration changes in between, create demo users, and serve the "
        "dashboard."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--moto-port", type=int, default=0)
        parser.add_argument("--regions", default="us-east-1,eu-west-1")
        parser.add_argument("--rounds", type=int, default=3, help="scans to run")
        parser.add_argument(
            "--no-serve", action="store_true", help="seed and scan, then exit"
        )

    def handle(self, *args, **opts):
        from demo.seed import apply_drift, seed_organization
        from demo.simulator import start_moto_server, use_endpoint

        regions = [r.strip() for r in opts["regions"].split(",") if r.strip()]
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            self.stdout.write(f"Using the AWS simulator at {endpoint}")
        else:
            _server, endpoint = start_moto_server(opts["moto_port"])
            self.stdout.write(f"Simulated AWS (moto) listening on {endpoint}")
        use_endpoint(endpoint)

        worker = self._start_worker() if settings.REDIS_URL else None
        try:
            self.stdout.write("Seeding the simulated organization ...")
            seed = seed_organization(endpoint, regions=tuple(regions))
            call_command(
                "add_organization",
                name=DEMO_ORG,
                management_account_id=seed.management_account_id,
                member_role=seed.member_role,
                external_id=seed.external_id,
                regions=",".join(regions),
                simulated=True,
                stdout=self.stdout,
            )
            for round_no in range(1, opts["rounds"] + 1):
                if round_no > 1:
                    for change in apply_drift(endpoint, seed, step=round_no - 1):
                        self.stdout.write(f"  drift: {change}")
                back = SCAN_INTERVAL * (opts["rounds"] - round_no)
                with _clock_moved_back(back if worker is None else timedelta(0)):
                    day = timezone.now()
                    self.stdout.write(
                        f"Scan {round_no} of {opts['rounds']} (as of {day:%b %d}) ..."
                    )
                    call_command(
                        "scan", organization=DEMO_ORG, wait=True, stdout=self.stdout
                    )
            self._users()
            self._exceptions()
            if opts["no_serve"]:
                return
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nParapet demo ready: http://{opts['addr']}/\n"
                    f"  login {DEMO_USER} / {DEMO_PASSWORD} (sees every account)\n"
                    f"  login {SCOPED_USER} / {DEMO_PASSWORD} (sees the Dev OU only)\n"
                )
            )
            call_command("runserver", opts["addr"], use_reloader=False)
        finally:
            if worker:
                worker.terminate()
                worker.wait(10)

    def _start_worker(self) -> subprocess.Popen:
        self.stdout.write("Starting a Celery worker (REDIS_URL is set) ...")
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default,collect",
                "--concurrency",
                "4",
                "-l",
                "warning",
            ],
            env=os.environ.copy(),
        )

    def _users(self) -> None:
        User = get_user_model()
        org = Organization.objects.get(name=DEMO_ORG)
        demo, _ = User.objects.get_or_create(username=DEMO_USER)
        demo.is_staff = demo.is_superuser = True
        # An address, so `send_digests --now` prints their digest (console).
        demo.email = "security-lead@example.com"
        demo.set_password(DEMO_PASSWORD)
        demo.save()
        security, _ = Team.objects.get_or_create(name="Security")
        security.accounts.set(Account.objects.filter(organization=org))
        Membership.objects.get_or_create(
            team=security, user=demo, defaults={"role": Membership.Role.ADMIN}
        )
        scoped, _ = User.objects.get_or_create(username=SCOPED_USER)
        scoped.email = "dev-lead@example.com"
        scoped.set_password(DEMO_PASSWORD)
        scoped.save()
        dev, _ = Team.objects.get_or_create(name="Dev")
        dev.accounts.set(
            Account.objects.filter(organization=org, ou_path__contains="Dev")
        )
        Membership.objects.get_or_create(team=dev, user=scoped)

    def _exceptions(self) -> None:
        """A few exceptions, through the same services as the pages, so the
        dashboard shows suppressed counts, the audit log has entries and the
        digest an exception expiring soon. Once only: a re-run keeps them."""
        from findings import suppressions
        from findings.models import Finding, Suppression

        org = Organization.objects.get(name=DEMO_ORG)
        if Suppression.objects.filter(organization=org).exists():
            return
        lead = get_user_model().objects.get(username=DEMO_USER)
        now = timezone.now()
        failing = Finding.objects.live().filter(
            account__organization=org, status="FAIL"
        )
        bucket = (
            failing.filter(resource__resource_type="AWS::S3::Bucket")
            .select_related("resource")
            .order_by("account__name", "control_id", "resource__resource_id")
            .first()
        )
        if bucket:
            suppressions.create(
                actor=lead,
                control_id=bucket.control_id,
                scope=Suppression.Scope.RESOURCE,
                resource=bucket.resource,
                reason="Vendor-managed bucket: the setting is owned by the vendor "
                "until the contract renewal; access is limited by bucket policy.",
                approver="Security lead (ticket SEC-998)",
                expires_at=now + timedelta(days=10),
                now=now,
            )
            self.stdout.write(f"  exception: {bucket.control_id} on {bucket.resource}")
        for name, control_id, days, reason, approver in DEMO_ACCOUNT_EXCEPTIONS:
            finding = (
                failing.filter(account__name=name, control_id=control_id)
                .select_related("account")
                .first()
            )
            if finding is None:
                continue
            created = suppressions.create(
                actor=lead,
                control_id=control_id,
                scope=Suppression.Scope.ACCOUNT,
                account=finding.account,
                reason=reason,
                approver=approver,
                expires_at=now + timedelta(days=days),
                now=now,
            )
            self.stdout.write(f"  exception: {created}")
        # An extension, so the audit log shows a change too.
        latest = Suppression.objects.filter(organization=org).order_by("-pk").first()
        if latest:
            suppressions.change(
                latest, actor=lead, expires_at=latest.expires_at + timedelta(days=30)
            )


@contextmanager
def _clock_moved_back(by: timedelta) -> Iterator[None]:
    """Run an in-process scan as if ``by`` ago (the clock still ticks).

    A scan stamps every row it writes with its one clock, so scans run this
    way are real history on past days. Only without a broker: a worker
    process would keep its own clock.
    """
    if not by:
        yield
        return
    real_now = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: real_now() - by):
        yield
