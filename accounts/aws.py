"""AWS sessions: base credentials, assumed member roles and client settings.

Credentials live only in this process's memory. Nothing here logs, stores or
returns a secret in text form; callers get boto3 sessions.
"""

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.loaders import Loader, create_loader
from django.conf import settings

# Re-assume this long before the credentials expire, so no call runs on
# credentials that lapse mid-request.
REFRESH_MARGIN_SECONDS = 300
DEFAULT_REGION = "us-east-1"


@dataclass
class _Cached:
    session: boto3.Session
    expires_at: float


_cache: dict[tuple[str, str, str], _Cached] = {}
_lock = threading.Lock()


_loader: Loader | None = None


def new_session(**kwargs) -> boto3.Session:
    """A boto3 session sharing one botocore data loader with every other.

    Each session otherwise parses the service models (megabytes of JSON for
    EC2) again; a scan creates a session per account.
    """
    global _loader
    if _loader is None:
        _loader = create_loader()
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader)
    return boto3.Session(botocore_session=core, **kwargs)


def max_attempts() -> int:
    if settings.PARAPET_AWS_MAX_ATTEMPTS:
        return settings.PARAPET_AWS_MAX_ATTEMPTS
    return 2 if custom_endpoint() else 6


def client_config() -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts()},
        connect_timeout=settings.PARAPET_AWS_TIMEOUT_SECONDS,
        read_timeout=settings.PARAPET_AWS_TIMEOUT_SECONDS,
        user_agent_extra="parapet",
        max_pool_connections=20,
    )


def base_session(region: str = DEFAULT_REGION) -> boto3.Session:
    """The scanner's own identity, from the standard boto3 credential chain."""
    return new_session(region_name=region)


def make_client(session: boto3.Session, service: str, region: str) -> BaseClient:
    client = session.client(service, region_name=region, config=client_config())
    if service == "s3control" and custom_endpoint():
        # botocore puts the account id in front of the host
        # (<account>.<endpoint host>), which does not resolve for a loopback
        # simulator. Only with a custom endpoint, send it to the endpoint itself.
        client.meta.events.register("before-sign.s3-control.*", _strip_account_host)
    return client


def custom_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL", "")


def _strip_account_host(request, **kwargs) -> None:
    endpoint = urlsplit(custom_endpoint())
    url = urlsplit(request.url)
    if url.hostname and url.hostname != endpoint.hostname:
        request.url = url._replace(netloc=endpoint.netloc).geturl()


def assume_role(
    role_arn: str,
    *,
    external_id: str,
    session_name: str,
    duration_seconds: int | None = None,
) -> boto3.Session:
    """A session for ``role_arn``, cached per process until shortly before expiry.

    The cache key includes the session name, so every scan shows up in the
    member account's CloudTrail under its own name.
    """
    key = (role_arn, external_id, session_name)
    now = time.time()
    with _lock:
        cached = _cache.get(key)
        if cached and cached.expires_at - REFRESH_MARGIN_SECONDS > now:
            return cached.session
    duration = duration_seconds or settings.PARAPET_ROLE_SESSION_SECONDS
    sts = make_client(base_session(), "sts", DEFAULT_REGION)
    response = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name[:64],
        ExternalId=external_id,
        DurationSeconds=duration,
    )
    creds = response["Credentials"]
    session = new_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=DEFAULT_REGION,
    )
    expires_at = creds["Expiration"].timestamp()
    # Never trust an expiry further away than we asked for (simulators may
    # return odd values).
    expires_at = min(expires_at, now + duration)
    with _lock:
        _cache[key] = _Cached(session, expires_at)
    return session


def forget_credentials() -> None:
    """Drop every cached session (tests; a worker that sees ExpiredToken)."""
    with _lock:
        _cache.clear()


def discovery_session(organization, session_name: str) -> boto3.Session:
    if organization.discovery_role_arn:
        return assume_role(
            organization.discovery_role_arn,
            external_id=organization.external_id,
            session_name=session_name,
        )
    return base_session()


def member_session(organization, account_id: str, session_name: str) -> boto3.Session:
    return assume_role(
        organization.member_role_arn(account_id),
        external_id=organization.external_id,
        session_name=session_name,
    )
