"""AWS sessions: base credentials, assumed member roles and client settings.

Credentials live only in this process's memory. Nothing here logs, stores or
returns a secret in text form; callers get boto3 sessions.
"""

import contextlib
import functools
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient, ClientCreator
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    RefreshableCredentials,
)
from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader, create_loader
from django.conf import settings

from accounts.aws_errors import EXPIRED_TOKEN_CODES, error_code_of_response

# Re-assume this long before the credentials expire, so no call runs on
# credentials that lapse mid-request.
REFRESH_MARGIN_SECONDS = 300
# Inside this margin every thread waits for the new credentials.
MANDATORY_REFRESH_SECONDS = 60
DEFAULT_REGION = "us-east-1"
# Request-context keys of the ExpiredToken retry (see make_client).
_SIGNED_WITH = "parapet_access_key"
_REASSUMED = "parapet_reassumed"
_SIGNING_KEY = re.compile(r"Credential=([^/,\s]+)/")


@dataclass
class _Cached:
    session: boto3.Session
    last_used: float


_cache: dict[tuple[str, str, str], _Cached] = {}
_lock = threading.Lock()


_loader: Loader | None = None


class AssumedRoleCredentials(RefreshableCredentials):
    """An assumed role's credentials, which re-assume the role themselves.

    botocore refreshes them ``REFRESH_MARGIN_SECONDS`` before they expire (its
    own defaults, 15 and 10 minutes, would re-assume a 15-minute session on
    every call), and ``replace`` does at once when AWS answers ExpiredToken
    earlier than that (clock skew, a session revoked by its account).
    """

    _advisory_refresh_timeout = REFRESH_MARGIN_SECONDS
    _mandatory_refresh_timeout = MANDATORY_REFRESH_SECONDS

    def replace(self, access_key: str) -> None:
        """Re-assume now, unless another thread already replaced ``access_key``."""
        with self._refresh_lock:
            if self._frozen_credentials.access_key == access_key:
                self._protected_refresh(is_mandatory=True)


class _Given(CredentialProvider):
    """The one credential source of a member session (no chain to search)."""

    METHOD = "parapet-assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def new_session(
    credentials: RefreshableCredentials | None = None, **kwargs
) -> boto3.Session:
    """A boto3 session sharing one botocore data loader with every other.

    Each session otherwise parses the service models (megabytes of JSON for
    EC2) again; a scan creates a session per account. ``credentials``: use
    these instead of the standard credential chain.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    if credentials is not None:
        core.register_component(
            "credential_provider", CredentialResolver([_Given(credentials)])
        )
    return boto3.Session(botocore_session=core, **kwargs)


def _shared_loader() -> Loader:
    global _loader
    if _loader is None:
        _loader = create_loader()
    return _loader


#: What making a client and paginating read from botocore's data, per service.
_MODEL_KINDS = ("service-2", "endpoint-rule-set-1", "paginators-1")


def preload(services: Iterable[str]) -> None:
    """Parse the botocore models of ``services`` and of STS (every scan
    assumes roles) into the shared loader now, and build their client classes.

    Reading EC2's model alone takes a fifth of a second, and building its
    client class a hundredth. A Celery worker preloads before forking its
    pool, so its processes share one copy (copy-on-write) instead of each
    making its own on its first units.
    """
    loader = _shared_loader()
    # Static placeholder keys: building a class needs no credentials, and
    # the default chain could wait on an instance metadata service.
    session = new_session(
        region_name=DEFAULT_REGION,
        aws_access_key_id="preload",
        aws_secret_access_key="preload",  # noqa: S106 - signs nothing
    )
    for service in {*services, "sts"}:
        for kind in _MODEL_KINDS:
            # A service without paginators has no such file.
            with contextlib.suppress(DataNotFoundError):
                loader.load_service_model(service, kind)
        session.client(service)  # its class stays in _client_classes


# botocore builds every client's class afresh, with a function per operation
# (EC2 has 700): half the CPU of making a client, and most of its memory. The
# class depends on nothing but the service's model and the handlers of
# ``creating-client-class``, which are botocore's and boto3's own, the same in
# every session (Parapet registers none), so each process builds it once per
# service and API version. botocore has no hook for this; the test suite
# checks the method it replaces still exists and is what clients are made by.
_client_classes: dict[tuple[str, str], type[BaseClient]] = {}
_build_client_class = ClientCreator._create_client_class


def _client_class(creator: ClientCreator, service_name: str, service_model):
    key = (service_name, service_model.api_version)
    found = _client_classes.get(key)
    if found is None:
        built = _build_client_class(creator, service_name, service_model)
        found = _client_classes.setdefault(key, built)
    return found


ClientCreator._create_client_class = _client_class


def max_attempts() -> int:
    """Attempts per call, the first included."""
    if settings.PARAPET_AWS_MAX_ATTEMPTS:
        return settings.PARAPET_AWS_MAX_ATTEMPTS
    return 2 if custom_endpoint() else 6


def client_config() -> Config:
    """Adaptive retries (client-side rate limiting once throttled) and bounded
    timeouts, so a dead endpoint costs attempts x timeout, never a hang."""
    return Config(
        # botocore reads "max_attempts" as retries (one attempt more);
        # "total_max_attempts" counts attempts, as the setting does.
        retries={"mode": "adaptive", "total_max_attempts": max_attempts()},
        connect_timeout=settings.PARAPET_AWS_TIMEOUT_SECONDS,
        read_timeout=settings.PARAPET_AWS_TIMEOUT_SECONDS,
        user_agent_extra="parapet",
        max_pool_connections=20,
    )


def base_session(region: str = DEFAULT_REGION) -> boto3.Session:
    """The scanner's own identity, from the standard boto3 credential chain."""
    return new_session(region_name=region)


# Clients of each live session, by (service, region), for the sessions that
# share theirs (share_clients).
_clients: weakref.WeakKeyDictionary[boto3.Session, dict[tuple[str, str], BaseClient]]
_clients = weakref.WeakKeyDictionary()
_sharing: weakref.WeakSet[boto3.Session] = weakref.WeakSet()
_clients_lock = threading.Lock()


def share_clients(session: boto3.Session) -> boto3.Session:
    """Let ``shared_client`` make each of the session's clients once.

    Scan sessions (``assume_role``) do. Other sessions make a client per call:
    a client copies the session's event handlers when made, so one shared
    before a handler is registered would not see it.
    """
    with _clients_lock:
        _sharing.add(session)
    return session


def shared_client(session: boto3.Session, service: str, region: str) -> BaseClient:
    """``make_client(session, service, region)``, made once per session that
    shares its clients (``share_clients``).

    Making a client costs about 5 ms of CPU (EC2's 11) even with its class
    built once (``_client_class``), more than many units spend on their
    calls, and several units of one account and region use the same client
    (ec2, vpc and autoscaling all ask EC2). botocore clients are thread-safe,
    so the threads of a process share them; they go with their session
    (``assume_role`` keeps one per role and scan).
    """
    key = (service, region)
    with _clients_lock:
        sharing = session in _sharing
        found = _clients.get(session, {}).get(key) if sharing else None
    if found is not None:
        return found
    # Made outside the lock (it is slow); a thread that lost the race uses
    # the first one made.
    client = make_client(session, service, region)
    if not sharing:
        return client
    with _clients_lock:
        return _clients.setdefault(session, {}).setdefault(key, client)


def forget_clients(session: boto3.Session) -> None:
    """Drop the session's shared clients: the next ones are made afresh, with
    the event handlers registered on the session since (tests deny calls so)."""
    with _clients_lock:
        _clients.pop(session, None)


def make_client(session: boto3.Session, service: str, region: str) -> BaseClient:
    client = session.client(service, region_name=region, config=client_config())
    if service == "s3control" and custom_endpoint():
        # botocore puts the account id in front of the host
        # (<account>.<endpoint host>), which does not resolve for a loopback
        # simulator. Only with a custom endpoint, send it to the endpoint itself.
        client.meta.events.register("before-sign.s3-control.*", _strip_account_host)
    credentials = session.get_credentials()
    if isinstance(credentials, AssumedRoleCredentials):
        events = client.meta.events
        service_id = client.meta.service_model.service_id.hyphenize()
        # After the signer (registered on request-created.<service>).
        events.register_last("request-created", _remember_signing_key)
        # Before the standard retry handler, whose answer would otherwise win.
        events.register_first(
            f"needs-retry.{service_id}",
            functools.partial(_reassume_on_expired_token, credentials),
        )
    return client


def _remember_signing_key(request: AWSRequest, **kwargs: Any) -> None:
    """Note which access key signed this attempt (the retry below compares)."""
    found = _SIGNING_KEY.search(request.headers.get("Authorization", ""))
    if found and request.context is not None:
        request.context[_SIGNED_WITH] = found.group(1)


def _reassume_on_expired_token(
    credentials: AssumedRoleCredentials,
    request_dict: dict,
    response: tuple | None = None,
    **kwargs: Any,
) -> int | None:
    """On ExpiredToken, re-assume the role and retry the call once, at once.

    Returns botocore's "retry after 0 seconds", or None to leave the decision
    to the standard retry handler. A unit that runs across its credentials'
    expiry thus loses no call; a second ExpiredToken is an error.
    """
    if response is None or error_code_of_response(response[1]) not in (
        EXPIRED_TOKEN_CODES
    ):
        return None
    context = request_dict["context"]
    if context.get(_REASSUMED):
        return None
    context[_REASSUMED] = True
    credentials.replace(context.get(_SIGNED_WITH, ""))
    return 0


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
    """A session for ``role_arn``, cached per process, its credentials
    re-assumed before they expire and when AWS says they have.

    The cache key includes the session name, so every scan shows up in the
    member account's CloudTrail under its own name. The first AssumeRole runs
    here, so a denied role raises here.
    """
    key = (role_arn, external_id, session_name)
    now = time.time()
    with _lock:
        cached = _cache.get(key)
        if cached:
            cached.last_used = now
            return cached.session
    fetch = functools.partial(
        _assume,
        role_arn,
        external_id=external_id,
        session_name=session_name,
        duration=duration_seconds or settings.PARAPET_ROLE_SESSION_SECONDS,
    )
    credentials = AssumedRoleCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method=_Given.METHOD
    )
    session = share_clients(new_session(credentials, region_name=DEFAULT_REGION))
    with _lock:
        _forget_unused(now)
        _cache[key] = _Cached(session, now)
    return session


def _assume(
    role_arn: str, *, external_id: str, session_name: str, duration: int
) -> dict[str, str]:
    """One sts:AssumeRole, as botocore's credential refresh expects it."""
    scanner = _scanner_session(os.getpid(), custom_endpoint())
    sts = shared_client(scanner, "sts", DEFAULT_REGION)
    asked_at = datetime.now(UTC)
    creds = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name[:64],
        ExternalId=external_id,
        DurationSeconds=duration,
    )["Credentials"]
    # Never trust an expiry further away than we asked for (simulators may
    # return odd values).
    expires_at = min(creds["Expiration"], asked_at + timedelta(seconds=duration))
    return {
        "access_key": creds["AccessKeyId"],
        "secret_key": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
        "expiry_time": expires_at.isoformat(),
    }


@functools.cache
def _scanner_session(pid: int, endpoint: str) -> boto3.Session:
    """The scanner's base session, sharing its clients, one per process (a
    forked child makes its own: connections must not cross a fork) and
    endpoint. A scan assumes a role in every account from every worker
    process; a session and an STS client per AssumeRole cost more CPU than
    the call."""
    return share_clients(base_session())


def _forget_unused(now: float) -> None:
    """Drop sessions unused for a session's length: each scan has its own
    session name, so a long-lived worker would otherwise keep every one."""
    idle = settings.PARAPET_ROLE_SESSION_SECONDS
    for key in [k for k, c in _cache.items() if now - c.last_used > idle]:
        del _cache[key]


def forget_credentials() -> None:
    """Drop every cached session, the scanner's own included (tests)."""
    with _lock:
        _cache.clear()
    _scanner_session.cache_clear()


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
