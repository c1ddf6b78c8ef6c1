"""Member sessions survive expiring credentials; errors are classified by cause."""

from collections.abc import Callable

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from accounts import aws as sessions
from accounts.aws_errors import classify

ROLE = "arn:aws:iam::111122223333:role/ParapetAudit"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def _expired_token(request) -> AWSResponse:
    body = (
        b"<Error><Code>ExpiredToken</Code>"
        b"<Message>The provided token has expired.</Message></Error>"
    )
    return AWSResponse(request.url, 400, {}, _Raw(body))


def _signing_key(request) -> str:
    auth = request.headers["Authorization"].decode()
    return auth.split("Credential=")[1].split("/")[0]


def _s3_answering(session, answer: Callable) -> tuple:
    """An S3 client of ``session`` whose requests ``answer`` may intercept;
    returns it with the list of access keys that signed each request."""
    client = sessions.make_client(session, "s3", "us-east-1")
    keys: list[str] = []

    def intercept(request, **kwargs):
        keys.append(_signing_key(request))
        return answer(request, keys)

    # More specific than moto's own before-send handler, so it runs first.
    client.meta.events.register_first("before-send.s3", intercept)
    return client, keys


def _member_session():
    return sessions.assume_role(ROLE, external_id="ext", session_name="parapet-scan-1")


def test_expired_token_reassumes_the_role_and_retries_once(aws):
    session = _member_session()
    first = session.get_credentials().get_frozen_credentials().access_key

    def expire_first_key(request, keys):
        return _expired_token(request) if keys[-1] == first else None

    client, keys = _s3_answering(session, expire_first_key)

    assert client.list_buckets()["Buckets"] == []
    assert keys[0] == first
    assert len(keys) == 2 and keys[1] != first
    # The session keeps the new credentials: the next call uses them at once.
    client.list_buckets()
    assert keys[2] == keys[1]


def test_a_second_expired_token_is_an_error_not_a_loop(aws):
    client, keys = _s3_answering(
        _member_session(), lambda request, keys: _expired_token(request)
    )

    with pytest.raises(ClientError) as raised:
        client.list_buckets()

    assert raised.value.response["Error"]["Code"] == "ExpiredToken"
    assert len(keys) == 2 and keys[0] != keys[1]  # re-assumed once, no more
    assert classify(raised.value)[0] == "access_denied"


def test_credentials_replaced_by_another_thread_are_not_replaced_again(
    aws,
):
    credentials = _member_session().get_credentials()
    current = credentials.get_frozen_credentials().access_key

    credentials.replace("ASIA-OLD-KEY-ANOTHER-THREAD-SAW")

    assert credentials.get_frozen_credentials().access_key == current


def test_a_short_session_is_not_reassumed_on_every_call(aws):
    """botocore's default margins (15 min) would refresh a 15-minute session
    before every call."""
    session = sessions.assume_role(
        ROLE, external_id="ext", session_name="short", duration_seconds=900
    )
    credentials = session.get_credentials()

    assert not credentials.refresh_needed()
    assert credentials.refresh_needed(901)


def test_idle_sessions_leave_the_cache(aws, settings):
    old = sessions.assume_role(ROLE, external_id="ext", session_name="parapet-scan-1")
    key = (ROLE, "ext", "parapet-scan-1")
    sessions._cache[key].last_used -= settings.PARAPET_ROLE_SESSION_SECONDS + 1

    sessions.assume_role(ROLE, external_id="ext", session_name="parapet-scan-2")

    assert key not in sessions._cache
    assert _member_session() is not old


def test_one_sts_client_assumes_the_role_in_every_account(aws, monkeypatch):
    """A scan assumes a role in every account from every worker process; a
    session and a client per AssumeRole cost more CPU than the call."""
    made = []
    real = sessions.base_session
    monkeypatch.setattr(sessions, "base_session", lambda: made.append(1) or real())

    for account in ("111122223333", "444455556666", "777788889999"):
        arn = f"arn:aws:iam::{account}:role/ParapetAudit"
        member = sessions.assume_role(arn, external_id="ext", session_name="scan-1")
        assert member.client("sts").get_caller_identity()["Account"] == account

    assert len(made) == 1


def test_clients_of_a_service_share_one_class_built_once(aws, monkeypatch):
    """botocore would build EC2's class, 700 methods, for every client."""
    built = []
    build = sessions._build_client_class

    def counted(creator, service_name, service_model):
        built.append(service_name)
        return build(creator, service_name, service_model)

    monkeypatch.setattr(sessions, "_build_client_class", counted)
    monkeypatch.setattr(sessions, "_client_classes", {})

    base = sessions.make_client(sessions.new_session(), "ec2", "us-east-1")
    member = sessions.make_client(_member_session(), "ec2", "eu-west-1")

    assert built.count("ec2") == 1
    assert type(member) is type(base)
    # Still a client of its own: its region, its credentials, its calls.
    assert member.meta.region_name == "eu-west-1"
    assert member.describe_regions()["Regions"]
    base_key = base._request_signer._credentials.access_key
    assert member._request_signer._credentials.access_key != base_key
    # What boto3 adds to a service's class when it is built is still there.
    assert hasattr(
        sessions.make_client(_member_session(), "s3", "us-east-1"), "upload_file"
    )
    assert built.count("s3") == 1


def test_max_attempts_counts_attempts_not_retries(aws, settings):
    settings.PARAPET_AWS_MAX_ATTEMPTS = 3

    def internal_error(request, keys):
        body = b"<Error><Code>InternalError</Code><Message>m</Message></Error>"
        return AWSResponse(request.url, 500, {}, _Raw(body))

    client, keys = _s3_answering(_member_session(), internal_error)

    with pytest.raises(ClientError):
        client.list_buckets()
    assert len(keys) == 3


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "ListThings",
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_client_error("InternalError", 500), "throttled"),
        (_client_error("InternalFailure", 500), "throttled"),
        (_client_error("ServiceUnavailable", 503), "throttled"),
        (_client_error("SlowDown", 503), "throttled"),
        (_client_error("500", 500), "unsupported"),  # a simulator's bare 500
        (ConnectionClosedError(endpoint_url="http://x"), "unreachable"),
        (EndpointConnectionError(endpoint_url="http://x"), "unreachable"),
        (ReadTimeoutError(endpoint_url="http://x"), "unreachable"),
    ],
)
def test_errors_that_outlived_the_retries_are_classified_by_cause(exc, kind):
    assert classify(exc)[0] == kind
