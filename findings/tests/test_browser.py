"""Issue #7: the user's journey through Parapet in a real browser.

Debian's Chromium, driven by Playwright against pytest-django's live server,
over data written by the real pipeline (moto, three scan days). One test
walks a team admin from login down to a snapshot diff, through the findings
explorer and its export, to an exception that the dashboard then counts as
suppressed; another walks staff through the scans and onboarding pages.
Every page must load without a console error, an uncaught exception or a
Content-Security-Policy violation, and each is saved as a full-page
screenshot, test-artifacts/journey-NN-<page>.png, for a human to look at.
"""

import csv
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from accounts.models import Organization
from collectors import pipeline
from collectors.models import Scan
from findings.controls import REGISTRY
from findings.models import ControlRollup, Finding, FindingChange, Suppression
from findings.templatetags.parapet import pct, status_label
from findings.tests.conftest import needs_chromium, sign_in
from findings.tests.factories import HOSTILE, build_scanned_world

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (dev extras)"
).expect

pytestmark = [pytest.mark.e2e, needs_chromium, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ROLLUP_FIELDS = ("passed", "failed", "errors", "unknown", "suppressed")
CTL_BLOCKED = "s3.bucket.public-access-blocked"
CTL_ACL = "s3.bucket.no-public-acl"  # payments-invoices flipped in the last scan


class Journey:
    """Numbers the pages of a walk, screenshots each one and collects what
    went wrong on it (console errors, uncaught exceptions, CSP violations,
    HTTP errors, htmx requests included)."""

    def __init__(self, page, base_url: str, first_step: int = 1):
        self.page = page
        page.set_default_timeout(10_000)
        page.on(
            "response",
            lambda r: (
                page.errors.append(f"HTTP {r.status} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        self.base_url = base_url
        self.step = first_step - 1
        self.problems: list[str] = []

    def url(self, name: str, *args) -> str:
        return self.base_url + reverse(name, args=args)

    def done(self, name: str) -> None:
        """The current page is checked: record its problems and screenshot it."""
        self.step += 1
        page = self.page
        page.wait_for_load_state()
        found = page.errors + (page.evaluate("window.cspViolations") or [])
        page.errors.clear()
        self.problems += [f"{name}: {problem}" for problem in found]
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"journey-{self.step:02d}-{name}.png"
        page.screenshot(path=str(shot), full_page=True)

    def mark(self) -> None:
        """A marker on ``window``: it survives htmx swaps, not a page load."""
        self.page.evaluate("window.journeyMarker = 'no full reload'")

    def assert_not_reloaded(self) -> None:
        assert self.page.evaluate("window.journeyMarker") == "no full reload"


def rollup_counts(scan: Scan, accounts, control_id: str = "") -> dict[str, int]:
    """The latest scan's rollups summed over ``accounts`` (one control or all)."""
    rows = ControlRollup.objects.filter(scan=scan, account__in=accounts)
    if control_id:
        rows = rows.filter(control_id=control_id)
    return rows.aggregate(**{f: Coalesce(Sum(f), 0) for f in ROLLUP_FIELDS})


def shown_rate(counts: dict[str, int]) -> str:
    """The pass rate as the page prints it, from the counts."""
    return pct(counts["passed"] / sum(counts.values()))


def day(d: date) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def explorer_rows(page) -> list[tuple[str, str, str, str]]:
    """(status, control id, account id, resource) of each row of the table."""
    return [
        tuple(cells)
        for cells in page.locator(".explorer-table tbody tr").evaluate_all(
            """rows => rows.map(r => [
                 r.cells[0].querySelector('.badge').textContent.trim(),
                 r.cells[2].querySelector('.mono').textContent.trim(),
                 r.cells[3].querySelector('.mono').textContent.trim(),
                 r.cells[5].querySelector('a').textContent.trim(),
               ])"""
        )
    ]


def csv_rows(path: str) -> list[tuple[str, str, str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [
            (
                status_label(row["status"]),
                row["control_id"],
                row["account_id"],
                row["resource_name"] or row["resource_id"],
            )
            for row in csv.DictReader(f)
        ]


@pytest.fixture
def world(aws):
    return build_scanned_world(aws)


def test_a_team_admin_drills_down_explores_exports_and_excepts(
    live_server, page, world
):
    walk = Journey(page, live_server.url)
    latest = world.scans[-1]
    mine = [world.payments, world.management]  # alice's team; not data-lake

    # Login: the overview asks for it first.
    page.goto(walk.url("findings:overview"))
    assert "/accounts/login/" in page.url
    walk.done("login")
    sign_in(page, live_server.url, "alice")

    # Overview: the figures are the rollups' figures; only alice's accounts.
    totals = rollup_counts(latest, mine)
    assert totals["failed"] > 0 and totals["suppressed"] == 0
    assert page.locator(".kpi-rate .rate-xl").inner_text() == shown_rate(totals)
    figures = page.locator(".kpi-rate .figures")
    expect(figures.locator("div", has_text="Passing").locator("dd")).to_have_text(
        str(totals["passed"])
    )
    expect(figures.locator("div", has_text="Failing").locator("dd")).to_have_text(
        str(totals["failed"])
    )
    expect(figures.locator("div", has_text="Suppressed").locator("dd")).to_have_text(
        "0"
    )
    expect(page.get_by_text("Simulated organization").first).to_be_visible()
    sections = page.locator(".sections-table")
    expect(sections.get_by_role("link", name="Amazon S3")).to_be_visible()
    expect(sections.get_by_text("AWS's responsibility").first).to_be_visible()
    assert page.get_by_text("data-lake").count() == 0
    # The trend window: scans 60 and 20 days ago and today; htmx swaps the chart.
    dots = page.locator("#trend svg.chart circle.chart-dot")
    expect(dots).to_have_count(2)  # the default window, 30 days
    walk.mark()
    for days, points in ((7, 1), (90, 3)):
        page.locator("#trend").get_by_role("link", name=f"{days} days").click()
        page.wait_for_url(f"**days={days}")
        expect(dots).to_have_count(points)
        expect(page.locator("#trend .hint")).to_contain_text(
            f"{points} scan day{'s' if points > 1 else ''} in the last {days} days"
        )
        walk.assert_not_reloaded()
    walk.done("overview")

    # Section → control → account → resource, by clicking.
    sections.get_by_role("link", name="Amazon S3").click()
    expect(page.locator("h1")).to_have_text("Amazon S3")
    walk.done("section")

    page.get_by_role("link", name=REGISTRY[CTL_BLOCKED].title).first.click()
    page.wait_for_url(f"**{reverse('findings:control', args=[CTL_BLOCKED])}")
    expect(page.locator(".head-kpi .rate")).to_have_text(
        shown_rate(rollup_counts(latest, mine, CTL_BLOCKED))
    )
    walk.done("control")

    page.locator("#per-account-title + table").get_by_role(
        "link", name="payments-prod"
    ).click()
    page.wait_for_url(f"**{reverse('findings:account', args=[world.payments.pk])}**")
    expect(page.locator("h1")).to_have_text("payments-prod")
    expect(page.locator(".head-kpi .rate")).to_have_text(
        shown_rate(rollup_counts(latest, [world.payments]))
    )
    walk.done("account")

    page.get_by_role("link", name="payments-invoices").first.click()
    page.wait_for_url(f"**{reverse('findings:resource', args=[world.invoices.pk])}**")
    expect(page.locator("h1")).to_have_text("payments-invoices")
    # The hostile tag is shown as text, never run.
    expect(page.locator(".tags")).to_contain_text(f"team={HOSTILE}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content()
    expect(page.locator("#changes-title + ol.timeline")).to_contain_text(
        "became Fail (was Pass)"
    )
    walk.done("resource")

    # The diff: the snapshot before the change and the one that flipped it.
    page.get_by_role("link", name="Compare snapshots").click()
    page.wait_for_url(
        f"**{reverse('findings:resource_diff', args=[world.invoices.pk])}**"
    )
    old, new = world.invoices.snapshots.order_by("valid_from")
    assert FindingChange.objects.filter(snapshot=new, new_status="FAIL").exists()
    expect(page.locator("select[name=from] option[selected]")).to_have_attribute(
        "value", str(old.pk)
    )
    expect(page.locator("select[name=to] option[selected]")).to_have_attribute(
        "value", str(new.pk)
    )
    changed = page.locator("section", has=page.locator("#paths-title"))
    expect(changed).to_contain_text("config.Acl.Grants")
    added = page.locator("table.sbs .sbs-new ins")
    expect(added.filter(has_text="AllUsers").first).to_be_visible()
    assert page.locator("table.sbs .sbs-old").filter(has_text="AllUsers").count() == 0
    walk.done("diff")

    # The findings explorer: filters live in the URL, htmx swaps the table.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Findings"
    ).click()
    live = Finding.objects.filter(account__in=mine, resource__deleted_at__isnull=True)
    count = page.locator("#explorer-count")
    expect(count).to_have_text(f"{live.count()} findings")
    walk.mark()
    # A quick user: the account is chosen the moment the "Failing" table lands.
    # The swapped-in form must already listen (htmx used to bind it 20 ms later,
    # and such a change was lost).
    page.evaluate(
        """account => document.body.addEventListener("htmx:afterSwap", () =>
            setTimeout(() => {
                const select = document.querySelector("#explorer select[name=account]");
                select.value = account;
                select.dispatchEvent(new Event("change", {bubbles: true}));
            }), {once: true})""",
        str(world.payments.pk),
    )
    page.get_by_label("Failing").check()
    page.wait_for_url(f"**status=FAIL**account={world.payments.pk}**")
    failing = live.filter(status="FAIL")
    failing_here = failing.filter(account=world.payments)
    expect(count).to_have_text(f"{failing_here.count()} findings")
    assert failing.count() > failing_here.count() > 0
    expect(page.locator(".explorer-table tbody tr")).to_have_count(failing_here.count())
    page.locator(".explorer-table thead").get_by_role("link", name="Resource").click()
    page.wait_for_url("**sort=resource**")
    expect(page.locator(".explorer-table th[aria-sort=ascending]")).to_contain_text(
        "Resource"
    )
    walk.assert_not_reloaded()
    rows = explorer_rows(page)
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)
    walk.done("explorer")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export this view (CSV)").click()
    assert csv_rows(download.value.path()) == rows

    # An exception for the finding that just flipped.
    flipped = page.locator(".explorer-table tbody tr", has_text=CTL_ACL).filter(
        has_text="payments-invoices"
    )
    flipped.get_by_role("link", name="payments-invoices").click()
    page.wait_for_url(f"**{reverse('findings:resource', args=[world.invoices.pk])}**")
    finding = page.locator(".finding-list li", has_text=CTL_ACL)
    finding.get_by_role("link", name="Add exception").click()
    expires = datetime.now(UTC).date() + timedelta(days=30)
    expect(page.get_by_label("This resource: payments-invoices")).to_be_checked()
    page.get_by_label("Reason").fill("Public invoice links until the portal ships.")
    page.get_by_label("Approved by").fill("ciso@example.com")
    page.get_by_label("Expires on").fill(expires.isoformat())
    walk.done("exception-new")
    page.get_by_role("button", name="Create exception").click()
    expect(page.get_by_text("Exception created")).to_be_visible()
    suppression = Suppression.objects.get()
    assert (suppression.scope, suppression.resource_id) == (
        "resource",
        world.invoices.pk,
    )
    walk.done("exception")

    # The dashboard counts it as suppressed at once, never as passing.
    page.goto(walk.url("findings:overview"))
    after = rollup_counts(latest, mine)
    assert after["suppressed"] == 1
    assert after["failed"] == totals["failed"] - 1
    assert after["passed"] == totals["passed"]
    expect(figures.locator("div", has_text="Suppressed").locator("dd")).to_have_text(
        "1"
    )
    expect(figures.locator("div", has_text="Failing").locator("dd")).to_have_text(
        str(after["failed"])
    )
    expect(page.locator(".kpi-rate .rate-xl")).to_have_text(shown_rate(after))
    walk.done("overview-suppressed")

    page.goto(walk.url("findings:control", CTL_ACL))
    counts = page.locator(".counts")
    expect(counts.locator("li", has_text="suppressed")).to_have_text("1 suppressed")
    walk.done("control-suppressed")

    page.goto(walk.url("findings:resource", world.invoices.pk))
    expect(page.locator(".finding-list li", has_text=CTL_ACL)).to_contain_text(
        f"Excepted until {day(expires)}"
    )
    walk.done("resource-excepted")

    page.goto(walk.url("findings:exceptions"))
    expect(page.locator("#exceptions")).to_contain_text("Public invoice links")
    walk.done("exceptions")
    page.goto(walk.url("findings:exceptions_log"))
    created = page.locator("#exception-events tbody tr").first
    expect(created).to_contain_text("Created")
    expect(created).to_contain_text("alice")
    walk.done("exceptions-log")

    assert walk.problems == [], "\n".join(walk.problems)


@pytest.fixture
def held_scan(monkeypatch):
    """Scans started from the browser stop after their first unit until
    ``release`` is set, so the page can show a scan in progress."""
    release = threading.Event()
    real = pipeline.run_unit
    started: list[int] = []

    def run_unit(pk: int) -> None:
        if started:
            release.wait(timeout=60)
        started.append(pk)
        real(pk)

    monkeypatch.setattr(pipeline, "run_unit", run_unit)
    yield release
    release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("scan-"):
            thread.join(timeout=60)


def test_staff_scan_now_watch_progress_and_connect_an_organization(
    live_server, page, world, held_scan
):
    walk = Journey(page, live_server.url, first_step=21)  # after the first walk
    empty = Organization.objects.create(
        name="Initech", management_account_id="210987654321", external_id="ext-empty"
    )
    sign_in(page, live_server.url, "root")

    # The units of the latest scan, filtered through htmx.
    latest = world.scans[-1]
    page.goto(walk.url("collectors:scan", latest.pk))
    page.get_by_label("Status").select_option("ok")
    page.wait_for_url("**status=ok**")
    expect(page.locator("#units tbody tr")).to_have_count(latest.units.count())
    walk.done("scan")

    # Scan now: the scan runs on a thread of the server; its page polls.
    page.goto(walk.url("collectors:scans"))
    acme = page.locator("tr", has_text="Acme").filter(has=page.locator("form"))
    walk.done("scans")
    acme.get_by_role("button", name="Scan now").click()
    page.wait_for_url("**/scans/*/")
    scan = Scan.objects.exclude(pk__in=[s.pk for s in world.scans]).get()
    assert scan.trigger == Scan.Trigger.MANUAL and scan.requested_by == world.root
    expect(page.get_by_text(f"Scan #{scan.pk} of Acme started.")).to_be_visible()
    units = scan.units.count()
    expect(page.locator("#scan-progress")).to_contain_text(
        f"1 of {units} units done", timeout=15_000
    )
    expect(page.locator("#scan-progress progress")).to_have_attribute("value", "1")
    walk.done("scan-running")
    walk.mark()
    held_scan.set()
    # When the scan ends the poll reloads the whole page: finished, evaluated.
    status = page.locator(".page-head .subtitle .badge").first
    expect(status).to_have_text("Finished", timeout=15_000)
    assert page.evaluate("window.journeyMarker") is None
    assert page.locator("#scan-progress progress").count() == 0
    assert ControlRollup.objects.filter(scan=scan).exists()
    walk.done("scan-finished")

    # An organization without an enabled account is refused, with the reason.
    page.goto(walk.url("collectors:scans"))
    page.locator("tr", has_text="Initech").get_by_role(
        "button", name="Scan now"
    ).click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Not started: Initech has no enabled, active accounts to scan"
    )
    assert not Scan.objects.filter(organization=empty).exists()
    walk.done("scans-refused")

    # Onboarding: the values to deploy, and a connection test (moto accepts it).
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Organizations"
    ).click()
    walk.done("organizations")
    page.locator("tr", has_text="Acme").get_by_role("link", name="Connect").click()
    expect(page.locator(".props")).to_contain_text(world.org.external_id)
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#connection-test .test-result")
    expect(result).to_contain_text("Connected")
    expect(result).to_contain_text(world.org.management_account_id)
    walk.done("onboarding")

    assert walk.problems == [], "\n".join(walk.problems)
