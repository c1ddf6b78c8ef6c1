"""AccountRollup: each scan x account's totals, always the sum of its rollups.

PostgreSQL keeps them (migration 0008) on every write to ControlRollup, so
these tests write rollups the ways the product does (ORM create and update,
the engine's upsert, an exception's recount, deletes and cascades, the
history generator's COPY) and compare the totals with sums computed here.
"""

import pytest
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import Account
from collectors.models import Scan
from findings import dashboard
from findings.management.commands import generate_history
from findings.models import ROLLUP_COUNTS, AccountRollup, ControlRollup
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
    make_user,
)

pytestmark = pytest.mark.django_db


def sums_of_rollups() -> dict[tuple[int, int], tuple]:
    """(scan, account) -> summed counts, straight from ControlRollup."""
    rows = (
        ControlRollup.objects.values("scan_id", "account_id")
        .annotate(**{name: Sum(name) for name in ROLLUP_COUNTS})
        .order_by()
    )
    return {
        (r["scan_id"], r["account_id"]): tuple(r[name] for name in ROLLUP_COUNTS)
        for r in rows
    }


def totals() -> dict[tuple[int, int], tuple]:
    return {
        (r.scan_id, r.account_id): tuple(getattr(r, name) for name in ROLLUP_COUNTS)
        for r in AccountRollup.objects.all()
    }


def test_totals_follow_inserts_updates_and_deletes():
    org = make_org("Acme")
    payments, data = make_account(org, "payments"), make_account(org, "data")
    scan = make_scan(org)
    make_rollup(scan, payments, CTL_S3, SEC_S3, passed=3, failed=1)
    mfa = make_rollup(scan, payments, CTL_MFA, SEC_CREDENTIALS, failed=1)
    make_rollup(scan, data, CTL_S3, SEC_S3, passed=2, unknown=4)
    assert totals() == sums_of_rollups()
    assert totals()[(scan.pk, payments.pk)] == (3, 2, 0, 0, 0, 0)

    ControlRollup.objects.filter(pk=mfa.pk).update(failed=0, suppressed=1)
    assert totals()[(scan.pk, payments.pk)] == (3, 1, 0, 0, 0, 1)

    ControlRollup.objects.filter(account=data).delete()
    assert (scan.pk, data.pk) not in totals()  # no rollups left: no totals
    assert totals() == sums_of_rollups()

    scan.delete()
    assert not AccountRollup.objects.exists()


def test_an_unchanged_rewrite_leaves_the_totals_row_alone():
    org = make_org("Acme")
    account = make_account(org, "payments")
    scan = make_scan(org)
    rollup = make_rollup(scan, account, CTL_S3, SEC_S3, passed=3)
    before = AccountRollup.objects.get().pk, _xmin(account)

    ControlRollup.objects.filter(pk=rollup.pk).update(passed=3)

    assert (AccountRollup.objects.get().pk, _xmin(account)) == before


def _xmin(account) -> str:
    row = AccountRollup.objects.extra(select={"v": "xmin::text"}).get(account=account)
    return row.v


def test_the_engine_and_an_exception_recount_keep_the_totals(scanned):
    scan, payments, _data = scanned
    org = scan.organization
    assert totals() == sums_of_rollups()
    assert sum(totals()[(scan.pk, payments.pk)][:2]) > 0

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

    counts = dict(zip(ROLLUP_COUNTS, totals()[(scan.pk, payments.pk)], strict=True))
    assert counts["suppressed"] == 3
    assert totals() == sums_of_rollups()


def test_the_overview_reads_its_totals_and_account_rows_from_them(scanned):
    scan, payments, data = scanned
    org = scan.organization
    summary = dashboard.organization_summary(org, Account.objects.all())

    by_account = sums_of_rollups()
    everything = [sum(v) for v in zip(*by_account.values(), strict=True)]
    expected = dict(zip(ROLLUP_COUNTS, everything, strict=True))
    assert summary.totals == dashboard.Counts(**expected)
    assert [point.counts for point in summary.trend] == [summary.totals]
    failed = {row.account.pk: row.counts.failed for row in summary.accounts}
    assert failed[payments.pk] == 3 * failed[data.pk] > 0  # 3 open buckets and 1


@pytest.mark.parametrize("triggers_on", [False, True])
def test_generated_history_has_the_totals_of_its_rollups(monkeypatch, triggers_on):
    """The generator loads with triggers off when it may (it writes the totals)
    and with them on otherwise (PostgreSQL does): the same totals either way."""
    if triggers_on:
        monkeypatch.setattr(generate_history, "_skip_foreign_key_triggers", bool)
    call_command("generate_history", accounts=2, resources=60, days=3, stdout=_Null())
    assert Scan.objects.count() == 3
    assert len(totals()) == 2 * 3
    assert totals() == sums_of_rollups()


class _Null:
    def write(self, text: str) -> None:
        pass
