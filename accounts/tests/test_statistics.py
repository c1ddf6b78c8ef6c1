"""The scope tables get planner statistics whenever a team changes.

Autovacuum never analyzes tables of a few rows; without statistics PostgreSQL
took a thousand accounts in scope for a handful and planned every page's
queries for that (accounts.statistics).
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import Account, Membership, Organization, Team

ACCOUNTS = 400


def _analyses(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s", [table]
        )
        return cursor.fetchone()[0]


def _estimated_rows(queryset) -> float:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


def _organization() -> Organization:
    organization = Organization.objects.create(
        name="Stats", management_account_id="111111111111"
    )
    Account.objects.bulk_create(
        Account(organization=organization, account_id=f"{n:012d}", name=f"acct {n}")
        for n in range(1, ACCOUNTS + 1)
    )
    return organization


@pytest.mark.django_db(transaction=True)
def test_a_team_change_gives_the_planner_the_size_of_the_scope():
    organization = _organization()
    user = get_user_model().objects.create_user("lead", password="x")
    before = _analyses("accounts_team")

    team = Team.objects.create(name="Security")
    team.accounts.add(*organization.accounts.all())
    Membership.objects.create(team=team, user=user)

    assert _analyses("accounts_team") > before
    scope = Account.objects.for_user(user)
    assert scope.count() == ACCOUNTS
    # Without statistics the estimate was a handful of rows.
    assert _estimated_rows(scope) >= ACCOUNTS / 2


@pytest.mark.django_db(transaction=True)
def test_members_added_through_the_team_and_removed_teams_count_too():
    user = get_user_model().objects.create_user("lead", password="x")
    team = Team.objects.create(name="Platform")
    before = _analyses("accounts_membership")
    team.members.add(user)
    assert _analyses("accounts_membership") > before
    before = _analyses("accounts_team")
    team.delete()
    assert _analyses("accounts_team") > before


@pytest.mark.django_db
def test_nothing_is_analyzed_before_the_change_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        Team.objects.create(name="Audit")
    assert [c.__name__ for c in callbacks] == ["analyze_scope"]
