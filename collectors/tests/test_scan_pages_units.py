"""The scan page's units table and scans.csv at scale (issue #5).

The units table is read account by account instead of sorting every unit of
the scan: it must still list, page after page and under every filter, the
order it always promised (failed first, then by account name, account id,
service and region) and only the accounts the user sees. scans.csv reads the
scan's unit counters, or counts the units when it may not: same figures as
the scans page.
"""

import csv
import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db.models import Case, Value, When
from django.urls import reverse

from accounts.models import Account
from collectors.models import Scan, ScanUnit
from findings.tests.factories import (
    T0,
    make_account,
    make_org,
    make_scan,
    make_team,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db

# Names out of creation order, with a tie ("beta") and an account without one.
NAMES = ["zeta", "beta", "alpha", "", "beta", "mu", "delta", "omega", "kappa", "eta"]
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]
SERVICES = ["s3", "ec2", "rds", "iam"]


@pytest.fixture
def fleet():
    """One organization of ten accounts and a scan of 100 units: 9 failed
    (in three accounts), 8 skipped, the rest collected. root is staff;
    narrow sees every third account."""
    org = make_org("Fleet")
    accounts = [make_account(org) for _ in NAMES]
    for account, name in zip(accounts, NAMES, strict=True):
        Account.objects.filter(pk=account.pk).update(name=name)
    scan = make_scan(org, at=T0, status=Scan.Status.PARTIAL)
    for i, account in enumerate(accounts):
        for service in SERVICES:
            for region in ["global"] if service == "iam" else REGIONS:
                if service == "ec2" and i % 3 == 1:
                    status = ScanUnit.Status.FAILED
                elif region == "ap-south-1" and i % 4 == 0:
                    status = ScanUnit.Status.SKIPPED
                else:
                    status = ScanUnit.Status.OK
                make_unit(scan, account, service=service, region=region, status=status)
    Scan.objects.filter(pk=scan.pk).count_units()
    narrow = make_user("narrow")
    make_team("Every third", members=[narrow], accounts=accounts[::3])
    return SimpleNamespace(scan=scan, root=make_user("root", staff=True), narrow=narrow)


def listed(html: str) -> list[tuple[str, str, str, str]]:
    """The units table's rows: (account id, region, service, status)."""
    return re.findall(
        r'<span class="mono small muted nowrap">(\d{12})</span></td>\s*'
        r'<td class="mono nowrap">([^<]+)</td>\s*'
        r'<td class="mono nowrap">([^<]+)</td>\s*'
        r'<td class="nowrap"><span class="badge [^"]+">([^<]+)</span>',
        html,
    )


def expected(scan: Scan, user, *, status: str = "", service: str = "") -> list:
    """What the table promises, sorted by PostgreSQL as it always was."""
    units = ScanUnit.objects.filter(
        scan=scan, account__in=Account.objects.for_user(user)
    )
    if status:
        units = units.filter(status=status)
    if service:
        units = units.filter(service=service)
    failed_first = Case(When(status="failed", then=Value(0)), default=Value(1))
    ordered = units.order_by(
        failed_first, "account__name", "account__account_id", "service", "region"
    ).select_related("account")
    return [
        (u.account.account_id, u.region, u.service, u.get_status_display())
        for u in ordered
    ]


QUERIES = [
    {},
    {"status": "failed"},
    {"status": "ok"},
    {"status": "skipped"},
    {"service": "ec2"},
    {"status": "ok", "service": "iam"},
]


@pytest.mark.parametrize("who", ["root", "narrow"])
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(q.values()) or "all")
def test_every_page_lists_the_units_in_the_tables_order(client, fleet, who, query):
    user = getattr(fleet, who)
    client.force_login(user)
    url = reverse("collectors:scan", args=[fleet.scan.pk])
    want = expected(fleet.scan, user, **query)
    rows, number = [], 1
    while True:
        # Paging swaps the table in place; the first page is the full page.
        headers = {"HX-Request": "true", "HX-Target": "units"} if number > 1 else {}
        response = client.get(url, {**query, "page": number}, headers=headers)
        html = response.content.decode()
        rows += listed(html)
        if "Next →" not in html:
            break
        number += 1
    assert rows == want
    assert number == max(1, -(-len(want) // 50))
    if number > 1:
        assert f"Page {number} of {number} · {len(want)} units" in html


def test_failed_units_lead_then_accounts_by_name(client, fleet):
    client.force_login(fleet.root)
    html = client.get(reverse("collectors:scan", args=[fleet.scan.pk])).content
    rows = listed(html.decode())
    names = dict(Account.objects.values_list("account_id", "name"))
    failed = [r for r in rows if r[3] == "Failed"]
    assert rows[:9] == failed and {r[2] for r in failed} == {"ec2"}
    # Two accounts named "beta": by account id.
    assert [names[r[0]] for r in failed[::3]] == ["beta", "beta", "omega"]
    assert failed[0][0] < failed[3][0]
    after = [names[r[0]] for r in rows[9:]]
    # The account without a name first, then "alpha", "beta" ... (page 1).
    assert after == sorted(after) and after[0] == "" and after[-1] == "delta"


def test_a_page_past_the_end_shows_the_last_and_no_match_says_so(client, fleet):
    client.force_login(fleet.root)
    url = reverse("collectors:scan", args=[fleet.scan.pk])
    last = client.get(url, {"page": 99}).content.decode()
    assert listed(last) == expected(fleet.scan, fleet.root)[50:]
    empty = client.get(url, {"status": "skipped", "service": "iam"}).content.decode()
    assert listed(empty) == [] and "No units match these filters." in empty


# -- scans.csv -----------------------------------------------------------------------


def scans_csv(client, user) -> dict[int, tuple[str, str, str, str]]:
    """scans.csv's unit columns by scan: (total, collected, failed, skipped)."""
    client.force_login(user)
    response = client.get(reverse("findings:scans_csv"))
    body = b"".join(response.streaming_content).decode()
    return {
        int(row["scan_id"]): (
            row["units_total"],
            row["units_collected"],
            row["units_failed"],
            row["units_skipped"],
        )
        for row in csv.DictReader(io.StringIO(body))
    }


def units_of(scan: Scan, user) -> tuple[str, str, str, str]:
    """The scan's units the user sees, counted: (total, ok, failed, skipped)."""
    units = ScanUnit.objects.filter(
        scan=scan, account__in=Account.objects.for_user(user)
    )
    return tuple(
        str(units.filter(**match).count())
        for match in ({}, {"status": "ok"}, {"status": "failed"}, {"status": "skipped"})
    )


def test_scans_export_reads_counters_and_counts_the_rest(client, fleet):
    scan = fleet.scan
    accounts = list(Account.objects.filter(organization=scan.organization))
    pruned = make_scan(scan.organization, at=T0 - timedelta(days=1))
    for account in accounts[:2]:
        make_unit(pruned, account)
    Scan.objects.filter(pk=pruned.pk).count_units()
    pruned.units.all().delete()  # as retention does: the counters stay
    running = make_scan(scan.organization, at=T0 + timedelta(days=1), status="running")
    for account in accounts:
        make_unit(running, account, status=ScanUnit.Status.PENDING)
    make_unit(running, accounts[0], service="iam", region="global")

    assert scans_csv(client, fleet.root) == {
        scan.pk: ("100", "83", "9", "8"),
        pruned.pk: ("2", "2", "0", "0"),  # its counters: its units are gone
        running.pk: ("11", "1", "0", "0"),  # not counted yet: its units
    }
    # narrow sees four accounts of ten: the counters are not hers to read,
    # so her units are counted, in every scan.
    assert scans_csv(client, fleet.narrow) == {
        scan.pk: units_of(scan, fleet.narrow),
        pruned.pk: ("0", "0", "0", "0"),
        running.pk: ("5", "1", "0", "0"),
    }
    assert units_of(scan, fleet.narrow)[0] == "40"
