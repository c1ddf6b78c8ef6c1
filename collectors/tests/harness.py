"""Fault-injection harness: simulated AWS, a proxy that breaks it, a real worker.

Tests that prove Parapet survives faults drive the real pipeline, so this
module provides the real parts, each small and usable on its own:

- ``FaultProxy``: a threaded loopback HTTP proxy in front of the moto server.
  Point ``AWS_ENDPOINT_URL`` at ``proxy.url`` and add ``Rule``s: matching
  calls are answered with an AWS error in the service's protocol shape,
  delayed, or have their connection reset, instead of being forwarded. Rules
  can change while a scan runs; ``proxy.injected`` counts what was injected.
- ``CeleryWorker``: a ``celery worker`` subprocess against the test database
  and Redis, under a key prefix of its own; start, stop, restart, SIGKILL.
- ``use_broker``: point this process's Celery producer at that worker's Redis.
- ``seed_small_org`` / ``register_organization``: a moto organization of two
  member accounts with a few resources, and its registration in Parapet;
  ``run_scan`` scans it through the worker.

A typical test (see test_faults_aws.py)::

    proxy.add(Rule("access_denied", service="s3"))
    scan = run_scan(org)
    assert scan.units.get(service="s3", ...).error_kind == "access_denied"
"""

import fnmatch
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
from django.db import connection

REDIS_URL = os.environ.get("PARAPET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
# moto's account for credentials it did not issue (the base identity).
MOTO_DEFAULT_ACCOUNT = "123456789012"


def redis_or_skip() -> str:
    """The test Redis URL; skips the calling test when no Redis answers there."""
    import pytest
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(
            f"no Redis at {REDIS_URL}: this test needs a real broker "
            "(start redis-server or set PARAPET_TEST_REDIS_URL)"
        )
    finally:
        client.close()
    return REDIS_URL


def worker_database_url() -> str:
    """DATABASE_URL of the database this test process uses (the test one)."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db["PASSWORD"] else user
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={db['HOST']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgresql://{auth}@{host}/{db['NAME']}"


# -- The fault-injecting proxy ------------------------------------------------------

#: What a rule can do to a matching call.
OUTCOMES = (
    "access_denied",  # AccessDenied / AccessDeniedException / UnauthorizedOperation
    "throttle",  # Throttling / ThrottlingException / RequestLimitExceeded / SlowDown
    "http429",  # HTTP 429 TooManyRequestsException (or the protocol's throttle code)
    "http500",  # HTTP 500 InternalError / InternalFailure
    # ExpiredToken for a call signed with assumed-role credentials (never the
    # base identity's); that key then stays expired for every later call.
    "expired_token",
    "opt_in_required",  # OptInRequired, as calls into a disabled region get
    "reset",  # TCP reset instead of an answer
    "close",  # connection closed without an answer
    "delay",  # forwarded after ``Rule.delay`` seconds (longer: a hang)
)

# Error codes per outcome and protocol, and the HTTP status AWS uses.
_CODES = {
    "access_denied": {
        "json": "AccessDeniedException",
        "rest-json": "AccessDeniedException",
        "ec2": "UnauthorizedOperation",
        "query": "AccessDenied",
        "rest-xml": "AccessDenied",
    },
    "throttle": {
        "json": "ThrottlingException",
        "rest-json": "ThrottlingException",
        "ec2": "RequestLimitExceeded",
        "query": "Throttling",
        "rest-xml": "SlowDown",
    },
    "http429": {
        "json": "TooManyRequestsException",
        "rest-json": "TooManyRequestsException",
        "ec2": "RequestLimitExceeded",
        "query": "Throttling",
        "rest-xml": "SlowDown",
    },
    "http500": {
        "json": "InternalFailure",
        "rest-json": "InternalFailure",
        "ec2": "InternalError",
        "query": "InternalFailure",
        "rest-xml": "InternalError",
    },
    "expired_token": {
        "json": "ExpiredTokenException",
        "rest-json": "ExpiredTokenException",
        "ec2": "ExpiredToken",
        "query": "ExpiredToken",
        "rest-xml": "ExpiredToken",
    },
}


def _status(outcome: str, protocol: str) -> int:
    if outcome == "throttle":
        return 503 if protocol in ("ec2", "rest-xml") else 400
    if outcome == "http429":
        return 429
    if outcome == "http500":
        return 500
    if outcome == "access_denied":
        return 400 if protocol == "json" else 403
    if outcome == "opt_in_required":
        return 401
    return 400


# Services whose REST protocol is XML; every other REST service speaks JSON.
_REST_XML = {"s3", "route53", "cloudfront"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}


@dataclass
class Call:
    """One request the proxy saw, as the rules match it."""

    service: str  # the SigV4 signing name: s3, iam, ec2, sts ...
    region: str
    account: str  # the member account the call acts in (see FaultProxy)
    action: str  # DescribeRegions, ListBuckets; "GET /path" for REST calls
    protocol: str  # json, rest-json, query, ec2, rest-xml
    access_key: str = ""
    outcome: str = ""  # what was injected; "" when forwarded untouched


@dataclass
class Rule:
    """Answer matching calls with ``outcome`` instead of forwarding them.

    ``service``, ``region``, ``account`` and ``action`` are fnmatch patterns
    over the ``Call``. A rule lets its first ``after`` matching calls through,
    then fires with ``probability`` at most ``times`` times (None: forever).
    """

    outcome: str
    service: str = "*"
    region: str = "*"
    account: str = "*"
    action: str = "*"
    probability: float = 1.0
    after: int = 0
    times: int | None = None
    delay: float = 0.0
    matched: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r} (known: {OUTCOMES})")

    def matches(self, call: Call) -> bool:
        return all(
            fnmatch.fnmatchcase(value, pattern)
            for value, pattern in (
                (call.service, self.service),
                (call.region, self.region),
                (call.account, self.account),
                (call.action, self.action),
            )
        )


class FaultProxy:
    """A loopback HTTP proxy in front of ``upstream`` (the moto server).

    The account of a call: moto issues a new access key per AssumeRole; the
    proxy reads the role's account from each AssumeRole request and the key
    from its answer, so later calls signed with that key belong to the
    role's account. Keys it did not see issued (the scanner's base identity)
    belong to moto's default account. An AssumeRole call itself belongs to
    the account of the role it asks for, so a rule for an account also
    denies entering it.
    """

    def __init__(self, upstream: str, *, seed: int = 6) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.injected: Counter[str] = Counter()
        self.calls: list[Call] = []
        self._rules: list[Rule] = []
        self._key_accounts: dict[str, str] = {}
        self._expired_keys: set[str] = set()
        self._disabled_regions: set[tuple[str, str]] = set()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # Lifecycle
    def start(self) -> "FaultProxy":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "start the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # Rules
    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        with self._lock:
            self._rules.remove(rule)

    def reset(self) -> None:
        """No rules, no counts, no expired keys or disabled regions."""
        with self._lock:
            self._rules.clear()
            self.injected.clear()
            self.calls.clear()
            self._key_accounts.clear()
            self._expired_keys.clear()
            self._disabled_regions.clear()

    def disable_region(self, account: str, region: str) -> Rule:
        """Make ``region`` an opt-in region ``account`` has not enabled.

        DescribeRegions reports it ``not-opted-in`` and calls into it are
        answered OptInRequired. Returns the rule (remove it to re-enable).
        """
        with self._lock:
            self._disabled_regions.add((account, region))
        return self.add(Rule("opt_in_required", account=account, region=region))

    def count(self, **match: str) -> int:
        """Calls seen whose fields match ``match`` exactly (e.g. action=...)."""
        with self._lock:
            calls = list(self.calls)
        return sum(
            all(getattr(call, k) == v for k, v in match.items()) for call in calls
        )

    # Used by the request handler
    def describe(self, method: str, path: str, headers, body: bytes) -> Call:
        auth = headers.get("Authorization", "")
        query = parse_qs(urlsplit(path).query)
        found = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
            "Credential=" + query.get("X-Amz-Credential", [""])[0]
        )
        key, region, service = found.groups() if found else ("", "", "")
        target = headers.get("X-Amz-Target", "")
        form: dict[str, list[str]] = {}
        if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
            form = parse_qs(body.decode("utf-8", "replace"))
        params = {**query, **form}
        if target:
            protocol, action = "json", target.rsplit(".", 1)[-1]
        elif "Action" in params:
            protocol = "ec2" if service == "ec2" else "query"
            action = params["Action"][0]
        else:
            protocol = "rest-xml" if service in _REST_XML else "rest-json"
            action = f"{method} {urlsplit(path).path}"
        with self._lock:
            account = self._key_accounts.get(key, MOTO_DEFAULT_ACCOUNT)
        if action == "AssumeRole" and "RoleArn" in params:
            account = params["RoleArn"][0].split(":")[4]
        return Call(service, region, account, action, protocol, key)

    def decide(self, call: Call) -> Rule | None:
        """The rule that fires for ``call`` (recording it), or None: forward it."""
        with self._lock:
            self.calls.append(call)
            if call.access_key in self._expired_keys:
                call.outcome = "expired_token"
                self.injected[call.outcome] += 1
                return Rule("expired_token")
            for rule in self._rules:
                if not rule.matches(call):
                    continue
                if rule.outcome == "expired_token" and (
                    call.access_key not in self._key_accounts
                ):
                    continue  # only temporary credentials expire
                rule.matched += 1
                if rule.matched <= rule.after:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                call.outcome = rule.outcome
                self.injected[rule.outcome] += 1
                if rule.outcome == "expired_token" and call.access_key:
                    self._expired_keys.add(call.access_key)
                return rule
        return None

    def learn(self, call: Call, request_body: bytes, response_body: bytes) -> bytes:
        """Follow AssumeRole answers; rewrite DescribeRegions for disabled regions."""
        if call.action == "AssumeRole":
            form = parse_qs(request_body.decode("utf-8", "replace"))
            issued = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", response_body)
            if issued and "RoleArn" in form:
                with self._lock:
                    self._key_accounts[issued.group(1).decode()] = form["RoleArn"][
                        0
                    ].split(":")[4]
        elif call.action == "DescribeRegions":
            with self._lock:
                disabled = {r for a, r in self._disabled_regions if a == call.account}
            for region in disabled:
                response_body = re.sub(
                    rb"<optInStatus>[^<]*</optInStatus>(<regionName>"
                    + re.escape(region.encode())
                    + rb"</regionName>)",
                    rb"<optInStatus>not-opted-in</optInStatus>\1",
                    response_body,
                )
        return response_body


def _error_response(call: Call, outcome: str) -> tuple[int, dict, bytes]:
    """(status, headers, body) of the error AWS sends for ``outcome``."""
    status = _status(outcome, call.protocol)
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if outcome == "opt_in_required":
        code = "OptInRequired"
    else:
        code = _CODES[outcome][call.protocol]
    message = f"Injected by the Parapet fault proxy: {code}"
    if call.protocol in ("json", "rest-json"):
        headers["Content-Type"] = "application/x-amz-json-1.1"
        if call.protocol == "rest-json":
            headers["x-amzn-ErrorType"] = code
        return (
            status,
            headers,
            json.dumps({"__type": code, "message": message}).encode(),
        )
    headers["Content-Type"] = "text/xml"
    error = f"<Code>{code}</Code><Message>{message}</Message>"
    if call.protocol == "ec2":
        body = (
            f"<Response><Errors><Error>{error}</Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    elif call.protocol == "rest-xml":
        body = f"<Error>{error}<RequestId>{request_id}</RequestId></Error>"
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type>{error}</Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status, headers, f'<?xml version="1.0" encoding="UTF-8"?>{body}'.encode()


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # One request per connection, as moto does: no keep-alive to manage.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test's output stays readable; proxy.calls has the record

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            call = proxy.describe(self.command, self.path, self.headers, body)
            rule = proxy.decide(call)
            outcome = rule.outcome if rule else ""
            try:
                if outcome == "reset":
                    # Linger 0: close() sends RST instead of FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                elif outcome == "close":
                    self.close_connection = True
                elif outcome in ("", "delay"):
                    if rule:
                        time.sleep(rule.delay)
                    self._forward(call, body)
                else:
                    self._reply(*_error_response(call, outcome))
            except OSError:
                pass  # the client gave up (its read timeout) or we reset it

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

        def _forward(self, call: Call, body: bytes) -> None:
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
            try:
                upstream.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.endheaders(body or None)
                response = upstream.getresponse()
                data = response.read()
                headers = [
                    (k, v)
                    for k, v in response.getheaders()
                    if k.lower() not in _HOP_BY_HOP
                    and (k.lower() != "content-length" or self.command == "HEAD")
                ]
            finally:
                upstream.close()
            data = proxy.learn(call, body, data)
            self._reply(response.status, headers, data)

        def _reply(self, status: int, headers, body: bytes) -> None:
            self.send_response_only(status)
            items = headers.items() if isinstance(headers, dict) else headers
            for name, value in items:
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler


# -- A real Celery worker ----------------------------------------------------------


class CeleryWorker:
    """A ``celery worker`` subprocess on Redis, under a key prefix of its own.

    It runs in its own process group, so ``kill()`` (SIGKILL) takes the pool's
    children with it, as a lost host or an OOM kill would. Its output goes to
    ``test-artifacts/<name>-<pid>.log``. ``env`` adds to (or overrides) the
    environment, e.g. ``{"PARAPET_AWS_MAX_ATTEMPTS": "4"}``.
    """

    def __init__(
        self,
        *,
        aws_endpoint: str,
        database_url: str,
        redis_url: str = REDIS_URL,
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        name: str = "worker",
        queues: str | None = "default,collect",
    ) -> None:
        self.prefix = f"parapet-test-{os.getpid()}-{time.time_ns()}:"
        self.redis_url = redis_url
        self.concurrency = concurrency
        self.queues = queues  # as for -Q; None: the worker's own choice (all)
        self.env = {
            **os.environ,
            "PARAPET_REDIS_KEY_PREFIX": self.prefix,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}-{os.getpid()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "CeleryWorker":
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    *(["-Q", self.queues] if self.queues else []),
                    "--concurrency",
                    str(self.concurrency),
                    "-l",
                    "info",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the worker logs that it consumes tasks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_text():
                return
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log_path}")
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 15) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it does not exit in time."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once."""
        if not self.process:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self) -> "CeleryWorker":
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "CeleryWorker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _reset_producer(app) -> None:
    """Make the producer side reconnect with the broker now configured, and the
    result backend (where a chord keeps its size, and ``get()`` waits) be
    built again from the backend now configured."""
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@contextmanager
def use_broker(worker: CeleryWorker) -> Iterator[None]:
    """Send this process's tasks to ``worker`` (its Redis and key prefix)."""
    from config.celery import app

    names = (
        "broker_url",
        "result_backend",
        "task_always_eager",
        "broker_transport_options",
        "result_backend_transport_options",
    )
    saved = {name: app.conf[name] for name in names}
    app.conf.update(
        broker_url=worker.redis_url,
        result_backend=worker.redis_url,
        task_always_eager=False,
        broker_transport_options={
            **app.conf.broker_transport_options,
            "global_keyprefix": worker.prefix,
        },
        result_backend_transport_options={"global_keyprefix": worker.prefix},
    )
    _reset_producer(app)
    try:
        yield
    finally:
        app.conf.update(saved)
        _reset_producer(app)


# -- A small organization ----------------------------------------------------------


@dataclass
class SimulatedOrg:
    """What ``seed_small_org`` created in moto."""

    management_id: str
    member_ids: list[str]
    regions: tuple[str, ...]


def _member_client(endpoint: str, account_id: str, service: str, region: str):
    creds = boto3.client(
        "sts", endpoint_url=endpoint, region_name="us-east-1"
    ).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="parapet-test-seed",
    )["Credentials"]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def seed_small_org(
    endpoint: str, *, regions: tuple[str, ...] = ("us-east-1", "us-west-2")
) -> SimulatedOrg:
    """A moto organization of two member accounts, each with a bucket, a user
    with an access key, and a security group open to the world per region.

    Seeds ``endpoint`` directly (the moto server, not the proxy): once per
    moto server, as moto has one organization per management account.
    """
    orgs = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1")
    orgs.create_organization(FeatureSet="ALL")
    member_ids = []
    for name in ("prod", "dev"):
        created = orgs.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = created["CreateAccountStatus"]["AccountId"]
        member_ids.append(account_id)
        s3 = _member_client(endpoint, account_id, "s3", "us-east-1")
        s3.create_bucket(Bucket=f"parapet-faults-{account_id}")
        iam = _member_client(endpoint, account_id, "iam", "us-east-1")
        iam.create_user(UserName="deployer")
        iam.create_access_key(UserName="deployer")
        for region in regions:
            ec2 = _member_client(endpoint, account_id, "ec2", region)
            group = ec2.create_security_group(
                GroupName="open-ssh", Description="ssh from anywhere"
            )
            ec2.authorize_security_group_ingress(
                GroupId=group["GroupId"],
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )
    management_id = orgs.describe_organization()["Organization"]["MasterAccountId"]
    return SimulatedOrg(management_id, member_ids, regions)


def register_organization(
    simulated: SimulatedOrg, *, services: tuple[str, ...] = ("s3", "iam", "ec2")
):
    """The simulated organization in Parapet, its accounts discovered.

    The management account is registered but not scanned: a scan covers the
    two members, so at most 2 x len(services) x len(regions) units.
    """
    from accounts.discovery import discover_accounts
    from accounts.models import Account, Organization

    organization = Organization.objects.create(
        name="Simulated organization",
        management_account_id=simulated.management_id,
        member_role_name="OrganizationAccountAccessRole",
        external_id="parapet-faults",
        regions=list(simulated.regions),
        services=list(services),
        simulated=True,
    )
    discover_accounts(organization)
    Account.objects.filter(
        organization=organization, account_id=simulated.management_id
    ).update(enabled=False)
    return organization


def run_scan(organization, *, timeout: float = 120):
    """Plan a scan of ``organization``, let the worker run it, return it done."""
    from collectors.pipeline import plan_scan, wait_for_scan

    scan = wait_for_scan(plan_scan(organization), timeout=timeout, poll=0.2)
    assert scan.is_done, f"{scan} still {scan.status} after {timeout}s"
    return scan
