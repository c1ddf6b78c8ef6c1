"""Shared fixtures: a scanned scene for the engine's tests, and the browser
(Debian's Chromium driven by Playwright, never a downloaded one)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from findings.engine import evaluate_scan
from findings.tests.factories import (
    PASSWORD,
    S3_OPEN,
    make_account,
    make_org,
    make_resource,
    make_scan,
    make_snapshot,
    make_unit,
)


@pytest.fixture
def scanned():
    """Two accounts with open buckets (payments three, data one), one s3 scan."""
    org = make_org("Acme")
    payments = make_account(org, "payments-prod")
    data = make_account(org, "data-lake")
    scan = make_scan(org, at=timezone.now() - timedelta(hours=1))
    scan.services = ["s3"]
    scan.save(update_fields=["services"])
    for account, buckets in ((payments, 3), (data, 1)):
        make_unit(scan, account, service="s3")
        for n in range(buckets):
            bucket = make_resource(account, name=f"b{n}", at=scan.started_at)
            make_snapshot(bucket, S3_OPEN, at=scan.started_at, scan=scan)
    evaluate_scan(scan)
    return scan, payments, data


CHROMIUM = Path("/usr/bin/chromium")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium "
    "(apt-get install chromium); the browser tests never download one",
)


@pytest.fixture
def chromium(monkeypatch):
    """A headless Chromium; close each context you open from it."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls a
    # test makes here are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (dev extras)"
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


# Each document records the CSP violations it sees, from before its first script.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def page(chromium):
    """A laptop-sized tab that keeps the console errors and uncaught exceptions
    it sees in ``tab.errors``; ``window.cspViolations`` lists the current
    document's CSP violations."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
    tab.on(
        "console",
        lambda msg: (
            tab.errors.append(f"console: {msg.text}") if msg.type == "error" else None
        ),
    )
    yield tab
    context.close()
    # The ORM calls a test makes while Playwright runs may open a connection
    # that pytest-django never closes; left open, it stops the test database
    # from being dropped at the end of the run.
    connections.close_all()


def sign_in(page, base_url: str, username: str) -> None:
    """Log in through the login form; lands on the overview."""
    page.goto(base_url + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + reverse("findings:overview"))
