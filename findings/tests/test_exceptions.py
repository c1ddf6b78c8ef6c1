"""Exceptions (suppressions): counts, recounts, expiry, pages, permissions, digest.

The scene is evaluated by the real engine over factory-made snapshots, so the
rollups and findings agree as they do after a real scan.
"""

import csv
import io
import types
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Account
from collectors.models import ScanUnit
from findings import suppressions
from findings.dashboard import Counts
from findings.digest_content import build_content, expiring_exceptions
from findings.engine import evaluate_scan
from findings.models import (
    ControlRollup,
    DigestSubscription,
    Finding,
    Suppression,
    SuppressionEvent,
)
from findings.tests.factories import (
    CTL_S3,
    S3_CLOSED,
    S3_OPEN,
    make_account,
    make_finding,
    make_org,
    make_resource,
    make_scan,
    make_snapshot,
    make_team,
    make_team_admin,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db

Scope = Suppression.Scope


def _bucket(account, name, config, scan):
    resource = make_resource(account, name=name, at=scan.started_at)
    make_snapshot(resource, config, at=scan.started_at, scan=scan)
    return resource


def _scan(org, accounts, at):
    scan = make_scan(org, at=at)
    scan.services = ["s3"]
    scan.save(update_fields=["services"])
    for account in accounts:
        make_unit(scan, account, service="s3")
    return scan


@pytest.fixture
def scene():
    """Acme: payments (alice member, carol team admin) with two open buckets
    and a closed one; data (bob) with one open bucket; root is staff. One
    evaluated s3 scan an hour ago."""
    org = make_org("Acme")
    payments = make_account(org, "payments-prod")
    data = make_account(org, "data-lake")
    alice, bob = make_user("alice"), make_user("bob")
    root = make_user("root", staff=True)
    payments_team = make_team("Payments", members=[alice], accounts=[payments])
    make_team("Data", members=[bob], accounts=[data])
    carol = make_team_admin(payments_team, "carol")
    scan = _scan(org, [payments, data], timezone.now() - timedelta(hours=1))
    s = types.SimpleNamespace(**locals())
    s.open_a = _bucket(payments, "pay-open-a", S3_OPEN, scan)
    s.open_b = _bucket(payments, "pay-open-b", S3_OPEN, scan)
    s.closed = _bucket(payments, "pay-closed", S3_CLOSED, scan)
    s.lake = _bucket(data, "lake-open", S3_OPEN, scan)
    evaluate_scan(scan)
    return s


def rollup(scan, account) -> ControlRollup:
    return ControlRollup.objects.get(scan=scan, account=account, control_id=CTL_S3)


def split(scan, account) -> tuple[int, int, int, int]:
    row = rollup(scan, account)
    return row.passed, row.failed, row.errors, row.suppressed


def not_passing(scan) -> int:
    sums = ControlRollup.objects.filter(scan=scan).aggregate(
        f=Sum("failed"), e=Sum("errors"), s=Sum("suppressed")
    )
    return sums["f"] + sums["e"] + sums["s"]


def rate(scan, account) -> float:
    row = rollup(scan, account)
    return Counts(row.passed, row.failed, row.errors, row.unknown, 0, row.suppressed)


def new(actor, *, days: int = 30, **target) -> Suppression:
    return suppressions.create(
        actor=actor,
        control_id=CTL_S3,
        reason="Static website bucket, public on purpose",
        approver="CISO",
        expires_at=timezone.now() + timedelta(days=days),
        **target,
    )


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what a block enqueues on commit (the recount), as in production."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# -- Counting ----------------------------------------------------------------------


def test_a_scan_counts_covered_failures_as_suppressed_not_passed(scene):
    assert split(scene.scan, scene.payments) == (1, 2, 0, 0)
    new(scene.root, scope=Scope.RESOURCE, resource=scene.open_a)
    # Expired before the next scan's clock: it does not apply to that scan.
    stale = new(scene.root, scope=Scope.ACCOUNT, account=scene.data, days=1)
    Suppression.objects.filter(pk=stale.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    later = _scan(scene.org, [scene.payments, scene.data], timezone.now())

    evaluate_scan(later)

    assert split(later, scene.payments) == (1, 1, 0, 1)
    assert split(later, scene.data) == (0, 1, 0, 0)
    assert rate(later, scene.payments).rate == pytest.approx(1 / 3)


def test_failures_of_uncollected_resources_stay_unknown_not_suppressed(scene):
    new(scene.root, scope=Scope.ACCOUNT, account=scene.payments)
    later = _scan(scene.org, [scene.data], timezone.now())
    make_unit(
        later,
        scene.payments,
        service="s3",
        status=ScanUnit.Status.FAILED,
        error_kind="access_denied",
    )

    evaluate_scan(later)

    row = rollup(later, scene.payments)
    assert (row.unknown, row.failed, row.suppressed, row.passed) == (3, 0, 0, 0)


def test_recount_on_create_revoke_and_expiry_keeps_the_sum(scene, commit):
    total = not_passing(scene.scan)
    before = rate(scene.scan, scene.payments).rate

    with commit():
        resource_wide = new(scene.carol, scope=Scope.RESOURCE, resource=scene.open_a)
    assert split(scene.scan, scene.payments) == (1, 1, 0, 1)
    with commit():
        org_wide = new(scene.root, scope=Scope.CONTROL, organization=scene.org)
    assert split(scene.scan, scene.payments) == (1, 0, 0, 2)
    assert split(scene.scan, scene.data) == (0, 0, 0, 1)
    assert not_passing(scene.scan) == total
    assert rate(scene.scan, scene.payments).rate == before  # never higher

    with commit():
        suppressions.revoke(org_wide, actor=scene.root)
    assert split(scene.scan, scene.payments) == (1, 1, 0, 1)
    assert split(scene.scan, scene.data) == (0, 1, 0, 0)

    Suppression.objects.filter(pk=resource_wide.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with commit():
        assert suppressions.expire_due() == 1
    assert split(scene.scan, scene.payments) == (1, 2, 0, 0)
    assert not_passing(scene.scan) == total


def test_a_recount_never_rewrites_past_scans(scene, commit):
    later = _scan(scene.org, [scene.payments, scene.data], timezone.now())
    evaluate_scan(later)

    with commit():
        new(scene.root, scope=Scope.ACCOUNT, account=scene.payments)

    assert split(later, scene.payments) == (1, 0, 0, 2)
    assert split(scene.scan, scene.payments) == (1, 2, 0, 0)


def test_the_expiry_sweep_logs_each_expiry_once(scene, commit):
    exception = new(scene.root, scope=Scope.ACCOUNT, account=scene.data, days=1)
    with commit():
        assert suppressions.expire_due() == 0
    later = timezone.now() + timedelta(days=2)

    with commit():
        assert suppressions.expire_due(later) == 1
        assert suppressions.expire_due(later) == 0

    events = SuppressionEvent.objects.filter(suppression=exception)
    assert [e.action for e in events] == ["expired", "created"]
    assert events[0].actor is None
    assert events[0].at == exception.expires_at


def test_the_sweep_is_scheduled_every_ten_minutes(beat_entries):
    task = PeriodicTask.objects.get(task="findings.expire_exceptions")
    assert (task.interval.every, task.interval.period) == (10, "minutes")
    assert task.enabled


def test_changes_are_logged_field_by_field(scene):
    exception = new(scene.carol, scope=Scope.RESOURCE, resource=scene.open_a)

    changed = suppressions.change(
        exception, actor=scene.carol, approver="CTO", reason=exception.reason
    )

    assert changed == {"approver": ["CISO", "CTO"]}
    assert suppressions.change(exception, actor=scene.carol, approver="CTO") == {}
    assert exception.events.filter(action="changed").count() == 1


# -- Matching many findings at once ------------------------------------------------


def _both_ways(accounts, now) -> list[tuple]:
    """Per finding of ``accounts``: (covered, excepted until) as the subqueries
    answer; covered as ``InForce``'s literal values answer in SQL; and both as
    they answer in memory (None when there are too many to hold)."""
    in_force = suppressions.InForce.read(accounts.listed(), now)
    rows = Finding.objects.filter(account__in=accounts).annotate(
        by_subquery=suppressions.covered(now),
        until=suppressions.excepted_until(now),
        by_literals=in_force.covered(),
    )
    return [
        (
            (f.by_subquery, f.until),
            f.by_literals,
            (in_force.covers(f), in_force.until(f)) if in_force.complete else None,
        )
        for f in rows.order_by("pk")
    ]


@pytest.fixture
def spread(scene):
    """The scene, a second organization with a failing bucket, and exceptions
    of every scope: in force, revoked and expired."""
    s = scene
    s.other_org = make_org("Other")
    s.other = make_account(s.other_org, "other-prod")
    s.other_bucket = make_resource(s.other, name="other-open")
    make_finding(s.other_bucket, CTL_S3, "FAIL")
    new(s.root, scope=Scope.RESOURCE, resource=s.open_a, days=10)
    new(s.root, scope=Scope.ACCOUNT, account=s.data, days=20)
    new(s.root, scope=Scope.CONTROL, organization=s.org, days=5)
    revoked = new(s.root, scope=Scope.RESOURCE, resource=s.other_bucket, days=9)
    suppressions.revoke(revoked, actor=s.root)
    expired = new(s.root, scope=Scope.ACCOUNT, account=s.other, days=9)
    Suppression.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    return s


def test_exceptions_in_force_match_as_literals_as_the_subqueries_do(spread):
    now = timezone.now()
    for user in (spread.root, spread.alice, spread.bob):
        rows = _both_ways(Account.objects.for_user(user), now)
        assert rows, user
        for by_subquery, by_literals, in_memory in rows:
            assert by_literals == by_subquery[0]
            assert in_memory == by_subquery
    root = _both_ways(Account.objects.for_user(spread.root), now)
    # Every finding of Acme's buckets is covered (by the organization-wide
    # exception at least); the other organization's is not.
    covered = [c for (c, _), _, _ in root]
    assert any(covered) and not all(covered)


def test_an_organization_wide_exception_needs_no_account_test_in_its_own_scope(
    spread,
):
    now = timezone.now()
    alone = suppressions.InForce.read(
        Account.objects.for_user(spread.alice).listed(), now
    )
    both = suppressions.InForce.read(
        Account.objects.for_user(spread.root).listed(), now
    )
    # Alice sees Acme's accounts only: the control is covered on all of them.
    assert alone.everywhere == {CTL_S3}
    # Root also sees Other's: Acme's accounts are named.
    assert both.everywhere == frozenset()
    assert set(both.accounts[CTL_S3]) == {spread.payments.pk, spread.data.pk}


def test_past_the_limit_the_subqueries_are_used(spread, monkeypatch):
    monkeypatch.setattr(suppressions, "IN_FORCE_LITERALS", 2)
    now = timezone.now()
    accounts = Account.objects.for_user(spread.root)
    assert not suppressions.InForce.read(accounts.listed(), now).complete
    rows = _both_ways(accounts, now)
    assert any(covered for (covered, _), _, _ in rows)
    for by_subquery, by_literals, in_memory in rows:
        assert by_literals == by_subquery[0]
        assert in_memory is None


def test_without_exceptions_nothing_is_covered(scene):
    now = timezone.now()
    accounts = Account.objects.for_user(scene.root)
    in_force = suppressions.InForce.read(accounts.listed(), now)
    assert not in_force
    findings = Finding.objects.filter(account__in=accounts)
    assert (
        findings.annotate(excepted=in_force.covered()).filter(excepted=False).count()
        == findings.count()
        > 0
    )


# -- Pages -------------------------------------------------------------------------


def post_new(client, query: str, **fields):
    data = {
        "scope": "resource",
        "reason": "Public website bucket",
        "approver": "CISO",
        "expires_on": (timezone.now() + timedelta(days=30)).date().isoformat(),
        **fields,
    }
    return client.post(reverse("findings:exception_new") + query, data)


def test_create_from_a_finding_then_see_it_counted_as_suppressed(client, scene, commit):
    client.force_login(scene.carol)
    query = f"?control={CTL_S3}&resource={scene.open_a.pk}"
    form = client.get(reverse("findings:exception_new") + query).content.decode()
    assert "This resource: pay-open-a (1 failing or erroring now)" in form
    assert "The whole account: payments-prod" in form
    assert "Every account of Acme" not in form  # staff only

    with commit():
        response = post_new(client, query)

    exception = Suppression.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("findings:exception", args=[exception.pk])
    assert (exception.scope, exception.resource, exception.owner) == (
        "resource",
        scene.open_a,
        scene.carol,
    )
    page = client.get(response["Location"]).content.decode()
    assert "Public website bucket" in page and "Revoke now" in page
    assert "<strong>1</strong> failing or erroring finding in its scope" in page
    control = client.get(reverse("findings:control", args=[CTL_S3])).content
    assert "<strong>1</strong> suppressed" in control.decode()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"reason": "  "}, "reason", "This field is required."),
        ({"expires_on": "2999-01-01"}, "expires_on", "at most 365 days"),
        ({"expires_on": "2020-01-01"}, "expires_on", "must be in the future"),
    ],
)
def test_invalid_forms_say_why_and_keep_what_was_typed(
    client, scene, fields, field, message
):
    client.force_login(scene.carol)
    query = f"?control={CTL_S3}&resource={scene.open_a.pk}"

    response = post_new(client, query, approver="Jane Roe, CISO", **fields)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    html = response.content.decode()
    assert 'value="Jane Roe, CISO"' in html
    assert Suppression.objects.count() == 0


def test_permissions_on_create(client, scene):
    new_url = reverse("findings:exception_new")
    own = f"?control={CTL_S3}&resource={scene.open_a.pk}"
    # A team member sees no button and may not create.
    client.force_login(scene.alice)
    assert client.get(new_url + own).status_code == 403
    assert post_new(client, own).status_code == 403
    control = client.get(reverse("findings:control", args=[CTL_S3])).content.decode()
    assert "Add exception" not in control
    # A team admin: own account yes, another team's resource is 404, and an
    # organization-wide exception is staff only.
    client.force_login(scene.carol)
    control = client.get(reverse("findings:control", args=[CTL_S3])).content.decode()
    assert control.count(">Add exception</a>") == 2  # two failing buckets
    assert "Add exception for the whole control" not in control
    foreign = f"?control={CTL_S3}&resource={scene.lake.pk}"
    assert client.get(new_url + foreign).status_code == 404
    assert client.get(new_url + f"?control={CTL_S3}").status_code == 403
    assert post_new(client, own, scope="control").status_code == 200  # not a choice
    assert Suppression.objects.count() == 0
    # Staff: every scope, the organization chosen on the form.
    client.force_login(scene.root)
    response = post_new(
        client, f"?control={CTL_S3}", scope="control", organization=scene.org.pk
    )
    assert response.status_code == 302
    assert Suppression.objects.get().scope == "control"


def test_permissions_on_view_change_and_revoke(client, scene):
    exception = new(scene.carol, scope=Scope.RESOURCE, resource=scene.open_a)
    detail = reverse("findings:exception", args=[exception.pk])
    edit = reverse("findings:exception_edit", args=[exception.pk])
    revoke = reverse("findings:exception_revoke", args=[exception.pk])

    client.force_login(scene.bob)
    for url in (detail, edit):
        assert client.get(url).status_code == 404
    assert client.post(revoke).status_code == 404

    client.force_login(scene.alice)
    html = client.get(detail).content.decode()
    assert "Static website bucket" in html and "Revoke now" not in html
    assert client.post(edit, {"reason": "x", "approver": "y"}).status_code == 403
    assert client.post(revoke).status_code == 403

    client.force_login(scene.carol)
    expires = exception.expires_at.date().isoformat()
    response = client.post(
        edit, {"reason": "Still public", "approver": "CTO", "expires_on": expires}
    )
    assert response.status_code == 302
    assert client.post(revoke).status_code == 302
    exception.refresh_from_db()
    assert (exception.reason, exception.revoked_by) == ("Still public", scene.carol)
    assert exception.expires_at.date().isoformat() == expires  # unchanged
    html = client.get(detail).content.decode()
    assert "Revoked" in html and "Revoke now" not in html


@pytest.fixture
def many(scene):
    """Exceptions in every state, over both accounts and the organization."""
    now = timezone.now()
    rows = {
        "soon": new(scene.root, scope=Scope.RESOURCE, resource=scene.open_a, days=5),
        "later": new(scene.root, scope=Scope.ACCOUNT, account=scene.payments),
        "lake": new(scene.root, scope=Scope.RESOURCE, resource=scene.lake),
        "org": new(scene.root, scope=Scope.CONTROL, organization=scene.org),
        "gone": new(scene.root, scope=Scope.RESOURCE, resource=scene.open_b),
        "old": new(scene.root, scope=Scope.ACCOUNT, account=scene.data),
    }
    suppressions.revoke(rows["gone"], actor=scene.root)
    Suppression.objects.filter(pk=rows["old"].pk).update(
        expires_at=now - timedelta(days=1)
    )
    suppressions.expire_due()
    suppressions.change(rows["later"], actor=scene.root, approver="Board")
    for i in range(8):  # enough rows that an N+1 would show
        extra = make_resource(scene.payments, name=f"extra-{i}")
        new(scene.root, scope=Scope.RESOURCE, resource=extra, days=100 + i)
    return types.SimpleNamespace(scene=scene, **rows)


def listed(client, query: str = "") -> list[int]:
    response = client.get(reverse("findings:exceptions") + query)
    assert response.status_code == 200
    return [s.pk for s in response.context["page"].object_list]


def exported(client, query: str = "") -> list[int]:
    response = client.get(reverse("findings:exceptions_csv") + query)
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    )
    return [int(r["id"]) for r in rows]


def test_list_filters_and_the_csv_hold_the_same_rows(client, many):
    client.force_login(many.scene.root)
    cases = {
        "": 12,  # in force
        "?state=expiring": 1,
        "?state=revoked": 1,
        "?state=expired": 1,
        "?state=all": 14,
        f"?state=all&account={many.scene.data.pk}": 3,  # lake, old, org
        "?scope=control": 1,
        "?q=pay-open-a": 1,
        "?q=board": 1,
    }
    for query, count in cases.items():
        rows = listed(client, query)
        assert len(rows) == count, query
        assert exported(client, query) == rows, query
    assert listed(client, "?state=expiring") == [many.soon.pk]
    assert listed(client, "?state=revoked") == [many.gone.pk]


def test_a_team_sees_its_exceptions_and_organization_wide_ones(client, many):
    client.force_login(many.scene.bob)
    assert set(listed(client, "?state=all")) == {many.lake.pk, many.old.pk, many.org.pk}
    assert set(exported(client, "?state=all")) == {
        many.lake.pk,
        many.old.pk,
        many.org.pk,
    }
    assert (
        client.get(reverse("findings:exception", args=[many.soon.pk])).status_code
        == 404
    )


def test_empty_list_says_so(client, scene):
    client.force_login(scene.alice)
    html = client.get(reverse("findings:exceptions")).content.decode()
    assert "No exceptions in force" in html
    html = client.get(reverse("findings:exceptions") + "?q=nothing").content.decode()
    assert "No exceptions match these filters" in html


def test_the_audit_log_shows_every_kind_of_entry(client, many):
    client.force_login(many.scene.root)
    response = client.get(reverse("findings:exceptions_log"))
    html = response.content.decode()
    for action in ("Created", "Changed", "Revoked", "Expired"):
        assert f">{action}</span>" in html, action
    assert "CISO</del> → Board" in html
    assert ">Parapet</span>" in html  # the expiry's actor
    revoked = client.get(reverse("findings:exceptions_log") + "?action=revoked")
    assert [e.suppression_id for e in revoked.context["page"].object_list] == [
        many.gone.pk
    ]
    client.force_login(many.scene.bob)
    seen = client.get(reverse("findings:exceptions_log")).context["page"]
    assert {e.suppression_id for e in seen.object_list} == {
        many.lake.pk,
        many.old.pk,
        many.org.pk,
    }


def test_htmx_filtering_gets_the_partial(client, many):
    client.force_login(many.scene.root)
    response = client.get(
        reverse("findings:exceptions") + "?state=all",
        headers={"HX-Request": "true", "HX-Target": "exceptions"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="exceptions"') and "<html" not in html


@pytest.mark.parametrize(
    "name, limit",
    [("findings:exceptions", 10), ("findings:exceptions_log", 9)],
)
def test_list_pages_bound_their_queries(
    client, many, django_assert_max_num_queries, name, limit
):
    client.force_login(many.scene.carol)
    with django_assert_max_num_queries(limit):
        assert client.get(reverse(name) + "?state=all").status_code == 200


def test_detail_and_create_pages_bound_their_queries(
    client, many, django_assert_max_num_queries
):
    client.force_login(many.scene.carol)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("findings:exception", args=[many.later.pk]))
    assert response.status_code == 200
    query = f"?control={CTL_S3}&resource={many.scene.open_a.pk}"
    with django_assert_max_num_queries(10):
        response = client.get(reverse("findings:exception_new") + query)
    assert response.status_code == 200


# -- Digest ------------------------------------------------------------------------


def test_the_digest_lists_exceptions_expiring_within_14_days(scene):
    scene.root.first_name, scene.root.last_name = "Rita", "Root"
    scene.root.save()
    soon = new(scene.root, scope=Scope.RESOURCE, resource=scene.lake, days=10)
    org_wide = new(scene.root, scope=Scope.CONTROL, organization=scene.org, days=3)
    new(scene.root, scope=Scope.RESOURCE, resource=scene.open_a, days=5)  # not bob's
    new(scene.root, scope=Scope.ACCOUNT, account=scene.data, days=40)  # too far
    revoked = new(scene.root, scope=Scope.ACCOUNT, account=scene.data, days=2)
    suppressions.revoke(revoked, actor=scene.root)

    items = expiring_exceptions(
        Account.objects.for_user(scene.bob), timezone.now(), None
    )

    assert [(i.target, i.account) for i in items] == [
        ("every account", "Acme"),
        ("lake-open", str(scene.data)),
    ]
    assert items[1].owner == "Rita Root"
    assert items[1].url.endswith(reverse("findings:exception", args=[soon.pk]))
    assert items[0].url.endswith(reverse("findings:exception", args=[org_wide.pk]))
    assert (
        expiring_exceptions(Account.objects.for_user(scene.bob), timezone.now(), ["x"])
        is None
    )
    now = timezone.now()
    content = build_content(
        DigestSubscription(user=scene.bob), now - timedelta(days=1), now
    )
    assert [i.url for i in content.expiring] == [i.url for i in items]
