"""The findings explorer: the filters a user tries, shared URLs, a view's CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from collectors import paging
from findings.exports import EXPLORER_COLUMNS
from findings.models import Suppression
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    HOSTILE,
    T0,
    build_world,
    make_account,
    make_finding,
    make_resource,
    make_team,
    make_user,
)

pytestmark = pytest.mark.django_db

CTL_IMDS = "ec2.instance.imdsv2-required"  # high, service/compute/ec2/guest-os
CTL_SSM = "ec2.instance.ssm-managed"  # medium, same section
CTL_MFA_DELETE = "s3.bucket.mfa-delete"  # low, service/storage/s3
CTL_ACL = "s3.bucket.no-public-acl"  # critical, service/storage/s3


@pytest.fixture
def world():
    """``build_world()`` plus, in payments-prod: an EC2 instance in eu-west-1
    (one failing, one erroring finding) and an archive bucket (a low-severity
    failure, a critical pass, a not-applicable). Every finding changed at its
    own time, so sorting by "last changed" has one right answer.

    Alice sees payments-prod: bucket (FAIL), root account (PASS), web-1 (FAIL,
    ERROR), archive (FAIL, PASS, N/A). Bob sees data-lake: lake-raw (FAIL).
    """
    w = build_world()
    web = make_resource(
        w.payments,
        name="web-1",
        resource_type="AWS::EC2::Instance",
        region="eu-west-1",
        service="ec2",
    )
    archive = make_resource(w.payments, name="archive-logs")
    w.web_imds = make_finding(web, CTL_IMDS, "FAIL", reason="IMDSv1 allowed")
    w.web_ssm = make_finding(web, CTL_SSM, "ERROR", reason="SSM not collected")
    w.archive_mfa = make_finding(archive, CTL_MFA_DELETE, "FAIL", reason="No MFA")
    w.archive_acl = make_finding(archive, CTL_ACL, "PASS", reason="ACL private")
    w.archive_na = make_finding(archive, CTL_S3, "NOT_APPLICABLE", reason="n/a")
    w.web, w.archive = web, archive
    for minutes, finding in enumerate(
        [w.failing, w.fixed, w.web_imds, w.web_ssm, w.archive_mfa, w.archive_acl]
        + [w.archive_na]
    ):
        finding.last_changed = T0 + timedelta(minutes=minutes)
        finding.save(update_fields=["last_changed"])
    return w


def names(client, query: str = "") -> list[str]:
    """Resource and control of each row on the page, in order."""
    response = client.get(reverse("findings:explorer") + query)
    assert response.status_code == 200, response.status_code
    return [f"{f.resource}:{f.control_id}" for f in response.context["page"]]


def csv_rows(client, query: str = "") -> list[list[str]]:
    response = client.get(reverse("findings:explorer_csv") + query)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == EXPLORER_COLUMNS
    return rows[1:]


BUCKET = f"{HOSTILE}:{CTL_S3}"
IMDS = f"web-1:{CTL_IMDS}"
SSM = f"web-1:{CTL_SSM}"
MFA_DELETE = f"archive-logs:{CTL_MFA_DELETE}"
ACL = f"archive-logs:{CTL_ACL}"
NA = f"archive-logs:{CTL_S3}"


@pytest.fixture
def alice(client, world):
    client.force_login(world.alice)
    return client


def root_row(world) -> str:
    return f"{world.root_account.resource_id}:{CTL_MFA}"


# -- Filters ---------------------------------------------------------------------


def test_without_filters_alice_sees_all_her_findings_worst_first(alice, world):
    rows = names(alice)
    # Failing, erroring, passing, not applicable; then severity, account and
    # control (the root account resource has no name: its id shows).
    assert rows == [IMDS, BUCKET, MFA_DELETE, SSM, root_row(world), ACL, NA]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=FAIL", {BUCKET, IMDS, MFA_DELETE}),
        ("?status=ERROR", {SSM}),
        ("?status=PASS&status=NOT_APPLICABLE", {"root", ACL, NA}),
        ("?severity=critical", {"root", ACL}),
        ("?severity=high&severity=low", {BUCKET, IMDS, MFA_DELETE, NA}),
        # A grouping section includes the controls of its sub-sections.
        ("?section=service/compute", {IMDS, SSM}),
        ("?section=service/storage/s3", {BUCKET, MFA_DELETE, ACL, NA}),
        (f"?control={CTL_S3}", {BUCKET, NA}),
        ("?region=eu-west-1", {IMDS, SSM}),
        ("?resource_type=AWS::EC2::Instance", {IMDS, SSM}),
        ("?q=archive", {MFA_DELETE, ACL, NA}),  # resource name
        ("?q=imdsv1", {IMDS}),  # reason, any case
        ("?q=arn:aws:s3:::web", {IMDS, SSM}),  # ARN
        # Combined: every filter must hold.
        ("?status=FAIL&region=us-east-1&severity=high", {BUCKET}),
        ("?status=FAIL&status=ERROR&section=service/compute", {IMDS, SSM}),
        ("?q=archive&status=PASS", {ACL}),
    ],
)
def test_each_filter_narrows_the_list(alice, world, query, expected):
    expected = {root_row(world) if e == "root" else e for e in expected}
    assert set(names(alice, query)) == expected


def test_ou_filter_matches_the_ou_and_everything_below_it(client, world):
    client.force_login(world.root)  # payments is in Root/Workloads/Prod; data has none
    lake = f"lake-raw:{CTL_S3}"
    everything = set(names(client))
    assert lake in everything
    for ou in ("Root", "Root/Workloads", "Root/Workloads/Prod"):
        rows = set(names(client, f"?ou={ou}"))
        assert lake not in rows and BUCKET in rows and len(rows) == 7, ou
    # "Root/Work" is not an OU: a prefix of a name is not a parent.
    response = client.get(reverse("findings:explorer") + "?ou=Root/Work")
    assert "Some filters were ignored" in response.content.decode()


def test_account_filter_and_its_choices_are_the_users_accounts(client, world):
    client.force_login(world.root)
    rows = names(client, f"?account={world.data.pk}")
    assert rows == [f"lake-raw:{CTL_S3}"]
    client.force_login(world.alice)
    response = client.get(reverse("findings:explorer"))
    html = response.content.decode()
    assert "payments-prod" in html and "data-lake" not in html


# -- Other teams, bad input ---------------------------------------------------------


def test_another_teams_findings_never_appear(client, world):
    client.force_login(world.alice)
    # Even asked for by account, OU, name or the other team's only region.
    for query in ("", f"?account={world.data.pk}", "?q=lake", "?status=FAIL"):
        response = client.get(reverse("findings:explorer") + query)
        html = response.content.decode()
        assert "lake-raw" not in html and "data-lake" not in html, query
        rows = csv_rows(client, query)
        assert all(row[0] != world.data.account_id for row in rows), query
        assert not any("lake-raw" in cell for row in rows for cell in row), query


def test_a_user_without_accounts_gets_the_empty_state(client, world):
    client.force_login(make_user("nobody"))
    response = client.get(reverse("findings:explorer"))
    assert response.status_code == 200
    assert "No findings yet" in response.content.decode()
    assert csv_rows(client) == []


@pytest.mark.parametrize(
    "query",
    [
        "?severity=urgent&region=eu-west-1",
        "?status=BROKEN&region=eu-west-1",
        "?page_size=7&region=eu-west-1",
        "?sort=colour&region=eu-west-1",
        "?control=no.such.control&region=eu-west-1",
        "?account=abc&region=eu-west-1",
        "?section=nowhere&region=eu-west-1",
        "?page=999&region=eu-west-1",
    ],
)
def test_a_bad_value_is_reported_and_the_other_filters_still_apply(alice, world, query):
    response = alice.get(reverse("findings:explorer") + query)
    assert response.status_code == 200
    html = response.content.decode()
    if "page=" not in query:
        assert "Some filters were ignored" in html
        assert "is not one of the available choices" in html
    assert set(names(alice, query)) == {IMDS, SSM}
    assert {row[3] for row in csv_rows(alice, query)} == {"web-1"}


def test_long_search_is_an_error_not_a_500(alice, world):
    response = alice.get(reverse("findings:explorer") + "?q=" + "x" * 500)
    assert response.status_code == 200
    assert "at most 200 characters" in response.content.decode()


def test_hostile_names_are_escaped(alice, world):
    html = alice.get(reverse("findings:explorer")).content.decode()
    assert HOSTILE not in html and "&lt;script&gt;" in html


# -- Exceptions --------------------------------------------------------------------


def _except(world, finding, **fields):
    return Suppression.objects.create(
        organization=world.org,
        control_id=finding.control_id,
        account=finding.account,
        reason="Accepted risk",
        approver="ciso@example.com",
        expires_at=timezone.now() + timedelta(days=30),
        **fields,
    )


def test_excepted_findings_leave_failing_and_show_a_badge(alice, world):
    _except(world, world.web_imds, scope="resource", resource=world.web)
    # Revoked and expired exceptions cover nothing.
    _except(
        world,
        world.archive_mfa,
        scope="resource",
        resource=world.archive,
        revoked_at=timezone.now(),
    )
    expired = _except(world, world.web_ssm, scope="account")
    Suppression.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )

    assert set(names(alice, "?status=suppressed")) == {IMDS}
    assert set(names(alice, "?status=FAIL")) == {BUCKET, MFA_DELETE}
    assert set(names(alice, "?status=FAIL&status=suppressed")) == {
        BUCKET,
        MFA_DELETE,
        IMDS,
    }
    html = alice.get(reverse("findings:explorer") + "?region=eu-west-1").content
    assert html.decode().count(">Excepted</span>") == 1
    rows = csv_rows(alice, "?region=eu-west-1")
    excepted = {row[3] + ":" + row[5]: row[-1] for row in rows}
    assert excepted == {IMDS: "true", SSM: "false"}


def test_an_account_wide_exception_covers_the_accounts_findings_only(client, world):
    client.force_login(world.root)
    _except(world, world.failing, scope="account")  # CTL_S3 in payments-prod
    assert set(names(client, "?status=suppressed")) == {BUCKET}
    # The not-applicable finding of the same control is not "excepted".
    assert NA not in names(client, "?status=suppressed")
    assert f"lake-raw:{CTL_S3}" in names(client, "?status=FAIL")


# -- Sorting, paging, sharing ------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("last_changed", [BUCKET, "root", IMDS, SSM, MFA_DELETE, ACL, NA]),
        ("-last_changed", [NA, ACL, MFA_DELETE, SSM, IMDS, "root", BUCKET]),
        # Critical, high, medium, low; ties by status, then control id.
        ("-severity", ["root", ACL, IMDS, BUCKET, NA, SSM, MFA_DELETE]),
        ("severity", [MFA_DELETE, SSM, IMDS, BUCKET, NA, "root", ACL]),
        ("-status", [NA, "root", ACL, SSM, IMDS, BUCKET, MFA_DELETE]),
        # The root account resource has no name: it sorts first. (The hostile
        # bucket name is left out: its place depends on the collation.)
        (
            "resource&severity=low&severity=medium&severity=critical",
            ["root", MFA_DELETE, ACL, SSM],
        ),
        ("control&status=FAIL", [IMDS, MFA_DELETE, BUCKET]),
        ("-account&status=PASS", ["root", ACL]),
    ],
)
def test_sort_order(alice, world, sort, expected):
    expected = [root_row(world) if e == "root" else e for e in expected]
    assert names(alice, f"?sort={sort}") == expected


def test_sort_by_region(alice, world):
    rows = names(alice, "?sort=region&status=FAIL&status=ERROR")
    assert rows[:2] == [IMDS, SSM]  # eu-west-1 before us-east-1
    rows = names(alice, "?sort=-region&status=FAIL&status=ERROR")
    assert rows[2:] == [IMDS, SSM]


def test_sortable_headers_link_to_the_reverse_order(alice, world):
    html = alice.get(reverse("findings:explorer") + "?sort=region").content.decode()
    assert 'aria-sort="ascending"' in html
    assert "sort=-region" in html  # clicking again reverses
    assert "sort=-last_changed" in html  # newest first on a first click


@pytest.fixture
def many(world):
    """60 failing findings in payments-prod, so paging has three pages of 25."""
    for n in range(60):
        resource = make_resource(world.payments, name=f"bulk-{n:02d}")
        make_finding(resource, CTL_S3, "FAIL", reason=f"bulk {n}")
    return world


def test_pages_cover_every_row_once(alice, many):
    query = "?q=bulk&page_size=25"
    pages = [names(alice, f"{query}&page={n}") for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [25, 25, 10]
    everything = [row for page in pages for row in page]
    assert len(set(everything)) == 60
    html = alice.get(reverse("findings:explorer") + query + "&page=2").content
    html = html.decode()
    assert "Page 2 of 3" in html and "« First" in html and "Last »" in html
    assert "page=3" in html and "page=1" in html


def test_the_csv_of_a_filtered_view_is_every_page_in_the_same_order(alice, many):
    query = "?status=FAIL&sort=-resource&page_size=25"
    page_rows = [row for n in (1, 2, 3) for row in names(alice, f"{query}&page={n}")]
    assert len(page_rows) == 63  # 60 bulk, the bucket, web-1 and archive-logs
    rows = csv_rows(alice, query + "&page=2")  # the page shown does not matter
    assert [f"{r[3]}:{r[5]}" for r in rows] == page_rows


def test_a_shared_url_shows_the_same_rows_to_a_colleague(client, world):
    colleague = make_user("carol")
    make_team("Payments 2", members=[colleague], accounts=[world.payments])
    query = "?status=FAIL&status=ERROR&sort=-last_changed&region=eu-west-1"
    client.force_login(world.alice)
    first = names(client, query)
    assert first == names(client, query)
    client.force_login(colleague)
    assert names(client, query) == first == [SSM, IMDS]


def test_a_submitted_form_redirects_to_the_short_url(alice, world):
    url = reverse("findings:explorer")
    response = alice.get(url + "?q=&status=FAIL&region=&page_size=50&sort=")
    assert response.status_code == 302
    assert response["Location"] == url + "?status=FAIL"


def test_htmx_gets_the_partial_and_the_clean_url_to_show(alice, world):
    url = reverse("findings:explorer")
    response = alice.get(
        url + "?q=&status=FAIL&region=eu-west-1&sort=",
        headers={"HX-Request": "true", "HX-Target": "explorer"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="explorer"' in html and "web-1" in html
    assert response["HX-Push-Url"] == url + "?status=FAIL&region=eu-west-1"
    assert "HX-Request" in response["Vary"]


def test_the_page_links_its_export_and_the_nav(alice, world):
    html = alice.get(reverse("findings:explorer") + "?status=FAIL").content.decode()
    assert f'href="{reverse("findings:explorer_csv")}?status=FAIL"' in html
    assert "Export this view (CSV)" in html
    assert 'aria-current="page">Findings</a>' in html
    # The chip removes its filter: back to the bare URL.
    url = reverse("findings:explorer")
    assert "Status: <strong>Failing</strong>" in html
    assert f'class="chip-remove" href="{url}" hx-get="{url}"' in html


def test_the_csv_is_named_after_the_organization(alice, world):
    response = alice.get(reverse("findings:explorer_csv"))
    assert "parapet-acme-findings-" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"


def test_anonymous_is_sent_to_login(client, world):
    for name in ("findings:explorer", "findings:explorer_csv"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# -- Query count -------------------------------------------------------------------


def test_query_count_is_bounded_and_independent_of_page_size(
    client, world, django_assert_max_num_queries
):
    other = make_account(world.org, "payments-dev", ou_path="Root/Workloads/Dev")
    world.payments.teams.first().accounts.add(other)
    for n in range(200):
        account = world.payments if n % 2 else other
        resource = make_resource(
            account,
            name=f"bulk-{n:03d}",
            region=("us-east-1", "eu-west-1")[n % 2],
        )
        make_finding(resource, (CTL_S3, CTL_ACL, CTL_MFA_DELETE)[n % 3], "FAIL")
    _except(world, world.web_imds, scope="resource", resource=world.web)
    client.force_login(world.alice)
    url = reverse("findings:explorer")
    client.get(url)  # reads the regions and types, cached for the next ones
    counts = []
    for query in ("?page_size=25", "?page_size=200", "?page_size=200&sort=-severity"):
        # session, user, the nav's organizations, accounts, (regions and
        # types on a cache miss), count, rows
        with django_assert_max_num_queries(7) as captured:
            response = client.get(url + query)
        assert response.status_code == 200
        counts.append(len(captured))
    assert len(response.context["page"]) == 200
    assert len(set(counts)) == 1  # the same whatever the page size
    # session, user, accounts, regions and types, organization name, rows
    with django_assert_max_num_queries(6):
        # 200 bulk, the bucket, archive-logs; web-1 is excepted
        assert len(csv_rows(client, "?status=FAIL")) == 202


# -- Large views: a capped count, the default order read cell by cell ---------------


@pytest.fixture
def crowd(world, settings):
    """Findings across two accounts, four statuses and every severity, plus a
    control the catalog no longer has (severity rank 0), so the walk through
    (status, severity, account) cells meets each kind of cell."""
    other = make_account(world.org, "payments-dev", ou_path="Root/Workloads/Dev")
    world.payments.teams.first().accounts.add(other)
    controls = (CTL_S3, CTL_ACL, CTL_MFA_DELETE, CTL_IMDS, CTL_SSM, "retired.control")
    statuses = ("FAIL", "PASS", "ERROR", "NOT_APPLICABLE")
    for n in range(12):
        account = (world.payments, other)[n % 2]
        resource = make_resource(account, name=f"crowd-{n:02d}", region="eu-west-1")
        for k in range(4):
            control, status = controls[(n + k) % 6], statuses[(n + 2 * k) % 4]
            make_finding(resource, control, status, reason=f"crowd {n} {k}")
    return world


def test_past_the_cap_the_pages_still_hold_the_csv_rows_in_order(
    alice, crowd, monkeypatch
):
    from findings import explorer

    monkeypatch.setattr(explorer, "COUNT_CAP", 10)
    monkeypatch.setattr(paging, "FIRST_CELLS", 2)  # several retries
    for query in ("?page_size=25", "?page_size=25&status=FAIL&status=ERROR"):
        shown, number = [], 1
        while True:
            response = alice.get(
                reverse("findings:explorer") + f"{query}&page={number}"
            )
            page = response.context["page"]
            shown += [f"{f.resource}:{f.control_id}" for f in page]
            if not page.has_next:
                break
            number += 1
        rows = csv_rows(alice, query)
        assert len(rows) > 25
        assert shown == [f"{r[3]}:{r[5]}" for r in rows], query
    html = response.content.decode()
    assert "More than 10 findings" in html and "Last »" not in html


def test_past_the_cap_an_excepted_finding_leaves_failing(alice, crowd, monkeypatch):
    from findings import explorer

    monkeypatch.setattr(explorer, "COUNT_CAP", 3)
    _except(crowd, crowd.web_imds, scope="resource", resource=crowd.web)
    failing = names(alice, "?status=FAIL&page_size=200")
    assert IMDS not in failing and BUCKET in failing
    assert failing == [f"{r[3]}:{r[5]}" for r in csv_rows(alice, "?status=FAIL")]
    html = alice.get(reverse("findings:explorer") + "?region=eu-west-1").content
    assert ">Excepted</span>" in html.decode()


def test_the_exceptions_are_read_once_not_asked_of_every_finding(
    alice, crowd, monkeypatch
):
    """The capped count and the walk of the failing list match the exceptions
    in force as values read beforehand, not by a subquery per finding."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from findings import explorer

    monkeypatch.setattr(explorer, "COUNT_CAP", 3)
    _except(crowd, crowd.web_imds, scope="resource", resource=crowd.web)
    _except(crowd, crowd.failing, scope="account")
    for query in ("?status=FAIL&page_size=200", "?status=suppressed", ""):
        with CaptureQueriesContext(connection) as captured:
            shown = names(alice, query)
        assert shown
        reading = [q["sql"] for q in captured if "findings_suppression" in q["sql"]]
        assert len(reading) == 1, query
        assert reading[0].startswith('SELECT "findings_suppression"')
    assert IMDS not in names(alice, "?status=FAIL") and BUCKET not in names(
        alice, "?status=FAIL"
    )
    assert {IMDS, BUCKET} <= set(names(alice, "?status=suppressed"))


def test_past_the_literals_limit_the_subquery_gives_the_same_pages(
    alice, crowd, monkeypatch
):
    from findings import explorer, suppressions

    monkeypatch.setattr(explorer, "COUNT_CAP", 3)
    _except(crowd, crowd.web_imds, scope="resource", resource=crowd.web)
    _except(crowd, crowd.failing, scope="account")
    queries = ("?status=FAIL", "?status=suppressed", "?status=ERROR", "?sort=status")
    literal = [names(alice, q + "&page_size=200") for q in queries]
    page = alice.get(reverse("findings:explorer") + "?region=eu-west-1")
    badges = page.content.decode().count(">Excepted</span>")
    monkeypatch.setattr(suppressions, "IN_FORCE_LITERALS", 1)
    assert [names(alice, q + "&page_size=200") for q in queries] == literal
    page = alice.get(reverse("findings:explorer") + "?region=eu-west-1")
    assert page.content.decode().count(">Excepted</span>") == badges > 0


def test_a_region_found_after_the_choices_were_cached_can_be_chosen(alice, world):
    assert "ap-south-1" not in alice.get(reverse("findings:explorer")).content.decode()
    resource = make_resource(world.payments, name="new-region", region="ap-south-1")
    make_finding(resource, CTL_S3, "FAIL")
    response = alice.get(reverse("findings:explorer") + "?region=ap-south-1")
    assert "Some filters were ignored" not in response.content.decode()
    assert names(alice, "?region=ap-south-1") == [f"new-region:{CTL_S3}"]


@pytest.mark.parametrize("query", ["", "status=FAIL&status=suppressed", "status=<b>"])
def test_the_status_boxes_are_drawn_as_django_draws_them(query):
    """The filter bar's checkboxes (``QuickCheckboxes``, drawn in Python)
    are Django's own: checked, invalid and all."""
    from django import forms
    from django.http import QueryDict

    from findings.explorer import STATUS_CHOICES, QuickCheckboxes

    class Both(forms.Form):
        status = forms.MultipleChoiceField(
            choices=STATUS_CHOICES, required=False, widget=QuickCheckboxes
        )
        django = forms.MultipleChoiceField(
            choices=STATUS_CHOICES,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )

    form = Both(QueryDict(f"{query}&{query.replace('status', 'django')}"))
    form.is_valid()

    def boxes(name: str) -> list[tuple[str, str, str]]:
        return [
            (
                box.tag().replace(name, "x"),
                box.id_for_label.replace(name, "x"),
                box.choice_label,
            )
            for box in form[name]
        ]

    assert boxes("status") == boxes("django")
    assert str(form["status"]).replace("status", "x") == str(form["django"]).replace(
        "django", "x"
    )
