"""CIS v3/v4 and FSBP views: requirement pass rates from the same rollups."""

import pytest
from django.urls import reverse

from findings.frameworks import FRAMEWORKS, requirements
from findings.tests.factories import CTL_MFA, CTL_S3, build_world

pytestmark = pytest.mark.django_db


def test_requirements_follow_the_controls_references():
    cis3 = {
        r.id: [c.id for c in r.controls] for r in requirements(FRAMEWORKS["cis-v3"])
    }
    cis4 = {
        r.id: [c.id for c in r.controls] for r in requirements(FRAMEWORKS["cis-v4"])
    }
    fsbp = {r.id: [c.id for c in r.controls] for r in requirements(FRAMEWORKS["fsbp"])}
    # EBS encryption by default moved from 2.2.1 (v3) to 5.1.1 (v4).
    assert "ebs.encryption-by-default" in cis3["2.2.1"]
    assert "ebs.encryption-by-default" in cis4["5.1.1"]
    # ... and 2.2.1 in v4 is RDS encryption (RDS 2.3.x moved to 2.2.x).
    assert "ebs.encryption-by-default" not in cis4.get("2.2.1", [])
    # Two controls answer CIS 2.1.4 (account and bucket Block Public Access).
    assert set(cis3["2.1.4"]) >= {
        "s3.account.public-access-blocked",
        "s3.bucket.public-access-blocked",
    }
    # IAM.9 (root MFA) is a Security Hub control outside FSBP.
    assert CTL_MFA in cis3["1.5"]
    assert not any(CTL_MFA in ids for ids in fsbp.values())
    assert CTL_S3 in fsbp["S3.8"]
    # Natural order: 1.9 before 1.10.
    order = list(cis3)
    assert order.index("1.9") < order.index("1.10")


def test_framework_page_scores_requirements_from_rollups(client):
    world = build_world()
    client.force_login(world.alice)

    page = client.get(reverse("findings:framework", args=["cis-v3"]))

    assert page.status_code == 200
    html = page.content.decode()
    # alice's latest rollups: root MFA 1/1 passing (CIS 1.5), S3 bucket Block
    # Public Access 2 of 3 (CIS 2.1.4).
    rows = {row.requirement.id: row for row in page.context["rows"]}
    assert rows["1.5"].state == "pass"
    assert rows["2.1.4"].state == "fail"
    assert round(rows["2.1.4"].rate * 100) == 67
    assert rows["3.1"].state == "no-results"
    assert page.context["totals"].passed == 3
    assert page.context["totals"].failed == 1
    assert reverse("findings:control", args=[CTL_S3]) in html


def test_frameworks_are_scoped_to_the_users_accounts(client):
    world = build_world()
    client.force_login(world.bob)
    page = client.get(reverse("findings:framework", args=["cis-v3"]))
    # bob sees data-lake only: 1 passing, 3 failing on the S3 control.
    assert page.context["totals"].passed == 1
    assert page.context["totals"].failed == 3
    listing = client.get(reverse("findings:frameworks"))
    assert listing.status_code == 200
    assert "25%" in listing.content.decode()


def test_unknown_framework_is_404(client):
    world = build_world()
    client.force_login(world.alice)
    assert client.get("/frameworks/pci-dss/").status_code == 404
