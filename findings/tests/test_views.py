"""The dashboard pages, seen by a team member, an outsider, staff and anonymous."""

from datetime import timedelta

import pytest
from django.urls import reverse

from findings.history import config_diff
from findings.templatetags.parapet import pct
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    HOSTILE,
    PASSWORD,
    SEC_CREDENTIALS,
    SEC_S3,
    T0,
    build_world,
    make_account,
    make_org,
    make_resource,
    make_rollup,
    make_scan,
    make_team,
    make_unit,
    make_user,
)

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def login(client, user):
    # The login form itself is exercised once, in test_login_page...
    client.force_login(user)
    return client


def page(client, name, *args, query="", **headers):
    response = client.get(reverse(name, args=args) + query, headers=headers)
    return response, response.content.decode()


# -- Access ------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, world):
    for name, args in [
        ("findings:overview", []),
        ("findings:section", [SEC_S3]),
        ("findings:control", [CTL_S3]),
        ("findings:account", [world.payments.pk]),
        ("findings:resource", [world.bucket.pk]),
        ("collectors:scans", []),
        ("collectors:scan", [world.new.pk]),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_login_page_renders_and_signs_in(client, world):
    response, html = page(client, "login")
    assert response.status_code == 200
    assert 'name="username"' in html and "csrfmiddlewaretoken" in html
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("findings:overview")


def test_outsider_gets_404_for_another_teams_objects(client, world):
    login(client, world.bob)
    for name, args in [
        ("findings:account", [world.payments.pk]),
        ("findings:resource", [world.bucket.pk]),
        ("findings:resource", [world.root_account.pk]),
    ]:
        response, _ = page(client, name, *args)
        assert response.status_code == 404, (name, args)
    # A scan of an organization bob has no account in.
    other = make_org("Other")
    make_account(other, "elsewhere")
    foreign = make_scan(other)
    response, _ = page(client, "collectors:scan", foreign.pk)
    assert response.status_code == 404


def test_unknown_section_control_and_org_are_404(client, world):
    login(client, world.alice)
    assert page(client, "findings:section", "no/such/section")[0].status_code == 404
    assert page(client, "findings:control", "no.such.control")[0].status_code == 404
    other = make_org("Other")
    assert (
        page(client, "findings:overview", query=f"?org={other.pk}")[0].status_code
        == 404
    )
    assert page(client, "findings:overview", query="?org=x")[0].status_code == 404


# -- Overview ------------------------------------------------------------------------


def test_overview_for_a_team_member(client, world):
    login(client, world.alice)
    response, html = page(client, "findings:overview")
    assert response.status_code == 200
    # 3 passing of 4 in alice's only account, from the latest scan's rollups.
    assert 'rate-xl">75%' in html
    assert "Simulated organization" in html
    assert "payments-prod" in html
    assert "data-lake" not in html
    # Whitepaper sections: scored, informational and unscored ones.
    assert "AWS credentials (passwords, MFA, access keys)" in html
    assert "Shared Security Model" in html
    assert "AWS's responsibility" in html
    assert "without results in this scan" in html
    # The trend has one point per scan day: 50% then 75%.
    assert 'class="chart-line"' in html
    assert "2025-03-01 06:00: 50%" in html and "2025-03-02 06:00: 75%" in html
    # Coverage counts alice's units only: the failed one is bob's.
    assert "Every planned unit was collected." in html
    # Changes of the latest scan, escaped.
    assert "New failures" in html and ESCAPED in html
    assert HOSTILE not in html
    assert "Root user has MFA enabled" in html  # the fix


def test_overview_for_staff_covers_every_account(client, world):
    login(client, world.root)
    response, html = page(client, "findings:overview")
    # payments 3/4 + data 1/4.
    assert 'rate-xl">50%' in html
    assert "payments-prod" in html and "data-lake" in html
    assert "Access denied" in html  # the failed unit, by kind
    assert reverse("admin:index") in html


def test_overview_counts_errors_and_unknown_against_the_rate(client, world):
    login(client, world.alice)
    make_rollup(
        world.new,
        world.payments,
        "iam.root.hardware-mfa",
        SEC_CREDENTIALS,
        errors=1,
        unknown=2,
        not_applicable=5,
    )
    _, html = page(client, "findings:overview")
    # 3 passing of 3 + 1 fail + 1 error + 2 unknown; N/A does not count.
    assert 'rate-xl">43%' in html
    assert "not collected" in html


def test_overview_empty_states(client, db):
    org = make_org("Fresh")
    account = make_account(org, "new-account")
    carol = make_user("carol")
    make_team("New", members=[carol], accounts=[account])
    login(client, carol)
    _, html = page(client, "findings:overview")
    assert "No scan yet" in html and "python manage.py scan --wait" in html

    dave = make_user("dave")
    client.logout()
    login(client, dave)
    response, html = page(client, "findings:overview")
    assert response.status_code == 200
    assert "No accounts to show" in html


def test_overview_ignores_unfinished_scans(client, world):
    running = make_scan(world.org, at=T0 + timedelta(days=2), status="running")
    make_rollup(running, world.payments, CTL_MFA, SEC_CREDENTIALS, failed=9)
    login(client, world.alice)
    _, html = page(client, "findings:overview")
    assert 'rate-xl">75%' in html
    assert f"scan #{world.new.pk}" in html


# -- Section and control -------------------------------------------------------------


def test_section_page(client, world):
    login(client, world.alice)
    response, html = page(client, "findings:section", SEC_S3)
    assert response.status_code == 200
    assert "Amazon S3" in html
    assert "AWS's side" in html and "Your side" in html
    assert "Whitepaper notes" in html
    # alice: 2 of 3 for the bucket control in the latest scan.
    assert reverse("findings:control", args=[CTL_S3]) in html
    assert ">67%<" in html
    # Breadcrumbs: overview and the parent grouping.
    assert reverse("findings:overview") in html
    assert reverse("findings:section", args=["service/storage"]) in html


def test_informational_section_is_awss_responsibility(client, world):
    login(client, world.alice)
    response, html = page(client, "findings:section", "shared-responsibility")
    assert response.status_code == 200
    assert "AWS is responsible for this part of the shared model" in html


def test_control_page(client, world):
    login(client, world.alice)
    response, html = page(client, "findings:control", CTL_S3)
    assert response.status_code == 200
    control_html = html
    assert "Why it matters" in control_html and "How to fix it" in control_html
    assert ">67%<" in control_html
    assert ESCAPED in control_html and HOSTILE not in control_html
    assert "lake-raw" not in control_html and "data-lake" not in control_html
    # Drill-down links carry the control for the breadcrumbs.
    assert f"{reverse('findings:resource', args=[world.bucket.pk])}?control=" in html


def test_control_page_for_staff_lists_every_account(client, world):
    login(client, world.root)
    _, html = page(client, "findings:control", CTL_S3)
    assert "payments-prod" in html and "data-lake" in html
    assert "lake-raw" in html
    # The account filter narrows the list (a plain GET with a query string).
    _, html = page(
        client, "findings:control", CTL_S3, query=f"?account={world.data.pk}"
    )
    assert "lake-raw" in html and ESCAPED not in html


def test_findings_filter_returns_the_partial_to_htmx(client, world):
    login(client, world.root)
    response, html = page(
        client,
        "findings:control",
        CTL_S3,
        query="?status=FAIL",
        HX_Request="true",
        HX_Target="findings",
    )
    assert response.status_code == 200
    assert "<html" not in html and 'id="findings"' in html
    assert "HX-Request" in response["Vary"]


# -- Account and resource -----------------------------------------------------------


def test_account_page(client, world):
    login(client, world.alice)
    response, html = page(client, "findings:account", world.payments.pk)
    assert response.status_code == 200
    assert world.payments.account_id in html
    assert "Root/Workloads/Prod" in html and "aws-payments@example.com" in html
    assert ">75%<" in html
    assert "AWS credentials (passwords, MFA, access keys)" in html
    assert ESCAPED in html and HOSTILE not in html  # the failing finding


def test_account_page_shows_failed_units(client, world):
    login(client, world.bob)
    _, html = page(client, "findings:account", world.data.pk)
    assert "Not collected in the latest scan" in html
    assert "Access denied" in html
    assert "ec2:DescribeInstances denied by an SCP" in html


def test_resource_page(client, world):
    login(client, world.alice)
    response, html = page(
        client, "findings:resource", world.bucket.pk, query=f"?control={CTL_S3}"
    )
    assert response.status_code == 200
    assert "AWS::S3::Bucket" in html and f"arn:aws:s3:::{ESCAPED}" in html
    assert HOSTILE not in html and ESCAPED in html
    # Current configuration, history with the diff, and the change it caused.
    assert "<details" in html and "BlockPublicAcls" in html
    assert world.second.sha256[:8] in html and world.first.sha256[:8] in html
    assert "PublicAccessBlock.BlockPublicAcls" in html
    assert f'href="#snapshot-{world.second.pk}"' in html
    assert f'id="snapshot-{world.second.pk}"' in html
    # Breadcrumbs: overview > ... > section > control > account > resource.
    assert reverse("findings:section", args=[SEC_S3]) in html
    assert reverse("findings:control", args=[CTL_S3]) in html
    assert f"{reverse('findings:account', args=[world.payments.pk])}?control=" in html


def test_staff_sees_every_account_and_resource(client, world):
    login(client, world.root)
    for name, pk in [
        ("findings:account", world.payments.pk),
        ("findings:account", world.data.pk),
        ("findings:resource", world.bucket.pk),
        ("findings:resource", world.lake.pk),
    ]:
        assert page(client, name, pk)[0].status_code == 200


def test_hostile_account_data_is_escaped(client, world):
    world.payments.name = HOSTILE
    world.payments.tags = {"owner": HOSTILE}
    world.payments.save()
    resource = make_resource(world.payments, name="x")
    login(client, world.alice)
    for name, args in [
        ("findings:overview", []),
        ("findings:account", [world.payments.pk]),
        ("findings:resource", [resource.pk]),
        ("findings:control", [CTL_S3]),
        ("collectors:scan", [world.new.pk]),
    ]:
        _, html = page(client, name, *args)
        assert HOSTILE not in html, name


# -- Scans ----------------------------------------------------------------------------


def test_scan_list(client, world):
    login(client, world.alice)
    response, html = page(client, "collectors:scans")
    assert response.status_code == 200
    assert f"#{world.new.pk}" in html and f"#{world.old.pk}" in html
    assert "Finished with gaps" in html
    assert "4m 00s" in html


def test_scan_detail_shows_only_visible_units(client, world):
    login(client, world.alice)
    response, html = page(client, "collectors:scan", world.new.pk)
    assert response.status_code == 200
    assert "payments-prod" in html
    assert "data-lake" not in html
    assert "denied by an SCP" not in html


def test_scan_detail_failed_filter(client, world):
    login(client, world.root)
    _, html = page(client, "collectors:scan", world.new.pk)
    assert "payments-prod" in html and "ec2:DescribeInstances denied" in html
    # A plain GET with the query string.
    _, html = page(client, "collectors:scan", world.new.pk, query="?status=failed")
    assert "<html" in html
    assert "ec2:DescribeInstances denied" in html
    assert "payments-prod</a>" not in html
    # The same filter through htmx returns only the units partial.
    response, html = page(
        client,
        "collectors:scan",
        world.new.pk,
        query="?status=failed",
        HX_Request="true",
        HX_Target="units",
    )
    assert "<html" not in html and 'id="units"' in html
    assert "ec2:DescribeInstances denied" in html
    assert "payments-prod</a>" not in html


def test_scan_detail_history_restore_gets_the_full_page(client, world):
    login(client, world.root)
    _, html = page(
        client,
        "collectors:scan",
        world.new.pk,
        HX_Request="true",
        HX_Target="units",
        HX_History_Restore_Request="true",
    )
    assert "<html" in html


# -- Admin ---------------------------------------------------------------------------


def test_admin_pages_for_staff(client, world):
    make_unit(world.new, world.data, service="iam", region="global")
    world.root.is_superuser = True
    world.root.save()
    login(client, world.root)
    for model in [
        "accounts/organization",
        "accounts/account",
        "accounts/team",
        "collectors/scan",
        "collectors/resource",
        "findings/finding",
    ]:
        response = client.get(f"/admin/{model}/")
        assert response.status_code == 200, model
    team = world.payments.teams.first()
    for url in [
        f"/admin/collectors/scan/{world.new.pk}/change/",
        f"/admin/accounts/team/{team.pk}/change/",
        f"/admin/findings/finding/{world.failing.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url


# -- Units ---------------------------------------------------------------------------


def test_pct_never_rounds_to_a_perfect_score():
    assert pct(0.75) == "75%"
    assert pct(0.999) == "99%"
    assert pct(0.001) == "1%"
    assert pct(None) == "—"
    assert pct(1.0) == "100%"


def test_config_diff():
    diff = config_diff(
        {"a": {"b": 1, "c": 2}, "gone": True, "tags": {}},
        {"a": {"b": 1, "c": 3}, "new": [1], "tags": {"team": "x"}},
    )
    assert [(d.path, d.kind) for d in diff] == [
        ("a.c", "changed"),
        ("gone", "removed"),
        ("new", "added"),
        ("tags.team", "added"),
    ]


def test_templates_have_no_inline_script_style_or_safe():
    """Strict CSP later: scripts and styles come from files; AWS data is escaped."""
    from django.conf import settings

    for path in (settings.BASE_DIR / "templates").rglob("*.html"):
        text = path.read_text()
        assert "<script" not in text, path
        assert "|safe" not in text and "autoescape off" not in text, path
        # Emails are not served under the CSP, and mail clients need inline
        # styles; every page is.
        if "emails" not in path.parts:
            assert "style=" not in text and "<style" not in text, path
