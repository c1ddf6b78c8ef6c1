"""Issue #7's quality bar, checked in a real browser on every main page.

No console error and no Content-Security-Policy violation; the skip link is the
first tab stop and lands in <main>; focus is visible; nothing scrolls the page
sideways at tablet (820 px) or laptop (1280 px) width; text meets WCAG AA
contrast; an htmx request shows that it is loading. A screenshot of every page
at both widths goes to $PARAPET_SCREENSHOT_DIR (default: the test's tmp dir).
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from findings.tests.conftest import needs_chromium, sign_in
from findings.tests.factories import CTL_S3, SEC_S3, build_world

pytestmark = [pytest.mark.e2e, needs_chromium, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"tablet": (820, 1180), "laptop": (1280, 800)}

# WCAG 2.x contrast of every visible run of text against the colour behind it
# (translucent backgrounds composited up the ancestors until an opaque one;
# SVG text by its fill). Returns the offenders as "selector "text" ratio".
CONTRAST_OFFENDERS = """
() => {
  const parse = (value) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(value || "");
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) =>
    [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
  const luminance = (c) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) continue;
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    return layers.reduceRight((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  const describe = (el) => {
    const parts = [];
    for (let e = el; e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) { parts.unshift(`${s}#${e.id}`); break; }
      const classes = [...e.classList].slice(0, 2);
      if (classes.length) s += "." + classes.join(".");
      parts.unshift(s);
    }
    return parts.join(" > ");
  };
  const rgb = (c) => `rgb(${c.slice(0, 3).map(Math.round).join(",")})`;
  const offenders = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (style.visibility !== "visible" || !el.getClientRects().length) continue;
    if (el.closest("title, [hidden], [aria-hidden=true]") || el.matches(":disabled")) {
      continue;
    }
    const box = el.getBoundingClientRect();
    if (box.right <= 0 || box.bottom <= 0) continue;  // parked off-screen (skip link)
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    if (!fg || fg[3] === 0) continue;
    const bg = background(el);
    const [hi, lo] = [luminance(over(fg, bg)), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (size >= 18.66 && bold);
    const needed = large ? 3 : 4.5;
    if (ratio + 0.005 < needed) {
      offenders.push(`${describe(el)} "${node.textContent.trim().slice(0, 30)}" `
        + `${ratio.toFixed(2)} < ${needed}: ${rgb(fg)} on ${rgb(bg)}`);
    }
  }
  return offenders;
}
"""


@pytest.fixture
def screenshots(tmp_path) -> Path:
    directory = Path(os.environ.get("PARAPET_SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def world():
    world = build_world()
    world.root.is_superuser = True  # the admin pages are checked too
    world.root.save()
    return world


def main_pages(world) -> dict[str, str]:
    """The drill-down path and every page of the main navigation."""
    return {
        "overview": reverse("findings:overview"),
        "section": reverse("findings:section", args=[SEC_S3]),
        "control": reverse("findings:control", args=[CTL_S3]),
        "account": reverse("findings:account", args=[world.payments.pk]),
        "resource": reverse("findings:resource", args=[world.bucket.pk]),
        "frameworks": reverse("findings:frameworks"),
        "framework": reverse("findings:framework", args=["cis-v3"]),
        "scans": reverse("collectors:scans"),
        "scan": reverse("collectors:scan", args=[world.new.pk]),
        "digests": reverse("findings:digest_settings"),
    }


def visit(page, url: str) -> list[str]:
    """Load ``url``; the errors and CSP violations it caused."""
    page.errors.clear()
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    problems = [] if response.ok else [f"HTTP {response.status}"]
    return problems + page.errors + page.evaluate("window.cspViolations")


def quality_problems(page, url: str, name: str, screenshots: Path) -> list[str]:
    """Everything wrong with one page, at tablet and at laptop width."""
    problems = []
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        found = visit(page, url)
        overflow = page.evaluate(
            "document.scrollingElement.scrollWidth - window.innerWidth"
        )
        if overflow > 0:
            found.append(f"the page scrolls sideways by {overflow}px")
        found += page.evaluate(CONTRAST_OFFENDERS)
        page.screenshot(path=str(screenshots / f"{name}-{label}.png"), full_page=True)
        problems += [f"{name} at {width}px: {problem}" for problem in found]
    return problems


def test_every_page_is_clean_fits_a_tablet_and_is_legible(
    live_server, page, world, screenshots
):
    problems = quality_problems(
        page, live_server.url + reverse("login"), "login", screenshots
    )
    sign_in(page, live_server.url, "root")
    for name, path in main_pages(world).items():
        problems += quality_problems(page, live_server.url + path, name, screenshots)
    # The Django admin is not restyled; it must still run under the policy.
    for name in ("admin:index", "admin:django_celery_beat_periodictask_add"):
        url = live_server.url + reverse(name)
        problems += [f"{name}: {problem}" for problem in visit(page, url)]
    assert problems == [], "\n".join(problems)


def focused(page) -> dict:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const box = el.getBoundingClientRect();
          return {
            text: el.textContent.trim(),
            inMain: Boolean(el.closest("#main")),
            onScreen: box.left >= 0 && box.top >= 0 && box.width > 0,
            outline: `${style.outlineStyle} ${style.outlineWidth}`,
          };
        }"""
    )


def test_the_skip_link_comes_first_and_focus_is_visible(live_server, page, world):
    sign_in(page, live_server.url, "alice")

    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to content"
    assert skip["onScreen"]
    assert skip["outline"] == "solid 2px"

    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    after = focused(page)
    assert after["inMain"], after
    assert after["outline"] == "solid 2px"


def test_the_login_form_has_focus_from_the_start(live_server, page):
    page.goto(live_server.url + reverse("login"))
    start = focused(page)
    assert page.evaluate("document.activeElement.name") == "username"
    assert start["inMain"]
    assert start["outline"] == "solid 2px"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "password"


def test_an_htmx_filter_shows_that_it_is_loading(live_server, page, world):
    sign_in(page, live_server.url, "alice")
    page.goto(live_server.url + reverse("collectors:scan", args=[world.new.pk]))
    indicator = page.locator("#units .htmx-indicator")
    assert not indicator.is_visible()

    held = []  # the htmx request waits here until the loading state is checked
    page.route("**/scans/**", lambda route: held.append(route))
    page.select_option("select[name=status]", "ok")
    indicator.wait_for(state="visible")
    assert indicator.inner_text() == "Loading…"
    page.wait_for_function(  # the table under it dims (after a short transition)
        "() => getComputedStyle(document.querySelector('#units .table-wrap'))"
        ".opacity < 0.5"
    )

    held[0].continue_()
    page.wait_for_url("**status=ok**")
    page.locator("#units .htmx-indicator").wait_for(state="hidden")
    assert page.locator("#units tbody tr").count() == 2
