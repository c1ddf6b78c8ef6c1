"""No credential or secret in logs, with every logger turned up to DEBUG.

A scan through moto and a password sign-in run with botocore, boto3, urllib3,
celery, django and Parapet's own loggers at DEBUG; everything Parapet's log
handler writes is searched for the secrets in play: the Django secret key, the
base AWS secret key, every assumed role's secret key and session token, the
user's password and session key. botocore does log credentials at DEBUG (the
AssumeRole response, the X-Amz-Security-Token header): the handler's
``RedactSecrets`` filter is what keeps them out, and a test below shows the
raw records would have held them.
"""

import io
import logging

import pytest
from django.conf import settings
from django.urls import reverse

from accounts import aws as aws_sessions
from collectors import pipeline
from collectors.tests.conftest import moto_org  # noqa: F401  (a fixture)
from findings.tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGGERS = [
    None,  # the root logger: everything that propagates
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "celery",
    "django",
    "axes",
    "accounts",
    "collectors",
    "findings",
    "mozilla_django_oidc",
]
BASE_SECRET = "base-secret-Zq81xVw0c2LmT5s9"  # noqa: S105


@pytest.fixture
def written_logs(caplog):
    """What the configured console handler writes, every logger at DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    (console,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    buffer = io.StringIO()
    previous = console.setStream(buffer)
    yield buffer
    console.setStream(previous)


@pytest.fixture
def issued_secrets(monkeypatch):
    """Every secret key and session token handed out by role assumption."""
    issued: list[str] = []
    real = aws_sessions.assume_role

    def assume_role(role_arn, **kwargs):
        session = real(role_arn, **kwargs)
        credentials = session.get_credentials()
        issued.extend([credentials.secret_key, credentials.token])
        return session

    monkeypatch.setattr(aws_sessions, "assume_role", assume_role)
    return issued


def test_a_scan_and_a_sign_in_log_no_secret(
    monkeypatch,
    moto_org,  # noqa: F811
    issued_secrets,
    written_logs,
    client,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
    aws_sessions.forget_credentials()
    make_user("alice")

    with django_capture_on_commit_callbacks(execute=True):
        scan = pipeline.plan_scan(moto_org, services=["s3", "iam"])
    response = client.post(
        reverse("login"), {"username": "alice", "password": "not-" + PASSWORD}
    )
    assert response.status_code == 200
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    session_key = client.session.session_key

    scan.refresh_from_db()
    assert scan.status == scan.Status.FINISHED
    logged = written_logs.getvalue()
    # The capture is real: botocore's request and response logging and the
    # sign-in are in it, credentials blanked.
    assert "Sending http request" in logged
    assert "<SessionToken>[redacted]</SessionToken>" in logged
    assert "AXES" in logged
    secrets = [s for s in issued_secrets if s]
    assert secrets, "the scan should have assumed member roles"
    for secret in [
        *secrets,
        BASE_SECRET,
        settings.SECRET_KEY,
        PASSWORD,
        session_key,
    ]:
        assert secret not in logged


def test_the_filter_is_what_keeps_botocore_credentials_out():
    """Without the handler's filter, botocore's DEBUG lines hold the token."""
    from accounts.log_redaction import RedactSecrets

    token = "FQoGZXIvYXdzEXAMPLETOKEN+/="  # noqa: S105
    record = logging.LogRecord(
        "botocore.endpoint",
        logging.DEBUG,
        __file__,
        1,
        "Sending http request: %s",
        ({"X-Amz-Security-Token": token.encode()},),
        None,
    )
    assert token in record.getMessage()
    RedactSecrets().filter(record)
    assert token not in record.getMessage()
    assert "[redacted]" in record.getMessage()
