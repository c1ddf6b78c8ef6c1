"""A real browser through the drill-down: login → overview → account → resource.

Drives Debian's Chromium (never a downloaded browser) with Playwright against
pytest-django's live server, and saves a screenshot of every page to
test-artifacts/ for a human to look at.
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from findings.tests.factories import PASSWORD, build_world

# Playwright's sync API runs an event loop in this thread; the ORM calls made
# here are still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium); the browser test never downloads one",
    ),
]


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (dev extras)"
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" else None,
        )
        page.js_errors = errors
        yield page
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_drill_down_from_login_to_a_resource(live_server, browser_page):
    world = build_world()
    page = browser_page

    page.goto(live_server.url + reverse("findings:overview"))
    assert "/accounts/login/" in page.url
    shot(page, "01-login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_url(live_server.url + reverse("findings:overview"))
    assert page.locator(".kpi-rate .rate-xl").inner_text() == "75%"
    assert page.get_by_text("Simulated organization").first.is_visible()
    sections = page.locator(".sections-table")
    assert sections.get_by_role("link", name="Amazon S3").is_visible()
    assert sections.get_by_text("AWS's responsibility").first.is_visible()
    assert page.locator("svg.chart polyline.chart-line").count() == 1
    assert page.get_by_text("data-lake").count() == 0
    shot(page, "02-overview")

    page.get_by_role("link", name="payments-prod").first.click()
    page.wait_for_url(f"**{reverse('findings:account', args=[world.payments.pk])}")
    assert page.locator("h1").inner_text() == "payments-prod"
    assert page.locator(".head-kpi .rate").inner_text() == "75%"
    shot(page, "03-account")

    # The hostile bucket name is shown as text, never run.
    page.get_by_role("link", name=world.bucket.name).first.click()
    page.wait_for_url(f"**{reverse('findings:resource', args=[world.bucket.pk])}")
    assert page.locator("h1").inner_text() == world.bucket.name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content()
    page.locator("details.config summary").click()
    assert page.locator("details.config pre").is_visible()
    page.locator("ol.timeline details summary").first.click()
    shot(page, "04-resource")

    # Section and control pages, and the htmx filter on the scan page.
    s3 = reverse("findings:section", args=["service/storage/s3"])
    page.goto(live_server.url + s3)
    assert page.locator("h1").inner_text() == "Amazon S3"
    shot(page, "05-section")
    title = "Bucket-level S3 Block Public Access is fully on"
    page.get_by_role("link", name=title).first.click()
    assert page.locator(".head-kpi .rate").inner_text() == "67%"
    shot(page, "06-control")

    page.goto(live_server.url + reverse("collectors:scans"))
    shot(page, "07-scans")
    page.get_by_role("link", name=f"#{world.new.pk}").click()
    page.select_option("select[name=status]", "ok")
    page.wait_for_url("**status=ok**")
    assert page.locator("#units tbody tr").count() == 2
    shot(page, "08-scan")

    # Tablet width: the overview still lays out.
    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(live_server.url + reverse("findings:overview"))
    shot(page, "09-overview-tablet")

    assert page.js_errors == []
