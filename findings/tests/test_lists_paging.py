"""The control and account pages' findings lists: past the count cap they are
read cell by cell, and still show every row once, in the CSV's order."""

import csv
import io

import pytest
from django.db import connection
from django.urls import reverse

from collectors import paging
from findings import explorer, views
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    build_world,
    make_account,
    make_exception,
    make_finding,
    make_resource,
)

pytestmark = pytest.mark.django_db

CTL_ACL = "s3.bucket.no-public-acl"
CTL_MFA_DELETE = "s3.bucket.mfa-delete"


@pytest.fixture
def crowd():
    """``build_world()`` plus two more accounts of team Payments, one named to
    sort first: buckets failing, erroring and passing three S3 controls and
    one the catalog no longer has, a deleted bucket's failure, and a failure
    under an exception."""
    w = build_world()
    team = w.payments.teams.get()
    w.sandbox = make_account(w.org, "aaa-sandbox")
    w.dev = make_account(w.org, "payments-dev")
    team.accounts.add(w.sandbox, w.dev)
    statuses = ("FAIL", "ERROR", "PASS", "FAIL")
    controls = (CTL_S3, CTL_ACL, "retired.control", CTL_MFA_DELETE)
    for n in range(18):
        account = (w.payments, w.sandbox, w.dev)[n % 3]
        bucket = make_resource(account, name=f"crowd-{17 - n:02d}")
        for k, control in enumerate(controls):
            make_finding(bucket, control, statuses[(n + k) % 4], reason=f"{n} {k}")
    gone = make_resource(w.dev, name="gone-bucket")
    make_finding(gone, CTL_S3, "FAIL")
    gone.deleted_at = w.new.started_at
    gone.save(update_fields=["deleted_at"])
    w.excepted = make_resource(w.dev, name="excepted-bucket")
    make_finding(w.excepted, CTL_S3, "FAIL")
    make_exception(
        actor=w.root,
        control_id=CTL_S3,
        scope="resource",
        resource=w.excepted,
        reason="Public website",
        approver="ciso@example.com",
    )
    return w


@pytest.fixture(params=["all cells at once", "retries"])
def small_pages(monkeypatch, request):
    """A cap of 4 findings, pages of 3; every cell in one statement, or one
    cell in the first walk (retries)."""
    monkeypatch.setattr(explorer, "COUNT_CAP", 4)
    monkeypatch.setattr(views, "FINDINGS_PER_PAGE", 3)
    if request.param == "retries":
        monkeypatch.setattr(paging, "ALL_AT_ONCE", 0)
        monkeypatch.setattr(paging, "FIRST_CELLS", 1)


def every_page(client, url: str, query: str = "") -> tuple[list[str], list]:
    """Each row of the list as "account/resource:control:status", page after
    page, and the responses."""
    shown, responses, number = [], [], 1
    while True:
        separator = "&" if query else "?"
        response = client.get(f"{url}{query}{separator}page={number}")
        assert response.status_code == 200
        page = response.context["page"]
        assert len(page) <= views.FINDINGS_PER_PAGE
        shown += [
            f"{f.account.name}/{f.resource.name}:{f.control_id}:{f.status}"
            for f in page
        ]
        responses.append(response)
        if not page.has_next:
            return shown, responses
        number += 1


def csv_rows(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    return [
        f"{r['account_name']}/{r['resource_name']}:{r['control_id']}:{r['status']}"
        for r in rows
    ]


@pytest.mark.parametrize("query", ["", "?status=FAIL", "?status=ERROR", "?q=crowd-1"])
def test_past_the_cap_the_control_list_holds_the_csv_rows_in_order(
    client, crowd, small_pages, query
):
    client.force_login(crowd.alice)
    shown, responses = every_page(
        client, reverse("findings:control", args=[CTL_S3]), query
    )
    expected = csv_rows(
        client, reverse("findings:control_findings_csv", args=[CTL_S3]) + query
    )
    assert len(expected) > 4
    assert shown == expected
    assert len(set(shown)) == len(shown)
    assert not any(row.startswith("data-lake/") for row in shown)
    assert "gone-bucket" not in " ".join(shown)
    assert "more than 4 findings" in responses[0].content.decode()


def test_past_the_cap_the_account_filter_walks_the_chosen_account(
    client, crowd, small_pages
):
    client.force_login(crowd.alice)
    query = f"?account={crowd.dev.pk}"
    shown, _ = every_page(client, reverse("findings:control", args=[CTL_S3]), query)
    expected = csv_rows(
        client, reverse("findings:control_findings_csv", args=[CTL_S3]) + query
    )
    assert shown == expected
    assert {row.split("/")[0] for row in shown} == {"payments-dev"}


@pytest.mark.parametrize("query", ["", "?status=ERROR", "?section=service/storage/s3"])
def test_past_the_cap_the_account_list_holds_the_csv_rows_in_order(
    client, crowd, small_pages, query
):
    client.force_login(crowd.alice)
    pk = crowd.sandbox.pk
    shown, _ = every_page(client, reverse("findings:account", args=[pk]), query)
    expected = csv_rows(
        client, reverse("findings:account_findings_csv", args=[pk]) + query
    )
    assert len(expected) > 4
    assert shown == expected
    # Failing before erroring, then by control: the retired one among them.
    statuses = [row.rsplit(":", 1)[1] for row in shown]
    assert statuses == sorted(statuses, key=lambda s: s != "FAIL")
    if not query:
        assert any(":retired.control:" in row for row in shown)


def test_walked_and_sorted_pages_agree(client, crowd, monkeypatch):
    client.force_login(crowd.alice)
    monkeypatch.setattr(views, "FINDINGS_PER_PAGE", 5)
    url = reverse("findings:control", args=[CTL_S3])
    sorted_rows, _ = every_page(client, url)
    monkeypatch.setattr(explorer, "COUNT_CAP", 2)
    walked_rows, _ = every_page(client, url)
    assert walked_rows == sorted_rows


def test_a_walked_page_shows_the_exception_badge(client, crowd, small_pages):
    client.force_login(crowd.root)  # staff: offered to add exceptions
    url = reverse("findings:control", args=[CTL_S3])
    _, responses = every_page(client, url, f"?account={crowd.dev.pk}")
    html = "".join(r.content.decode() for r in responses)
    assert html.count("Excepted until") == 1
    assert "Add exception" in html


def test_under_the_cap_the_pager_counts_the_findings(client, crowd, monkeypatch):
    monkeypatch.setattr(views, "FINDINGS_PER_PAGE", 3)
    client.force_login(crowd.alice)
    url = reverse("findings:account", args=[crowd.sandbox.pk])
    response = client.get(url + "?status=ERROR&page=2")
    html = response.content.decode()
    count = response.context["page"].count
    assert 3 < count <= 6
    assert f"Page 2 of 2 · {count} findings" in html
    assert "more than" not in html
    # Past the last page: the last page, as before.
    assert client.get(url + "?status=ERROR&page=9").context["page"].number == 2


def test_htmx_gets_the_next_page_of_the_list_only(client, crowd, small_pages):
    client.force_login(crowd.alice)
    url = reverse("findings:control", args=[CTL_S3])
    first = client.get(url).context["page"]
    response = client.get(
        url + "?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="findings"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="findings"')
    assert "Page 2 · more than 4 findings" in html
    assert "← Previous" in html and "Next →" in html
    assert {f.pk for f in response.context["page"]}.isdisjoint({f.pk for f in first})


def test_the_walk_passes_accounts_without_rows(client, crowd, small_pages):
    """Failures of the last account by name only: the first cells are empty."""
    for n in range(6):
        bucket = make_resource(crowd.payments, name=f"late-{n}")
        make_finding(bucket, CTL_MFA, "FAIL")
    client.force_login(crowd.alice)
    shown, responses = every_page(client, reverse("findings:control", args=[CTL_MFA]))
    expected = csv_rows(
        client, reverse("findings:control_findings_csv", args=[CTL_MFA])
    )
    assert shown == expected
    assert shown == [f"payments-prod/late-{n}:{CTL_MFA}:FAIL" for n in range(6)]
    assert "more than 4 findings" in responses[0].content.decode()


def test_cells_are_made_only_as_far_as_the_walk_reads():
    """Statuses × severities × a thousand accounts, first axis outermost."""
    cells = paging.Cells(["FAIL", "ERROR"], [4, 3], list(range(1000)))

    assert len(cells) == 4000
    assert cells.first(2) == [("FAIL", 4, 0), ("FAIL", 4, 1)]
    assert cells.first(1001)[-1] == ("FAIL", 3, 0)
    assert cells.first(5000)[-1] == ("ERROR", 3, 999)


def test_array_literals_hold_any_value():
    """The walk's cells go to PostgreSQL as one array literal per axis."""
    values = ["FAIL", 'a "quoted", {braced} \\ value', "", "NULL"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::varchar[], %s::bigint[]",
            [paging.array_literal(values), paging.array_literal([3, 1, 2])],
        )
        assert cursor.fetchone() == (values, [3, 1, 2])


def test_array_literals_quote_repeated_values_alike():
    """Each distinct value is quoted once and repeated in its places."""
    values = ["FAIL", 'say "no"', "FAIL", "back\\slash", 'say "no"', "ERROR"]
    ids = [7, 7, 3, 7]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::varchar[], %s::bigint[]",
            [paging.array_literal(values), paging.array_literal(iter(ids))],
        )
        assert cursor.fetchone() == (values, ids)
