"""ControlTotal: each scan x control's counts over every account, always the
sum of its rollups.

PostgreSQL keeps them (migration 0009) by deltas on every write to
ControlRollup, so these tests write rollups the ways the product does (ORM
create, update and delete, cascades, the engine's upsert, an exception's
recount, the history generator's COPY) and compare with sums computed here.
Pages read them only for a user who sees whole organizations.
"""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from accounts.models import Account
from collectors.models import Scan
from findings import dashboard
from findings.engine import evaluate_scan
from findings.management.commands import generate_history
from findings.models import ROLLUP_COUNTS, ControlRollup, ControlTotal
from findings.suppressions import recount_current
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    SEC_CREDENTIALS,
    SEC_S3,
    make_account,
    make_exception,
    make_org,
    make_rollup,
    make_scan,
    make_team,
    make_user,
)

pytestmark = pytest.mark.django_db


def sums_of_rollups() -> dict[tuple[int, str], tuple]:
    """(scan, control) -> (section, rollups, summed counts), from ControlRollup."""
    rows = (
        ControlRollup.objects.values("scan_id", "control_id", "section")
        .annotate(n=Count("pk"), **{name: Sum(name) for name in ROLLUP_COUNTS})
        .order_by()
    )
    return {
        (r["scan_id"], r["control_id"]): (
            r["section"],
            r["n"],
            *(r[name] for name in ROLLUP_COUNTS),
        )
        for r in rows
    }


def totals() -> dict[tuple[int, str], tuple]:
    return {
        (t.scan_id, t.control_id): (
            t.section,
            t.accounts,
            *(getattr(t, name) for name in ROLLUP_COUNTS),
        )
        for t in ControlTotal.objects.all()
    }


def test_totals_follow_inserts_updates_and_deletes():
    org = make_org("Acme")
    payments, data = make_account(org, "payments"), make_account(org, "data")
    scan = make_scan(org)
    make_rollup(scan, payments, CTL_S3, SEC_S3, passed=3, failed=1)
    mfa = make_rollup(scan, payments, CTL_MFA, SEC_CREDENTIALS, failed=1)
    make_rollup(scan, data, CTL_S3, SEC_S3, passed=2, unknown=4)
    assert totals() == sums_of_rollups()
    assert totals()[(scan.pk, CTL_S3)] == (SEC_S3, 2, 5, 1, 0, 0, 4, 0)

    ControlRollup.objects.filter(pk=mfa.pk).update(failed=0, suppressed=1)
    assert totals()[(scan.pk, CTL_MFA)] == (SEC_CREDENTIALS, 1, 0, 0, 0, 0, 0, 1)

    ControlRollup.objects.filter(account=data).delete()
    assert totals()[(scan.pk, CTL_S3)] == (SEC_S3, 1, 3, 1, 0, 0, 0, 0)
    ControlRollup.objects.filter(pk=mfa.pk).delete()
    assert (scan.pk, CTL_MFA) not in totals()  # no rollups left: no total
    assert totals() == sums_of_rollups()


def test_deleting_an_account_or_a_scan_takes_its_share_away():
    org = make_org("Acme")
    payments, data = make_account(org, "payments"), make_account(org, "data")
    first, second = make_scan(org), make_scan(org)
    for scan in (first, second):
        make_rollup(scan, payments, CTL_S3, SEC_S3, passed=3, failed=1)
        make_rollup(scan, data, CTL_S3, SEC_S3, failed=2)

    data.delete()
    assert totals() == sums_of_rollups()
    assert totals()[(second.pk, CTL_S3)] == (SEC_S3, 1, 3, 1, 0, 0, 0, 0)

    first.delete()
    assert set(totals()) == {(second.pk, CTL_S3)}
    second.delete()
    assert not ControlTotal.objects.exists()


def test_the_engine_and_an_exception_recount_keep_the_totals(scanned):
    scan, payments, _data = scanned
    org = scan.organization
    assert totals() == sums_of_rollups()
    assert totals()[(scan.pk, CTL_S3)][3] == 4  # failing buckets: 3 + 1

    make_exception(
        actor=make_user("approver"),
        organization=org,
        scope="account",
        account=payments,
        control_id=CTL_S3,
        reason="Public by design: the marketing site.",
        approver="CISO",
    )
    recount_current(org.pk, CTL_S3, account_id=payments.pk)

    assert totals() == sums_of_rollups()
    _section, _n, _passed, failed, *_rest, suppressed = totals()[(scan.pk, CTL_S3)]
    assert (failed, suppressed) == (1, 3)


def test_the_engine_rerun_changes_nothing(scanned):
    scan, _payments, _data = scanned
    before = totals()
    evaluate_scan(scan)
    assert totals() == before == sums_of_rollups()


@pytest.mark.parametrize("triggers_on", [False, True])
def test_generated_history_has_the_totals_of_its_rollups(monkeypatch, triggers_on):
    if triggers_on:
        monkeypatch.setattr(generate_history, "_skip_foreign_key_triggers", bool)
    call_command(
        "generate_history", accounts=2, resources=60, days=3, stdout=io.StringIO()
    )
    assert Scan.objects.count() == 3
    assert totals() == sums_of_rollups()
    # Controls with resources in both accounts sum both.
    assert 2 in {n for _section, n, *_counts in totals().values()}


def test_figures_of_a_whole_organization_come_from_the_totals(scanned):
    scan, payments, data = scanned
    everyone = Account.objects.all()
    assert dashboard.per_control(everyone).model is ControlTotal

    figures = dashboard.section_figures([CTL_S3], everyone)
    assert figures.counts[CTL_S3].failed == 4
    assert figures.sparks[CTL_S3] == [0.0]
    assert figures.section_counts[SEC_S3].failed == _failed(section=SEC_S3)
    history = dashboard.control_history(CTL_S3, everyone, 30)
    assert [p.counts.failed for p in history.trend] == [4]
    assert dashboard.current_control_counts(everyone)[CTL_S3].failed == 4


def test_a_user_who_sees_part_of_an_organization_gets_only_their_accounts(scanned):
    scan, payments, data = scanned
    user = make_user("data-team")
    make_team("Data", members=[user], accounts=[data])
    theirs = Account.objects.for_user(user)
    assert dashboard.per_control(theirs).model is ControlRollup

    figures = dashboard.section_figures([CTL_S3], theirs)
    assert figures.counts[CTL_S3].failed == 1  # data's one bucket, not payments'
    assert figures.section_counts[SEC_S3].failed == _failed(
        section=SEC_S3, account=data
    )
    history = dashboard.control_history(CTL_S3, theirs, 30)
    assert [p.counts.failed for p in history.trend] == [1]
    assert dashboard.current_control_counts(theirs)[CTL_S3].failed == 1


def _failed(**where) -> int:
    return ControlRollup.objects.filter(**where).aggregate(n=Sum("failed"))["n"]
