import boto3
import pytest

from accounts import aws as aws_sessions
from accounts.discovery import discover_accounts
from accounts.models import Organization


@pytest.fixture
def moto_org(aws, db):
    """A moto organization with two member accounts, registered in Parapet."""
    orgs = aws.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    member_ids = []
    for name in ("prod", "dev"):
        created = orgs.create_account(AccountName=name, Email=f"{name}@example.com")
        member_ids.append(created["CreateAccountStatus"]["AccountId"])
    org = Organization.objects.create(
        name="Test org",
        management_account_id="123456789012",
        member_role_name="ParapetAudit",
        external_id="ext-test-123",
        regions=["us-east-1"],
    )
    discover_accounts(org)
    org.member_ids = member_ids
    return org


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks):
    """Plan a scan and run it to its end in-process; the scan, refreshed."""
    from collectors import pipeline

    def run(org, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            scan = pipeline.plan_scan(org, **kwargs)
        scan.refresh_from_db()
        return scan

    return run


def member_session(account_id: str) -> boto3.Session:
    """Credentials inside a member account, as the seed of a test would use."""
    return aws_sessions.assume_role(
        f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        external_id="seed",
        session_name="test-seed",
    )


class FaultInjector:
    """Injects AWS errors into the sessions the scanner creates.

    Wraps the real role assumption and registers a botocore ``before-call``
    handler on the session it returns: the call is answered with the error AWS
    would send, in place of the request (the botocore event-hook way of
    simulating denials; moto itself authorises everything).
    """

    def __init__(self, monkeypatch):
        self.rules: list[tuple[str, str, str, str]] = []
        self.issued_secrets: list[str] = []
        real = aws_sessions.assume_role

        def assume_role(role_arn, **kwargs):
            session = real(role_arn, **kwargs)
            creds = session.get_credentials()
            self.issued_secrets.extend([creds.secret_key, creds.token])
            account = role_arn.split(":")[4]
            for rule_account, service, operation, code in self.rules:
                if rule_account in (account, "*"):
                    from findings.testing import deny

                    deny(session, service, operation, code)
            return session

        monkeypatch.setattr(aws_sessions, "assume_role", assume_role)

    def deny(self, account_id: str, service: str, operation: str, code="AccessDenied"):
        self.rules.append((account_id, service, operation, code))
        aws_sessions.forget_credentials()


@pytest.fixture
def faults(monkeypatch):
    return FaultInjector(monkeypatch)
