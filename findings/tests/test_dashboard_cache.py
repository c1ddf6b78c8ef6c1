"""Cached dashboard figures (findings/dashboard.py): a page served from the
cache shows what the database holds now, for the user who asked and no one
else, and costs fewer queries than the first request.
"""

import pytest

from findings import dashboard
from findings.models import ControlRollup
from findings.tests.factories import (
    CTL_S3,
    SEC_S3,
    make_account,
    make_org,
    make_rollup,
    make_scan,
    make_team,
    make_user,
)
from findings.tests.test_pages import build_fleet, page

pytestmark = pytest.mark.django_db

PAGES = [
    ("findings:overview", ()),
    ("findings:section", (SEC_S3,)),
    ("findings:control", (CTL_S3,)),
    ("findings:account", ("account",)),
]


def _args(fleet, args):
    return [fleet.accounts[0].pk if a == "account" else a for a in args]


def test_every_rollup_write_changes_the_version(db):
    org = make_org()
    account = make_account(org)
    scan = make_scan(org)
    before = dashboard.rollup_version()
    rollup = make_rollup(scan, account, CTL_S3, SEC_S3, passed=1)
    after_insert = dashboard.rollup_version()
    ControlRollup.objects.filter(pk=rollup.pk).update(failed=2)
    after_update = dashboard.rollup_version()
    ControlRollup.objects.filter(pk=rollup.pk).delete()
    assert len({before, after_insert, after_update, dashboard.rollup_version()}) == 4


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_a_rewritten_rollup_shows_at_once(client, name, args):
    fleet = build_fleet(accounts=2, days=2)
    client.force_login(fleet.lead)
    args = _args(fleet, args)
    _, html = page(client, name, *args)
    assert "100%" not in html.split("Pass rate now")[1][:400]

    # What an exception recount or a re-run of the evaluation does.
    ControlRollup.objects.filter(scan=fleet.scans[-1]).update(failed=0)

    _, html = page(client, name, *args)
    assert "100%" in html.split("Pass rate now")[1][:400]


def test_users_who_see_other_accounts_get_their_own_figures(client):
    fleet = build_fleet(accounts=2, days=1)
    narrow = make_user("narrow")
    make_team("one account", members=[narrow], accounts=fleet.accounts[:1])
    client.force_login(fleet.lead)
    _, html = page(client, "findings:overview")
    assert "fleet-00" in html and "fleet-01" in html

    client.force_login(narrow)
    _, html = page(client, "findings:overview")
    assert "fleet-00" in html and "fleet-01" not in html


def test_a_renamed_account_shows_at_once(client):
    fleet = build_fleet(accounts=2, days=1)
    client.force_login(fleet.lead)
    page(client, "findings:overview")
    fleet.accounts[1].name = "renamed-account"
    fleet.accounts[1].save()
    _, html = page(client, "findings:overview")
    assert "renamed-account" in html and "fleet-01" not in html


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_a_cached_page_costs_fewer_queries(
    client, name, args, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fleet = build_fleet(accounts=4, days=5)
    client.force_login(fleet.lead)
    args = _args(fleet, args)
    with CaptureQueriesContext(connection) as first:
        response, first_html = page(client, name, *args)
    assert response.status_code == 200
    with django_assert_max_num_queries(len(first) - 3):
        _, html = page(client, name, *args)
    # Only the CSRF token may differ between the two.
    strip = 'name="csrfmiddlewaretoken" value="'
    assert html.split(strip)[0] == first_html.split(strip)[0]
