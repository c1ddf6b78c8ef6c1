"""Frameworks pages and pass-rate exports at scale (issue #5).

They read cached figures, the dashboard's where a page has them: an export
shows exactly what its page shows, and a rewritten rollup, a scan that has
just finished or another user's scope shows at once.
"""

import csv
import io

import pytest
from django.urls import reverse

from accounts.models import Team
from collectors.models import Scan
from findings.models import ControlRollup
from findings.tests.factories import (
    CTL_S3,
    SEC_S3,
    make_account,
    make_rollup,
    make_scan,
    make_team,
    make_user,
)
from findings.tests.test_pages import build_fleet

pytestmark = pytest.mark.django_db


def export(client, name, *args, query="") -> list[dict]:
    response = client.get(reverse(name, args=args) + query)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def context(client, name, *args, query=""):
    response = client.get(reverse(name, args=args) + query)
    assert response.status_code == 200
    return response.context


def s3_everywhere(client) -> dict[str, str]:
    """CTL_S3's pass rate on the CIS v3 page (requirement 2.1.4), in its
    export, in controls.csv, and the failing count on the frameworks list."""
    rows = context(client, "findings:framework", "cis-v3")["rows"]
    requirement = next(r for r in rows if r.requirement.id == "2.1.4")
    on_page = next(c for c in requirement.controls if c.control_id == CTL_S3)
    exported = {
        r["control_id"]: r["pass_rate"]
        for r in export(client, "findings:framework_csv", "cis-v3")
    }
    controls = {r["control_id"]: r for r in export(client, "findings:controls_csv")}
    cards = context(client, "findings:frameworks")["cards"]
    cis = next(card for card in cards if card["framework"].slug == "cis-v3")
    return {
        "page": f"{on_page.rate:.4f}",
        "framework.csv": exported[CTL_S3],
        "controls.csv": controls[CTL_S3]["pass_rate"],
        "failing": str(cis["totals"].failed),
    }


def test_framework_pages_and_exports_agree_and_follow_a_rewrite(client):
    fleet = build_fleet(accounts=4, days=2)
    client.force_login(fleet.lead)
    # Accounts pass 0, 1, 2 and 3 of 4 buckets: 6 of 16.
    assert s3_everywhere(client) == {
        "page": "0.3750",
        "framework.csv": "0.3750",
        "controls.csv": "0.3750",
        "failing": "10",
    }

    # What an exception recount or a re-run of the evaluation does.
    ControlRollup.objects.filter(scan=fleet.scans[-1], control_id=CTL_S3).update(
        failed=0
    )

    assert s3_everywhere(client) == {
        "page": "1.0000",
        "framework.csv": "1.0000",
        "controls.csv": "1.0000",
        "failing": "0",
    }


def test_each_scope_gets_its_own_figures(client):
    fleet = build_fleet(accounts=4, days=1)
    narrow = make_user("narrow")
    make_team("One account", members=[narrow], accounts=fleet.accounts[3:])
    for user, rate in [
        (fleet.lead, "0.3750"),
        (narrow, "0.7500"),
        (fleet.lead, "0.3750"),
    ]:
        client.force_login(user)
        assert s3_everywhere(client)["controls.csv"] == rate


def test_a_scan_that_finishes_is_current_at_once(client):
    """Its rollups are written while it evaluates; it counts once it ends."""
    fleet = build_fleet(accounts=2, days=1)
    client.force_login(fleet.lead)
    evaluating = make_scan(
        fleet.org, at=fleet.scans[-1].started_at.replace(hour=23), status="evaluating"
    )
    for account in fleet.accounts:
        make_rollup(evaluating, account, CTL_S3, SEC_S3, passed=4)
    assert s3_everywhere(client)["controls.csv"] == "0.1250"  # 1 of 8

    Scan.objects.filter(pk=evaluating.pk).update(status=Scan.Status.FINISHED)

    assert s3_everywhere(client) == {
        "page": "1.0000",
        "framework.csv": "1.0000",
        "controls.csv": "1.0000",
        "failing": "0",  # the new scan's rollups: the bucket check only
    }


def test_section_export_has_the_section_pages_figures(client):
    fleet = build_fleet(accounts=4, days=1)
    client.force_login(fleet.lead)
    for failed in (None, 0):
        if failed is not None:
            ControlRollup.objects.filter(control_id=CTL_S3).update(failed=failed)
        rows = context(client, "findings:section", SEC_S3)["rows"]
        exported = export(client, "findings:section_controls_csv", SEC_S3)
        assert [r["control_id"] for r in exported] == [r.control_id for r in rows]
        assert [r["failed"] for r in exported] == [str(r.counts.failed) for r in rows]
    assert {r["control_id"]: r["pass_rate"] for r in exported}[CTL_S3] == "1.0000"


def test_overview_exports_follow_a_rewrite_and_a_rename(client):
    fleet = build_fleet(accounts=4, days=1)
    client.force_login(fleet.lead)
    sections = {r["section"]: r for r in export(client, "findings:sections_csv")}
    assert sections[SEC_S3]["failed"] == "14"  # 10 bucket and 4 versioning checks
    accounts = export(client, "findings:accounts_csv")
    assert accounts[0]["account_name"] == "fleet-00"  # passes 0 of 4 buckets

    ControlRollup.objects.filter(control_id=CTL_S3).update(failed=0)
    fleet.accounts[1].name = "renamed-account"
    fleet.accounts[1].save()

    sections = {r["section"]: r for r in export(client, "findings:sections_csv")}
    assert sections[SEC_S3]["failed"] == "4"
    accounts = export(client, "findings:accounts_csv")
    assert "renamed-account" in [r["account_name"] for r in accounts]
    assert "fleet-01" not in [r["account_name"] for r in accounts]


def test_accounts_export_lists_the_accounts_pages_rows(client):
    fleet = build_fleet(accounts=4, days=1)
    newcomer = make_account(fleet.org, "newcomer")  # no results in the scan yet
    Team.objects.get(name="fleet").accounts.add(newcomer)
    client.force_login(fleet.lead)

    listed = context(client, "findings:accounts", query=f"?org={fleet.org.pk}")
    exported = export(client, "findings:accounts_csv", query=f"?org={fleet.org.pk}")

    assert [r["account_id"] for r in exported] == [
        row.account.account_id for row in listed["page"].object_list
    ]
    last = exported[-1]
    assert last["account_name"] == "newcomer" and last["pass_rate"] == ""
    assert last["scan_id"] == str(fleet.scans[-1].pk)
