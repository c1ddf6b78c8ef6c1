"""Overview, section, control and account pages (issue #7): trend windows,
coverage by account / region / service, the sections x accounts heat-map, the
suppressed figure, sparklines, the section filter, and bounded query counts.
"""

import re
import types
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.models import Account
from collectors.models import ScanUnit
from findings import dashboard
from findings.templatetags.parapet import heat_class, points
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    SEC_CREDENTIALS,
    SEC_S3,
    T0,
    build_world,
    make_account,
    make_finding,
    make_org,
    make_resource,
    make_rollup,
    make_scan,
    make_team,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db

CTL_VERSIONING = "s3.bucket.versioning"  # also in service/storage/s3


def page(client, name, *args, query="", **headers):
    response = client.get(reverse(name, args=args) + query, headers=headers)
    return response, response.content.decode()


def trend_labels(html: str) -> list[str]:
    """The trend chart's point labels ("2025-03-01 06:00: 50%"), oldest first."""
    block = html[html.index('id="trend"') :]
    return re.findall(r"<title>(\d{4}-\d\d-\d\d \d\d:\d\d: [^<]+)</title>", block)


def build_fleet(
    accounts: int, days: int = 5, name: str = "fleet"
) -> types.SimpleNamespace:
    """One organization of ``accounts`` accounts in three OUs, scanned once a
    day for ``days`` days (twice on the last day), three controls each.

    Account i passes ``i % 4`` of 4 bucket checks; every account passes MFA.
    """
    org = make_org(name)
    ous = ["Root/Prod", "Root/Dev", ""]
    fleet = [
        make_account(org, f"{name}-{i:02d}", ou_path=ous[i % 3])
        for i in range(accounts)
    ]
    lead = make_user(f"{name}-lead")
    make_team(name, members=[lead], accounts=fleet)
    scans = [make_scan(org, at=T0 + timedelta(days=d)) for d in range(days)]
    # A second scan on the last day: the trend keeps only this one for that day.
    scans.append(make_scan(org, at=scans[-1].started_at + timedelta(hours=6)))
    for scan in scans:
        for i, account in enumerate(fleet):
            passed = i % 4
            make_rollup(scan, account, CTL_S3, SEC_S3, passed=passed, failed=4 - passed)
            make_rollup(scan, account, CTL_VERSIONING, SEC_S3, passed=1, failed=1)
            make_rollup(scan, account, CTL_MFA, SEC_CREDENTIALS, passed=1)
            make_unit(scan, account, service="s3")
            make_unit(scan, account, service="iam", region="global")
    return types.SimpleNamespace(org=org, accounts=fleet, scans=scans, lead=lead)


# -- Trend windows -----------------------------------------------------------------


def test_trend_keeps_the_last_scan_of_each_day(client, db):
    org = make_org("Daily")
    account = make_account(org, "only")
    user = make_user("u")
    make_team("T", members=[user], accounts=[account])
    morning = make_scan(org, at=T0)
    evening = make_scan(org, at=T0 + timedelta(hours=10))
    next_day = make_scan(org, at=T0 + timedelta(days=1))
    make_rollup(morning, account, CTL_S3, SEC_S3, passed=0, failed=4)
    make_rollup(evening, account, CTL_S3, SEC_S3, passed=1, failed=3)
    make_rollup(next_day, account, CTL_S3, SEC_S3, passed=2, failed=2)
    client.force_login(user)

    _, html = page(client, "findings:overview")

    # Two days, two points: the morning scan's 0% is not one of them.
    assert trend_labels(html) == ["2025-03-01 16:00: 25%", "2025-03-02 06:00: 50%"]
    assert "2 scan days in the last 30 days" in html


def test_trend_window_selector(client, db):
    fleet = build_fleet(accounts=2, days=10)
    client.force_login(fleet.lead)

    _, html = page(client, "findings:overview")
    assert len(trend_labels(html)) == 10  # every day fits in the default 30
    assert 'href="?days=7"' in html and 'hx-get="?days=7"' in html
    assert re.search(r'aria-current="true">30 days<', html)

    _, html = page(client, "findings:overview", query="?days=7")
    labels = trend_labels(html)
    # Seven calendar days ending on the latest scan's day.
    assert len(labels) == 7 and labels[0].startswith("2025-03-04")
    assert re.search(r'aria-current="true">7 days<', html)

    # A window that is not offered falls back to the default.
    _, html = page(client, "findings:overview", query="?days=12")
    assert len(trend_labels(html)) == 10
    assert re.search(r'aria-current="true">30 days<', html)


def test_trend_links_keep_the_other_settings(client, db):
    fleet = build_fleet(accounts=2, days=2)
    client.force_login(fleet.lead)
    _, html = page(client, "findings:overview", query=f"?org={fleet.org.pk}&by=ou")
    assert f'href="?org={fleet.org.pk}&amp;by=ou&amp;days=90"' in html


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("findings:overview", ()),
        ("findings:control", (CTL_S3,)),
        ("findings:account", ("account",)),
    ],
)
def test_htmx_gets_only_the_trend(
    client, db, name, args, django_assert_max_num_queries
):
    fleet = build_fleet(accounts=3, days=3)
    args = [fleet.accounts[0].pk if a == "account" else a for a in args]
    client.force_login(fleet.lead)
    # Session, user, then a handful: the partial skips the rest of the page.
    # (The control's: whether the user sees its whole organization, on the
    # cache miss, to read its totals rather than every account's rollups.)
    with django_assert_max_num_queries(10):
        response, html = page(
            client, name, *args, query="?days=365", HX_Request="true", HX_Target="trend"
        )
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="trend"')
    assert len(trend_labels(html)) == 3
    assert "HX-Target" in response["Vary"]


# -- Overview: KPIs, coverage, heat-map ---------------------------------------------


def test_suppressed_is_its_own_figure(client, db):
    fleet = build_fleet(accounts=1, days=1)
    client.force_login(fleet.lead)
    _, html = page(client, "findings:overview")
    assert re.search(r"Suppressed</dt><dd>0</dd>", html)

    make_rollup(
        fleet.scans[-1], fleet.accounts[0], "s3.bucket.mfa-delete", SEC_S3, suppressed=3
    )
    _, html = page(client, "findings:overview")
    # The figure opens the explorer on the suppressed findings.
    assert re.search(r'Suppressed</dt><dd><a href="[^"]*status=suppressed">3</a>', html)
    assert "never as passing" in html


def test_rate_change_since_the_previous_scan_day(client, db):
    org = make_org("Delta")
    account = make_account(org, "only")
    user = make_user("u")
    make_team("T", members=[user], accounts=[account])
    make_rollup(make_scan(org, at=T0), account, CTL_S3, SEC_S3, passed=1, failed=3)
    later = make_scan(org, at=T0 + timedelta(days=2))
    make_rollup(later, account, CTL_S3, SEC_S3, passed=3, failed=1)
    client.force_login(user)
    _, html = page(client, "findings:overview")
    assert "+50 pts" in html and "since Mar 1" in html


def test_coverage_by_account_region_and_service(client, db):
    world = build_world()
    units = {
        ("eu-west-1", "s3"): (ScanUnit.Status.FAILED, "throttled"),
        ("eu-west-1", "sqs"): (ScanUnit.Status.RUNNING, ""),
        ("ap-east-1", "s3"): (ScanUnit.Status.SKIPPED, "region_disabled"),
    }
    for (region, service), (status, kind) in units.items():
        make_unit(
            world.new,
            world.payments,
            service=service,
            region=region,
            status=status,
            error_kind=kind,
        )
    client.force_login(world.root)
    _, html = page(client, "findings:overview")

    summary = dashboard.organization_summary(world.org, Account.objects.all())
    dims = {d.label: d for d in summary.coverage.dimensions}
    # Both accounts have a gap: data-lake's ec2 denied, payments' eu-west-1.
    assert (dims["Accounts"].total, dims["Accounts"].complete) == (2, 0)
    # us-east-1 complete; eu-west-1 has gaps; ap-east-1 is not enabled; global
    # services are no region.
    assert dims["Regions"].total == 3 and dims["Regions"].complete == 1
    assert [g.name for g in dims["Regions"].gaps] == ["eu-west-1"]
    assert dims["Regions"].skipped == ["ap-east-1"]
    assert dict(dims["Regions"].gaps[0].reasons) == {
        "Access denied": 1,
        "Throttled": 1,
        "Not finished": 1,
    }
    services = {g.name: dict(g.reasons) for g in dims["Services"].gaps}
    assert services == {
        "ec2": {"Access denied": 1},
        "s3": {"Throttled": 1},
        "sqs": {"Not finished": 1},
    }

    assert "Where the gaps are" in html
    assert "Throttled (1)" in html and "Not finished (1)" in html
    assert "1 not enabled" in html
    assert reverse("findings:account", args=[world.data.pk]) in html


def test_coverage_counts_only_visible_accounts(client, db):
    world = build_world()
    client.force_login(world.alice)
    _, html = page(client, "findings:overview")
    # bob's failed ec2 unit is not alice's gap.
    assert "Every planned unit was collected." in html
    assert "Where the gaps are" not in html


def heat_cells(html: str) -> list[tuple[str, str]]:
    """(shade, text) of each heat-map cell, in document order."""
    return [
        (cls, re.sub(r"<[^>]+>|\s", "", text))
        for cls, text in re.findall(
            r'<td class="heat (heat-[\w-]+)"[^>]*>(.*?)</td>', html, re.S
        )
    ]


def test_heatmap_sections_by_accounts(client, db):
    world = build_world()
    client.force_login(world.root)
    _, html = page(client, "findings:overview")
    assert "Sections × accounts" in html
    # Columns data-lake, payments-prod (by name); rows in tree order:
    # credentials (payments 1/1, data-lake none), then S3 (1/4, 2/3).
    assert heat_cells(html) == [
        ("heat-empty", "noresults"),
        ("heat-5", "100%"),
        ("heat-1", "25%"),
        ("heat-2", "67%"),
    ]
    cell_link = (
        reverse("findings:account", args=[world.payments.pk])
        + f"?section={SEC_S3}#findings"
    )
    assert cell_link in html


def test_heatmap_by_ou_sums_the_accounts_of_each_ou(client, db):
    fleet = build_fleet(accounts=6, days=1)
    client.force_login(fleet.lead)
    _, html = page(client, "findings:overview", query="?by=ou")
    assert "Sections × OUs" in html
    assert re.search(r'aria-current="true">OUs<', html)
    headers = re.findall(
        r'<th scope="col" class="heat-col"[^>]*>\s*<span>([^<]+)', html
    )
    assert headers == ["Root/Dev", "Root/Prod", "(no OU)"]
    # The S3 row's Dev cell sums accounts 1 and 4, both of S3's controls.
    s3 = dashboard.Counts()
    for i in (1, 4):
        s3 += dashboard.Counts(passed=i % 4 + 1, failed=4 - i % 4 + 1)
    cells = heat_cells(html)
    assert cells[3] == (heat_class(s3.rate), f"{round(s3.rate * 100)}%")


def test_heatmap_shows_only_the_users_accounts(client, db):
    world = build_world()
    client.force_login(world.alice)
    _, html = page(client, "findings:overview")
    block = html[html.index('class="heatmap"') :]
    assert "payments-prod" in block and "data-lake" not in block
    assert len(heat_cells(html)) == 2


# -- Section, control and account pages ---------------------------------------------


def test_section_controls_have_a_sparkline(client, db):
    fleet = build_fleet(accounts=2, days=3)
    client.force_login(fleet.lead)
    _, html = page(client, "findings:section", SEC_S3)
    assert "Last 30 days" in html
    # One spark per control with results; three days, three points each.
    sparks = re.findall(
        r'class="sparkline"[^>]*aria-label="Recent scans: ([^"]+)"', html
    )
    assert len(sparks) == 2
    assert all(len(s.split(", ")) == 3 for s in sparks)


def test_control_page_has_a_trend_and_per_account_sparks(client, db):
    fleet = build_fleet(accounts=3, days=4)
    client.force_login(fleet.lead)
    _, html = page(client, "findings:control", CTL_S3, query="?days=7")
    assert len(trend_labels(html)) == 4
    assert "Control pass rate per scan day" in html
    assert html.count('class="sparkline"') == 3
    assert "fleet-00" in html and "fleet-02" in html


def test_account_page_shows_ou_path_and_trend(client, db):
    world = build_world()
    client.force_login(world.alice)
    _, html = page(client, "findings:account", world.payments.pk)
    head = html[html.index('class="page-head"') : html.index('class="grid-2"')]
    assert "Root/Workloads/Prod" in head
    assert trend_labels(html) == ["2025-03-01 06:00: 50%", "2025-03-02 06:00: 75%"]


def test_account_findings_filter_by_section(client, db):
    world = build_world()
    mfa = make_finding(
        make_resource(world.payments, name="root-login"), CTL_MFA, "FAIL"
    )
    client.force_login(world.alice)
    _, html = page(client, "findings:account", world.payments.pk)
    assert "root-login" in html and "BlockPublicAcls is off" in html
    assert '<option value="service/storage/s3">' in html

    _, html = page(
        client, "findings:account", world.payments.pk, query=f"?section={SEC_S3}"
    )
    assert "BlockPublicAcls is off" in html and "root-login" not in html
    # A grouping keeps the findings of every section below it.
    _, html = page(
        client, "findings:account", world.payments.pk, query="?section=account-security"
    )
    assert "root-login" in html and "BlockPublicAcls is off" not in html
    assert mfa.reason in html
    # The CSV export of that view uses the same filter.
    response = client.get(
        reverse("findings:account_findings_csv", args=[world.payments.pk])
        + f"?section={SEC_S3}"
    )
    body = b"".join(response.streaming_content).decode()
    assert "BlockPublicAcls is off" in body and "root-login" not in body


def test_section_filter_is_no_way_into_another_teams_account(client, db):
    world = build_world()
    client.force_login(world.bob)
    response, _ = page(
        client, "findings:account", world.payments.pk, query=f"?section={SEC_S3}"
    )
    assert response.status_code == 404
    response, _ = page(
        client,
        "findings:account",
        world.payments.pk,
        query="?days=7",
        HX_Request="true",
        HX_Target="trend",
    )
    assert response.status_code == 404


# -- Query counts: no N+1 -----------------------------------------------------------


PAGES = [
    ("findings:overview", (), ""),
    ("findings:overview", (), "?by=ou&days=365"),
    ("findings:section", (SEC_S3,), ""),
    ("findings:section", ("service",), ""),
    ("findings:control", (CTL_S3,), "?days=365"),
    ("findings:account", ("account",), "?days=365"),
    ("findings:account", ("account",), f"?section={SEC_S3}"),
]


def _queries(client, name, args, query, fleet) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    args = [fleet.accounts[0].pk if a == "account" else a for a in args]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(name, args=args) + query)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(("name", "args", "query"), PAGES)
def test_query_count_does_not_grow_with_accounts(client, db, name, args, query):
    counts = []
    # Then three times the accounts and findings, in a second organization.
    for size, label in ((3, "small"), (9, "big")):
        fleet = build_fleet(accounts=size, days=4, name=label)
        for account in fleet.accounts:
            make_finding(make_resource(account), CTL_S3, "FAIL")
            make_finding(make_resource(account), CTL_VERSIONING, "FAIL")
        client.force_login(fleet.lead)
        counts.append(_queries(client, name, args, query, fleet))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    ("name", "args", "query", "limit"),
    [
        # One more on a miss for the overview and the control: whether the
        # user sees whole organizations (their totals, not every rollup).
        ("findings:overview", (), "?days=365", 23),
        ("findings:section", (SEC_S3,), "", 14),
        ("findings:control", (CTL_S3,), "?days=365", 16),
        ("findings:account", ("account",), "?days=365", 14),
    ],
)
def test_query_count_is_bounded(
    client, db, name, args, query, limit, django_assert_max_num_queries
):
    fleet = build_fleet(accounts=12, days=8)
    for account in fleet.accounts:
        make_finding(make_resource(account), CTL_S3, "FAIL")
    client.force_login(fleet.lead)
    args = [fleet.accounts[0].pk if a == "account" else a for a in args]
    with django_assert_max_num_queries(limit):
        response = client.get(reverse(name, args=args) + query)
    assert response.status_code == 200


# -- Pieces ---------------------------------------------------------------------------


def test_window_start_counts_calendar_days_up_to_the_scan():
    at = datetime(2025, 3, 10, 18, 30, tzinfo=UTC)
    assert dashboard.window_start(at, 7) == datetime(2025, 3, 4, tzinfo=UTC)
    assert dashboard.window_start(at, 1) == datetime(2025, 3, 10, tzinfo=UTC)


def test_heat_class_and_points():
    assert heat_class(None) == "heat-none"
    assert [heat_class(v) for v in (1.0, 0.95, 0.9, 0.85, 0.6, 0.59, 0.0)] == [
        "heat-5",
        "heat-5",
        "heat-4",
        "heat-3",
        "heat-2",
        "heat-1",
        "heat-1",
    ]
    assert (points(4.4), points(-2.6), points(0.2), points(None)) == (
        "+4 pts",
        "\u22123 pts",
        "±0 pts",
        "",
    )


def test_the_control_page_reads_the_accounts_in_scope_once(client, db):
    """The figures' cache key, their scans and the account select share one
    read of the user's accounts (a thousand rows for some users)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fleet = build_fleet(accounts=4, days=2)
    for account in fleet.accounts:
        make_finding(make_resource(account), CTL_S3, "FAIL")
    client.force_login(fleet.lead)
    url = reverse("findings:control", args=[CTL_S3])
    client.get(url)  # the figures computed and cached
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    reads = [q for q in captured if q["sql"].startswith('SELECT "accounts_account".')]
    assert len(reads) == 1, [q["sql"] for q in reads]
    for account in fleet.accounts:
        assert f'<option value="{account.pk}">' in response.text
