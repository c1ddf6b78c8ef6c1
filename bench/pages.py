"""Figures 5 and 6: every page over a synthetic history, and the CSV export.

``generate_history`` writes the organization; a user whose team sees all of
it then requests every page and htmx partial through ``django.test.Client``
(no network, the whole middleware stack), timed against a bare authenticated
page requested in the same rounds.
"""

import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Organization
from bench import rss
from bench.report import Row, megabytes, ratio, seconds
from bench.scale import Scale
from collectors.models import Resource, Scan, Snapshot
from config import warmup
from findings import frameworks, sections
from findings.controls import REGISTRY
from findings.models import Suppression, SuppressionEvent

ORGANIZATION = "Synthetic history"
USER = "bench"
TARGET_RATIO = 5.0
TARGET_QUERIES = 30
TARGET_EXPORT_GROWTH = 50 * 2**20
BARE = "/bench/bare/"


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    target: str = ""  # HX-Target: an htmx partial

    @property
    def headers(self) -> dict:
        if not self.target:
            return {}
        return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": self.target}


def generated() -> bool:
    """Whether the scratch database already holds the synthetic history."""
    return Organization.objects.filter(name=ORGANIZATION).exists()


def generate(scale: Scale) -> str:
    started = time.monotonic()
    call_command(
        "generate_history",
        accounts=scale.history_accounts,
        resources=scale.history_resources,
        days=scale.history_days,
        organization=ORGANIZATION,
        user=USER,
        stdout=_Discard(),
    )
    _add_exceptions()
    return seconds(time.monotonic() - started)


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def _add_exceptions() -> None:
    """A few dozen account-wide exceptions, so the exceptions list has rows."""
    organization = Organization.objects.get(name=ORGANIZATION)
    accounts = list(Account.objects.filter(organization=organization)[:30])
    controls = sorted(REGISTRY)[:: max(1, len(REGISTRY) // 30)]
    now = timezone.now()
    created = Suppression.objects.bulk_create(
        Suppression(
            organization=organization,
            scope=Suppression.Scope.ACCOUNT,
            control_id=control_id,
            account=account,
            reason="Benchmark: accepted for the synthetic history.",
            approver="bench",
            expires_at=now + timedelta(days=30 + n),
        )
        for n, (account, control_id) in enumerate(zip(accounts, controls, strict=False))
    )
    SuppressionEvent.objects.bulk_create(
        SuppressionEvent(suppression=s, at=now, action=SuppressionEvent.Action.CREATED)
        for s in created
    )


def pages() -> list[Page]:
    """Every page and partial, on the objects a user would open most."""
    organization = Organization.objects.get(name=ORGANIZATION)
    account = Account.objects.filter(organization=organization).first()
    control = REGISTRY[_busiest_control(organization)]
    resource = (
        Snapshot.objects.filter(resource__account=account)
        .values("resource_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()["resource_id"]
    )
    scan = Scan.objects.filter(organization=organization).order_by("-started_at")[0]
    top = sections.ancestors(control.section)
    root = top[0].slug if top else control.section
    framework = next(iter(frameworks.FRAMEWORKS))
    control_url, account_url = f"/controls/{control.id}/", f"/accounts/{account.pk}/"
    return [
        Page("bare authenticated page", BARE),
        Page("overview", "/"),
        Page("overview, 1 year", "/?days=365"),
        Page("overview, by OU", "/?by=ou"),
        Page("overview trend partial, 1 year", "/?days=365", "trend"),
        Page("section (top level)", f"/sections/{root}/"),
        Page("section (leaf)", f"/sections/{control.section}/"),
        Page("control", control_url),
        Page("control trend partial, 1 year", f"{control_url}?days=365", "trend"),
        Page("control findings", f"{control_url}?status=FAIL&page=2", "findings"),
        Page("accounts", "/accounts/"),
        Page("accounts partial, page 3", "/accounts/?page=3", "accounts"),
        Page("account", account_url),
        Page("account trend partial, 1 year", f"{account_url}?days=365", "trend"),
        Page("account findings partial", f"{account_url}?page=2", "findings"),
        Page("resource", f"/resources/{resource}/"),
        Page("explorer", "/findings/"),
        Page("explorer partial, failing", "/findings/?status=FAIL", "explorer"),
        Page("exceptions", "/exceptions/"),
        Page("scans", "/scans/"),
        Page("scan", f"/scans/{scan.pk}/"),
        Page("scan units partial", f"/scans/{scan.pk}/?status=ok&page=2", "units"),
        Page("frameworks", "/frameworks/"),
        Page("framework", f"/frameworks/{framework}/"),
        Page("export controls.csv", "/controls.csv"),
        Page("export accounts.csv", "/accounts.csv"),
        Page("export sections.csv", "/sections.csv"),
        Page("export scans.csv", "/scans.csv"),
    ]  # fmt: skip


def _busiest_control(organization: Organization) -> str:
    """The control with the most findings: the heaviest control page."""
    counts: dict[str, int] = {}
    for rtype, n in (
        Resource.objects.filter(account__organization=organization)
        .values_list("resource_type")
        .annotate(n=Count("id"))
    ):
        for control in REGISTRY.values():
            if control.resource_type == rtype:
                counts[control.id] = n
    return max(sorted(counts), key=counts.get)


def _client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    return client


def _get(client: Client, page: Page) -> tuple[float, int]:
    """Server time of one request, its whole body read; and the status."""
    started = time.perf_counter()
    response = client.get(page.url, **page.headers)
    if response.streaming:
        for _ in response.streaming_content:
            pass
    else:
        response.content  # noqa: B018
    elapsed = time.perf_counter() - started
    response.close()
    return elapsed, response.status_code


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@override_settings(ROOT_URLCONF="bench.urls", ALLOWED_HOSTS=["testserver"])
def dashboard(scale: Scale) -> list[Row]:
    # As a web process starts (config/wsgi.py): views and templates loaded,
    # then frozen out of the garbage collector's full collections.
    warmup.prepare()
    client = _client()
    bare, *todo = pages()
    times: dict[str, list[float]] = {p.name: [] for p in todo}
    queries: dict[str, int] = {}
    # The first request of each page also fills the dashboard's cache: its
    # time is what the first reader after a scan waits, printed apart.
    first: dict[str, float] = {}
    for page in [bare, *todo]:  # warm-up, status and query count
        with CaptureQueriesContext(connection) as captured:
            first[page.name], status = _get(client, page)
        if status != 200:
            raise RuntimeError(f"{page.name} ({page.url}) answered {status}")
        queries[page.name] = len(captured)
    baseline: list[float] = []
    for _ in range(scale.page_repeats):
        for page in todo:
            times[page.name].append(_get(client, page)[0])
            # The baseline in every round, so noise hits both alike.
            baseline.append(_get(client, bare)[0])
    bare50, bare95 = statistics.median(baseline), _percentile(baseline, 0.95)
    rows = [
        Row(
            f"5 page: {bare.name} (baseline)",
            f"p50 {seconds(bare50)}, p95 {seconds(bare95)}, "
            f"{queries[bare.name]} queries",
        )
    ]
    return rows + [
        _page_row(p, times[p.name], first[p.name], queries[p.name], bare50, bare95)
        for p in todo
    ]


def _page_row(
    page: Page,
    values: list[float],
    first: float,
    queries: int,
    bare50: float,
    bare95: float,
) -> Row:
    p50, p95 = statistics.median(values), _percentile(values, 0.95)
    met = p50 / bare50 <= TARGET_RATIO and p95 / bare95 <= TARGET_RATIO
    return Row(
        f"5 page: {page.name}",
        f"p50 {seconds(p50)} ({ratio(p50 / bare50)}), p95 {seconds(p95)} "
        f"({ratio(p95 / bare95)}), {queries} queries; first {seconds(first)}",
        f"≤ {TARGET_RATIO:.0f}× bare, ≤ {TARGET_QUERIES} queries",
        met and queries <= TARGET_QUERIES,
    )


@override_settings(ROOT_URLCONF="bench.urls", ALLOWED_HOSTS=["testserver"])
def export(rows_wanted: int) -> list[Row]:
    """The explorer's CSV of every finding, read until ``rows_wanted`` rows."""
    client = _client()
    with rss.PeakGrowth() as growth:
        started = time.perf_counter()
        response = client.get("/findings.csv")
        lines = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\r\n")
            if lines > rows_wanted:
                break
        elapsed = time.perf_counter() - started
        response.close()
    rows = min(rows_wanted, max(0, lines - 1))  # less the header
    return [
        Row(
            "6 export: explorer CSV, peak RSS growth",
            f"{rows:,} rows at {rows / elapsed:,.0f} rows/s, "
            f"peak RSS +{megabytes(growth.bytes)}",
            f"≤ {megabytes(TARGET_EXPORT_GROWTH)}",
            growth.bytes <= TARGET_EXPORT_GROWTH,
        )
    ]
