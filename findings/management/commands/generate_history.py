"""Synthetic history for the dashboard benchmark (``make bench``, figure 5).

Writes one organization of A accounts holding R resources, the findings of
every catalog control on them, and D daily scans with churn: each day a few
per cent of the resources get a new snapshot and some of their findings flip,
with the finding changes and a rollup for every scan × account × control, as
the evaluation engine would have written them. Rows go in with PostgreSQL
COPY, one account at a time (the ORM would take hours at 1,000 accounts × 365
days); memory stays at one account's rows.

Meant for a scratch database: ids are taken above the tables' current maximum
and the sequences moved past them at the end.
"""

import hashlib
import json
import random
import time
from bisect import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone

from accounts import statistics
from accounts.models import Account, Membership, Organization, Team
from collectors.base import COLLECTORS, service_for_type
from collectors.models import GLOBAL_REGION, Resource, Scan, ScanUnit, Snapshot
from findings.controls import REGISTRY, Control
from findings.models import (
    ROLLUP_COUNTS,
    AccountRollup,
    ControlRollup,
    ControlTotal,
    Finding,
    FindingChange,
)

# Initial status of a finding; the demo organization's mix, roughly.
INITIAL_STATUSES = (("PASS", 0.68), ("FAIL", 0.26), ("ERROR", 0.01))
NOT_APPLICABLE_SHARE = 0.05
FAILED_UNIT_SHARE = 0.005
REASONS = {
    "PASS": "Synthetic history: configured as required.",
    "FAIL": "Synthetic history: the setting is off.",
    "ERROR": "Synthetic history: the configuration could not be read.",
    "NOT_APPLICABLE": "Synthetic history: does not apply to this resource.",
}
ROLLUP_FIELD = {
    "PASS": "passed",
    "FAIL": "failed",
    "ERROR": "errors",
    "NOT_APPLICABLE": "not_applicable",
}


class _Copy:
    """COPY rows of one model, the columns it does not name filled with defaults.

    A field added to the model later with a default keeps working; one without
    a default stops the command with its name, rather than writing bad rows.
    """

    def __init__(self, model: type[models.Model], columns: tuple[str, ...]) -> None:
        self.table = model._meta.db_table
        rest = [f for f in model._meta.concrete_fields if f.column not in columns]
        self.defaults = tuple(_default(model, f) for f in rest)
        names = [*columns, *(f.column for f in rest)]
        self.sql = f"COPY {self.table} ({', '.join(names)}) FROM STDIN"
        self.rows: list[tuple] = []

    def add(self, row: tuple) -> None:
        self.rows.append(row + self.defaults if self.defaults else row)

    def flush(self, cursor) -> int:
        with cursor.copy(self.sql) as copy:
            for row in self.rows:
                copy.write_row(row)
        written, self.rows = len(self.rows), []
        return written


def _default(model: type[models.Model], f: models.Field) -> Any:
    if f.has_default():
        value = f.get_default()
        return json.dumps(value) if isinstance(f, models.JSONField) else value
    if f.null:
        return None
    raise CommandError(
        f"{model.__name__}.{f.name} has no default; generate_history must set it"
    )


@dataclass
class _Plan:
    """What to generate, and the scans every account shares."""

    organization: Organization
    scans: list[Scan]
    regions: list[str]
    churn: float
    flip: float
    controls_by_type: dict[str, list[Control]]
    type_names: list[str]
    type_weights: list[float]
    services: list[str] = field(default_factory=list)


@dataclass
class _Ids:
    """Next primary key per table, above whatever the table holds."""

    next: dict[str, int]

    @classmethod
    def above_existing(cls, tables: list[str]) -> "_Ids":
        with connection.cursor() as cursor:
            found = {}
            for table in tables:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
                found[table] = cursor.fetchone()[0]
        return cls(found)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


class Command(BaseCommand):
    help = (
        "Generate a synthetic organization with daily scan history (COPY, fast) "
        "for the dashboard benchmark. Use a scratch database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=20)
        parser.add_argument("--resources", type=int, default=20_000)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--regions", default="us-east-1,eu-west-1")
        parser.add_argument(
            "--churn", type=float, default=0.02, help="share of resources changed"
        )
        parser.add_argument(
            "--flip",
            type=float,
            default=0.3,
            help="chance that a changed resource's finding flips PASS/FAIL",
        )
        parser.add_argument("--organization", default="Synthetic history")
        parser.add_argument(
            "--user", default="bench", help="a user whose team sees every account"
        )
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **opts):
        if opts["accounts"] < 1 or opts["days"] < 1 or opts["resources"] < 1:
            raise CommandError("--accounts, --resources and --days must be positive")
        if Organization.objects.filter(name=opts["organization"]).exists():
            raise CommandError(f"{opts['organization']!r} exists; use a fresh database")
        started = time.monotonic()
        plan = self._plan(opts)
        accounts = self._accounts(plan.organization, opts["accounts"], opts["user"])
        fast = _skip_foreign_key_triggers()
        # With triggers on, PostgreSQL sums the rollups into AccountRollup and
        # ControlTotal itself (migrations 0008, 0009); with them off, the
        # totals are ours to write.
        loaded = [Resource, Snapshot, Finding, FindingChange, ControlRollup, ScanUnit]
        loaded += [AccountRollup] if fast else []
        ids = _Ids.above_existing([m._meta.db_table for m in loaded])
        per_account, extra = divmod(opts["resources"], len(accounts))
        written: Counter = Counter()
        for index, account in enumerate(accounts):
            rng = random.Random(opts["seed"] * 1_000_003 + index)
            count = per_account + (1 if index < extra else 0)
            with transaction.atomic(), connection.cursor() as cursor:
                if fast:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                history = _AccountHistory(plan, account, count, rng, ids, totals=fast)
                tables = history.generate()
                for copy in tables:
                    written[copy.table] += copy.flush(cursor)
            if opts["verbosity"] > 1:
                self.stdout.write(f"  account {index + 1}/{len(accounts)}")
        with connection.cursor() as cursor:
            if fast:  # the per-control totals too, in one pass
                cursor.execute(
                    "SELECT findings_sum_control_totals(%s)",
                    [[scan.pk for scan in plan.scans]],
                )
            cursor.execute(f"ANALYZE {ControlTotal._meta.db_table}")
        _finish(ids)
        # Unit counters, as the end of a scan writes them (after _finish's
        # ANALYZE, for a sensible plan): the scans pages read them.
        Scan.objects.filter(pk__in=[s.pk for s in plan.scans]).count_units()
        elapsed = time.monotonic() - started
        total = sum(written.values())
        self.stdout.write(
            f"Generated {opts['organization']!r}: "
            + ", ".join(f"{n:,} {t}" for t, n in sorted(written.items()))
            + f" ({total:,} rows in {elapsed:.1f} s, {total / elapsed:,.0f} rows/s)"
        )

    def _plan(self, opts: dict) -> _Plan:
        regions = [r.strip() for r in opts["regions"].split(",") if r.strip()]
        organization = Organization.objects.create(
            name=opts["organization"],
            management_account_id="900000000000",
            member_role_name="ParapetAudit",
            external_id="synthetic-history",
            regions=regions,
            simulated=True,
        )
        now = timezone.now().replace(second=0, microsecond=0)
        days = opts["days"]
        scans = Scan.objects.bulk_create(
            Scan(
                organization=organization,
                status=Scan.Status.FINISHED,
                trigger=Scan.Trigger.SCHEDULED,
                started_at=now - timedelta(days=days - 1 - day, hours=1),
                finished_at=now - timedelta(days=days - 1 - day, minutes=40),
                regions=regions,
                services=sorted(COLLECTORS),
            )
            for day in range(days)
        )
        controls_by_type: dict[str, list[Control]] = {}
        for control in sorted(REGISTRY.values(), key=lambda c: c.id):
            controls_by_type.setdefault(control.resource_type, []).append(control)
        type_names = sorted(controls_by_type)
        # Types with many controls (buckets, instances, users) are the common
        # ones in real accounts, and they make the findings table realistic.
        weights = list(accumulate(len(controls_by_type[t]) for t in type_names))
        return _Plan(
            organization=organization,
            scans=scans,
            regions=regions,
            churn=opts["churn"],
            flip=opts["flip"],
            controls_by_type=controls_by_type,
            type_names=type_names,
            type_weights=weights,
            services=sorted(COLLECTORS),
        )

    def _accounts(self, organization: Organization, count: int, username: str):
        accounts = Account.objects.bulk_create(
            Account(
                organization=organization,
                account_id=f"{900000000001 + n}",
                name=f"synthetic-{n + 1:04d}",
                email=f"aws+synthetic-{n + 1}@example.com",
                ou_path=f"Root/Unit-{n % 10}",
                discovered_at=timezone.now(),
            )
            for n in range(count)
        )
        team, _ = Team.objects.get_or_create(name=f"{organization.name} team")
        team.accounts.add(*accounts)
        user, _ = get_user_model().objects.get_or_create(username=username)
        Membership.objects.get_or_create(team=team, user=user)
        return accounts


def _skip_foreign_key_triggers() -> bool:
    """Whether COPY may skip the per-row foreign-key triggers (superuser only).

    Every row written references rows written in the same transaction, so the
    checks would pass; skipping them roughly halves the load time.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def _finish(ids: _Ids) -> None:
    with connection.cursor() as cursor:
        for table, value in ids.next.items():
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                [table, value],
            )
        for table in ids.next:
            cursor.execute(f"ANALYZE {table}")
    # The accounts and their teams too, as Parapet does when a team changes:
    # without them the planner takes the user's thousand accounts for a few.
    statistics.analyze_scope()


class _AccountHistory:
    """One account's resources, snapshots, findings, changes, rollups and units."""

    def __init__(
        self,
        plan: _Plan,
        account: Account,
        count: int,
        rng: random.Random,
        ids: _Ids,
        *,
        totals: bool,
    ) -> None:
        self.plan, self.account, self.count, self.rng, self.ids = (
            plan,
            account,
            count,
            rng,
            ids,
        )
        self.totals = (
            _Copy(
                AccountRollup,
                ("id", "scan_id", "account_id", "at", *ROLLUP_COUNTS),
            )
            if totals
            else None
        )
        self.resources = _Copy(
            Resource,
            (
                "id",
                "account_id",
                "service",
                "unit_region",
                "region",
                "resource_type",
                "resource_id",
                "arn",
                "name",
                "first_seen",
                "deleted_at",
                "current_snapshot_id",
            ),
        )
        self.snapshots = _Copy(
            Snapshot,
            (
                "id",
                "resource_id",
                "sha256",
                "config",
                "tags",
                "valid_from",
                "valid_to",
                "scan_id",
            ),
        )
        self.findings = _Copy(
            Finding,
            (
                "id",
                "account_id",
                "resource_id",
                "control_id",
                "status",
                "reason",
                "first_seen",
                "last_changed",
                "snapshot_id",
                "scan_id",
            ),
        )
        self.changes = _Copy(
            FindingChange,
            (
                "id",
                "finding_id",
                "scan_id",
                "at",
                "old_status",
                "new_status",
                "reason",
                "snapshot_id",
            ),
        )
        self.rollups = _Copy(
            ControlRollup,
            (
                "id",
                "scan_id",
                "account_id",
                "control_id",
                "section",
                "at",
                *ROLLUP_COUNTS,
            ),
        )
        self.units = _Copy(
            ScanUnit,
            (
                "id",
                "scan_id",
                "account_id",
                "region",
                "service",
                "status",
                "error_kind",
                "error_message",
                "started_at",
                "finished_at",
                "heartbeat_at",
                "attempts",
                "api_calls",
                "resources",
                "snapshots_written",
            ),
        )

    def generate(self) -> list[_Copy]:
        plan, rng = self.plan, self.rng
        first = plan.scans[0]
        resources = [self._resource(n, first.started_at) for n in range(self.count)]
        snapshots: list[list] = []  # [id, resource pk, version, from, to, scan id]
        current: list[list] = []
        for res in resources:
            snap = [self.ids.take("collectors_snapshot"), res["id"], 0]
            snap += [first.started_at, None, first.pk]
            snapshots.append(snap)
            current.append(snap)
        findings: list[list] = []  # [id, resource index, control, status, ...]
        by_resource: list[list[int]] = [[] for _ in resources]
        counts: dict[str, Counter] = {}
        for index, res in enumerate(resources):
            for control in plan.controls_by_type[res["type"]]:
                status = self._initial_status()
                fid = self.ids.take("findings_finding")
                findings.append([fid, index, control.id, status, first, current[index]])
                by_resource[index].append(len(findings) - 1)
                counts.setdefault(control.id, Counter())[status] += 1
                self._change(fid, first, "", status, current[index][0])
        scope_counts = Counter((r["service"], r["unit_region"]) for r in resources)
        for day, scan in enumerate(plan.scans):
            changed: Counter = Counter()
            if day:
                k = max(1, round(plan.churn * len(resources)))
                for index in rng.sample(range(len(resources)), min(k, len(resources))):
                    res = resources[index]
                    changed[(res["service"], res["unit_region"])] += 1
                    old = current[index]
                    old[4] = scan.started_at
                    snap = [self.ids.take("collectors_snapshot"), res["id"], old[2] + 1]
                    snap += [scan.started_at, None, scan.pk]
                    snapshots.append(snap)
                    current[index] = snap
                    for position in by_resource[index]:
                        self._maybe_flip(findings[position], scan, snap, counts)
            else:
                changed = scope_counts
            self._rollups(scan, counts)
            self._units(scan, scope_counts, changed)
        for res, snap in zip(resources, current, strict=True):
            self._write_resource(res, snap[0])
        for snap in snapshots:
            self._write_snapshot(snap)
        for fid, index, control_id, status, scan, snap in findings:
            self.findings.add(
                (
                    fid,
                    self.account.pk,
                    resources[index]["id"],
                    control_id,
                    status,
                    REASONS[status],
                    first.started_at,
                    scan.started_at,
                    snap[0],
                    scan.pk,
                )
            )
        return [
            self.resources,
            self.snapshots,
            self.findings,
            self.changes,
            self.rollups,
            *([self.totals] if self.totals else []),
            self.units,
        ]

    def _resource(self, n: int, first_seen: datetime) -> dict:
        plan, rng = self.plan, self.rng
        rtype = plan.type_names[
            bisect(plan.type_weights, rng.random() * plan.type_weights[-1])
        ]
        service = service_for_type(rtype) or "unknown"
        collector = COLLECTORS.get(service)
        region = rng.choice(plan.regions)
        unit_region = GLOBAL_REGION if collector and collector.is_global else region
        short = rtype.rsplit("::", 1)[-1].lower()
        resource_id = f"{short}-{self.account.account_id[-4:]}-{n:06d}"
        arn_region = "" if unit_region == GLOBAL_REGION else region
        return {
            "id": self.ids.take("collectors_resource"),
            "type": rtype,
            "service": service,
            "region": region,
            "unit_region": unit_region,
            "resource_id": resource_id,
            "arn": f"arn:aws:{service}:{arn_region}:{self.account.account_id}:"
            f"{short}/{resource_id}",
            "first_seen": first_seen,
        }

    def _initial_status(self) -> str:
        roll = self.rng.random()
        if roll < NOT_APPLICABLE_SHARE:
            return "NOT_APPLICABLE"
        roll = self.rng.random()
        for status, share in INITIAL_STATUSES:
            if roll < share:
                return status
            roll -= share
        return "PASS"

    def _maybe_flip(self, finding: list, scan: Scan, snap: list, counts) -> None:
        old = finding[3]
        if old == "NOT_APPLICABLE" or self.rng.random() >= self.plan.flip:
            return
        new = "FAIL" if old == "PASS" else "PASS"
        counts[finding[2]][old] -= 1
        counts[finding[2]][new] += 1
        finding[3], finding[4], finding[5] = new, scan, snap
        self._change(finding[0], scan, old, new, snap[0])

    def _change(self, fid: int, scan: Scan, old: str, new: str, snap_id: int) -> None:
        self.changes.add(
            (
                self.ids.take("findings_findingchange"),
                fid,
                scan.pk,
                scan.started_at,
                old,
                new,
                REASONS[new],
                snap_id,
            )
        )

    def _rollups(self, scan: Scan, counts: dict[str, Counter]) -> None:
        total = [0] * len(ROLLUP_COUNTS)
        for control_id, c in counts.items():
            row = (c["PASS"], c["FAIL"], c["ERROR"], c["NOT_APPLICABLE"], 0, 0)
            self.rollups.add(
                (
                    self.ids.take("findings_controlrollup"),
                    scan.pk,
                    self.account.pk,
                    control_id,
                    REGISTRY[control_id].section,
                    scan.started_at,
                    *row,
                )
            )
            total = [a + b for a, b in zip(total, row, strict=True)]
        if self.totals and counts:
            self.totals.add(
                (
                    self.ids.take("findings_accountrollup"),
                    scan.pk,
                    self.account.pk,
                    scan.started_at,
                    *total,
                )
            )

    def _units(self, scan: Scan, resources: Counter, changed: Counter) -> None:
        for service in self.plan.services:
            regions = (
                [GLOBAL_REGION] if COLLECTORS[service].is_global else self.plan.regions
            )
            for region in regions:
                failed = self.rng.random() < FAILED_UNIT_SHARE
                found = resources[(service, region)]
                self.units.add(
                    (
                        self.ids.take("collectors_scanunit"),
                        scan.pk,
                        self.account.pk,
                        region,
                        service,
                        ScanUnit.Status.FAILED if failed else ScanUnit.Status.OK,
                        "throttled" if failed else "",
                        "Throttled after retries (synthetic)." if failed else "",
                        scan.started_at,
                        scan.started_at + timedelta(seconds=5),
                        scan.started_at + timedelta(seconds=5),
                        1,
                        2 + found,
                        0 if failed else found,
                        0 if failed else changed[(service, region)],
                    )
                )

    def _write_resource(self, res: dict, snapshot_id: int) -> None:
        self.resources.add(
            (
                res["id"],
                self.account.pk,
                res["service"],
                res["unit_region"],
                res["region"],
                res["type"],
                res["resource_id"],
                res["arn"],
                res["resource_id"],
                res["first_seen"],
                None,
                snapshot_id,
            )
        )

    def _write_snapshot(self, snap: list) -> None:
        sid, resource_pk, version, valid_from, valid_to, scan_id = snap
        config = {
            "Version": version,
            "Encrypted": version % 3 != 1,
            "Owner": f"team-{resource_pk % 7}",
            "Settings": {"Logging": version % 2 == 0, "Retention": 30 + version},
        }
        sha = hashlib.sha256(f"{resource_pk}:{version}".encode()).hexdigest()
        tags = {"env": "prod" if resource_pk % 3 else "dev"}
        self.snapshots.add(
            (
                sid,
                resource_pk,
                sha,
                json.dumps(config),
                json.dumps(tags),
                valid_from,
                valid_to,
                scan_id,
            )
        )
