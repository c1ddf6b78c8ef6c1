"""The overview at many accounts, and the accounts page it links to.

The overview lists the worst accounts and shows the heat-map's worst columns
only (at a thousand accounts the page weighed 10 MB); the accounts page lists
every account, worst first, paged and searchable.
"""

import re

import pytest

from accounts.models import Account
from findings import dashboard, views
from findings.tests.factories import CTL_S3, make_account, make_team
from findings.tests.test_pages import build_fleet, page

pytestmark = pytest.mark.django_db


def account_names(html: str, block: str) -> list[str]:
    """Account links in order, within the element with id ``block``."""
    start = html.index(f'id="{block}"')
    return re.findall(r'href="/accounts/\d+/[^"]*">([^<]+)</a>', html[start:])


def heat_columns(html: str) -> list[str]:
    head = html[html.index('class="heatmap"') : html.index("</thead>")]
    return re.findall(r'<a href="/accounts/\d+/">([^<]+)</a>', head)


@pytest.fixture
def fleet():
    """Twelve accounts; fleet-00, -04 and -08 pass least (2 of 7)."""
    return build_fleet(accounts=12, days=2)


def test_the_overview_lists_the_worst_accounts_and_links_to_all(client, fleet):
    client.force_login(fleet.lead)

    _, html = page(client, "findings:overview")

    card = html[html.index('id="accounts-title"') :]
    listed = re.findall(r'<a href="/accounts/\d+/">([^<]+)</a>', card)
    assert len(listed) == dashboard.OVERVIEW_ACCOUNTS
    assert listed[:3] == ["fleet-00", "fleet-04", "fleet-08"]
    assert f'href="/accounts/?org={fleet.org.pk}">All 12 accounts →</a>' in card


def test_the_heatmap_shows_the_worst_columns_only(client, fleet, monkeypatch):
    monkeypatch.setattr(dashboard, "HEATMAP_COLUMNS", 3)
    client.force_login(fleet.lead)

    _, html = page(client, "findings:overview")

    assert heat_columns(html) == ["fleet-00", "fleet-04", "fleet-08"]
    assert "The 3 accounts with the lowest pass rate, of 12." in html
    # Three OUs fit: every one is shown, and nothing says otherwise.
    _, by_ou = page(client, "findings:overview", query="?by=ou")
    assert "lowest pass rate, of" not in by_ou
    assert by_ou.count('class="heat-col"') == 3


def test_the_accounts_page_lists_every_account_worst_first(client, fleet, monkeypatch):
    monkeypatch.setattr(views, "ACCOUNTS_PER_PAGE", 5)
    silent = make_account(fleet.org, "silent-new")  # no results in the scan
    make_team("silent", members=[fleet.lead], accounts=[silent])
    client.force_login(fleet.lead)

    _, first = page(client, "findings:accounts")
    _, last = page(client, "findings:accounts", query="?page=3")

    assert account_names(first, "accounts") == [
        "fleet-00",
        "fleet-04",
        "fleet-08",
        "fleet-01",
        "fleet-05",
    ]
    assert "Page 1 of 3 · 13 accounts" in first
    assert account_names(last, "accounts") == ["fleet-07", "fleet-11", "silent-new"]
    silent_row = last[last.index("silent-new") :]
    assert "No results in this scan" in silent_row
    assert "100%" not in silent_row


def test_the_accounts_page_searches_names_ids_and_ous(client, fleet):
    client.force_login(fleet.lead)
    prod = [a.name for a in fleet.accounts if a.ou_path == "Root/Prod"]

    _, by_ou = page(client, "findings:accounts", query="?q=root/prod")
    _, by_name = page(client, "findings:accounts", query="?q=fleet-05")
    number = fleet.accounts[7].account_id
    _, by_id = page(client, "findings:accounts", query=f"?q={number}")
    _, hostile = page(client, "findings:accounts", query="?q=<script>x")

    assert sorted(account_names(by_ou, "accounts")) == sorted(prod)
    assert account_names(by_name, "accounts") == ["fleet-05"]
    assert account_names(by_id, "accounts") == ["fleet-07"]
    assert "No account's name, id or OU contains “&lt;script&gt;x”." in hostile
    assert "<script>x" not in hostile


def test_the_accounts_partial_is_the_list_only(client, fleet):
    client.force_login(fleet.lead)

    response, html = page(
        client,
        "findings:accounts",
        query="?page=2",
        **{"HX-Request": "true", "HX-Target": "accounts"},
    )

    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="accounts"')
    assert "<html" not in html
    assert response.headers["Vary"].count("HX-Target") == 1


def test_the_control_page_lists_its_worst_accounts_and_links_to_all(client):
    fleet = build_fleet(accounts=14, days=1)
    client.force_login(fleet.lead)

    _, html = page(client, "findings:control", CTL_S3)

    card = html[html.index('id="per-account-title"') : html.index('id="failing-title"')]
    listed = re.findall(r'<a href="/accounts/\d+/\?control=[^"]+">([^<]+)</a>', card)
    assert len(listed) == dashboard.OVERVIEW_ACCOUNTS
    assert listed[:4] == ["fleet-00", "fleet-04", "fleet-08", "fleet-12"]
    assert "All 14 accounts with results for this control →" in card
    # The totals are every account's, not the listed ones': 14 x 4 checks.
    history = dashboard.control_history(CTL_S3, Account.objects.all(), 30)
    assert history.totals.passed + history.totals.failed == 14 * 4


def test_the_accounts_page_for_a_control_ranks_by_that_control(client, fleet):
    silent = make_account(fleet.org, "silent-new")
    make_team("silent", members=[fleet.lead], accounts=[silent])
    client.force_login(fleet.lead)

    _, html = page(client, "findings:accounts", query=f"?control={CTL_S3}")

    names = account_names(html, "accounts")
    assert names[:3] == ["fleet-00", "fleet-04", "fleet-08"]  # 0 of 4 buckets pass
    assert names[-3:] == ["fleet-03", "fleet-07", "fleet-11"]  # 3 of 4
    assert "silent-new" not in names  # no results for the control
    assert f'href="/accounts/{fleet.accounts[0].pk}/?control={CTL_S3}"' in html
    assert f'<a href="/controls/{CTL_S3}/">{CTL_S3}</a>' in html  # breadcrumbs


def test_the_organization_switch_keeps_the_control(client, fleet):
    other = build_fleet(accounts=1, days=1, name="other")
    make_team("both", members=[fleet.lead], accounts=other.accounts)
    client.force_login(fleet.lead)

    _, html = page(client, "findings:accounts", query=f"?control={CTL_S3}")
    _, overview = page(client, "findings:overview")

    start = html.index('class="org-switch"')
    switch = html[start : html.index("</form>", start)]
    assert f'<input type="hidden" name="control" value="{CTL_S3}">' in switch
    assert f'<option value="{other.org.pk}">other</option>' in switch
    assert 'action="/" class="org-switch"' in overview


def test_account_selects_list_every_account_escaped(client, fleet):
    hostile = make_account(fleet.org, "<b>x</b>")
    make_team("hostile", members=[fleet.lead], accounts=[hostile])
    client.force_login(fleet.lead)

    _, html = page(client, "findings:control", CTL_S3)

    select = html[html.index('<select name="account"') :]
    select = select[: select.index("</select>")]
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select)
    assert options[0] == ("", "All accounts")
    assert len(options) == 1 + 13
    label = f"&lt;b&gt;x&lt;/b&gt; ({hostile.account_id})"
    assert (str(hostile.pk), label) in options
    assert "<b>x</b>" not in html
