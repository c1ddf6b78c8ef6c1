"""The public CLI: names, options and columns are an interface users script."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Organization
from findings.controls import REGISTRY

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


@pytest.fixture
def organization(aws):
    orgs = aws.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="Workloads")
    account = orgs.create_account(AccountName="payments", Email="pay@example.com")
    account_id = account["CreateAccountStatus"]["AccountId"]
    orgs.move_account(
        AccountId=account_id,
        SourceParentId=root,
        DestinationParentId=ou["OrganizationalUnit"]["Id"],
    )
    return account_id


def test_add_organization_discovers_and_prints_accounts(organization):
    out = run(
        "add_organization",
        name="Acme",
        management_account_id="123456789012",
        member_role="ParapetAudit",
        external_id="acme-ext",
        regions="us-east-1,eu-west-1",
    )
    assert organization in out
    assert "Root/Workloads" in out
    assert "2 accounts (2 new)" in out
    account = Account.objects.get(account_id=organization)
    assert account.ou_path == "Root/Workloads"
    assert account.name == "payments"
    # Re-running updates instead of duplicating.
    out = run(
        "add_organization",
        name="Acme",
        management_account_id="123456789012",
        member_role="ParapetAudit",
        external_id="acme-ext",
    )
    assert "Updated organization Acme" in out
    assert Organization.objects.count() == 1
    assert Account.objects.count() == 2


def test_add_organization_rejects_bad_input(organization):
    with pytest.raises(CommandError, match="eu-nowhere"):
        run(
            "add_organization",
            name="Acme",
            management_account_id="123456789012",
            member_role="ParapetAudit",
            external_id="x1",
            regions="eu-nowhere",
        )
    with pytest.raises(CommandError, match="management_account_id"):
        run(
            "add_organization",
            name="Acme",
            management_account_id="12345",
            member_role="ParapetAudit",
            external_id="x1",
        )


@pytest.mark.django_db(transaction=True)  # the scan starts on commit
def test_scan_export_and_hostile_cells(organization, aws):
    run(
        "add_organization",
        name="Acme",
        management_account_id="123456789012",
        member_role="ParapetAudit",
        external_id="acme-ext",
        regions="us-east-1",
    )
    # IAM allows = + - @ in user names: a formula waiting for a spreadsheet.
    aws.client("iam").create_user(UserName="=1+2")
    aws.client("iam").create_login_profile(UserName="=1+2", Password="Pw-12345678!")

    out = run("scan", organization="Acme", services="iam", wait=True)
    assert "units ok 2, denied 0, failed 0" in out
    assert "Findings: PASS" in out

    csv_text = run("export_findings", organization="Acme", status="FAIL")
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert rows[0] == [
        "account_id",
        "region",
        "resource_type",
        "resource_id",
        "resource_arn",
        "control_id",
        "section",
        "severity",
        "status",
        "reason",
        "first_seen",
        "last_changed",
    ]
    assert len(rows) > 1
    assert {r[8] for r in rows[1:]} == {"FAIL"}
    hostile = [r for r in rows[1:] if "1+2" in r[3]]
    assert hostile, "the user's findings are exported"
    assert all(r[3] == "'=1+2" for r in hostile)
    assert all(r[10].endswith("Z") for r in rows[1:])


def test_scan_with_nothing_to_scan_is_an_error(db):
    with pytest.raises(CommandError, match="No organization yet"):
        run("scan", wait=True)


def test_controls_lists_the_catalog():
    out = run("controls", format="csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "id",
        "title",
        "section",
        "severity",
        "resource_type",
        "cis",
        "fsbp",
    ]
    assert len(rows) - 1 == len(REGISTRY) >= 30
    ids = {r[0] for r in rows[1:]}
    assert "s3.bucket.public-access-blocked" in ids
