"""The simulated AWS behind ``make demo``: a moto server in this process.

moto reads its switches from the environment when it builds a backend (the
first request for an account and service), not when the server starts, so
they stay set for as long as the server runs. Every ThreadedMotoServer in one
process shares the same backends: one simulated AWS per process.
"""

import logging
import os
import urllib.request
from datetime import timedelta

from moto.server import ThreadedMotoServer

# Values moto needs for a realistic organization:
# - AWS managed policies (SecurityAudit, AWSSupportAccess …) must exist to be
#   attached;
# - without the default AMIs every account would own ~1,300 Amazon images.
MOTO_ENVIRONMENT = {
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}

# moto accepts any credentials; unknown keys act as the default account
# (123456789012), which the seed makes the organization's management account.
DEMO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",  # noqa: S105 - a placeholder moto ignores
}
DEMO_REGION = "us-east-1"
# Variables that would send boto3 elsewhere or attach other credentials.
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def start_moto_server(
    port: int = 0, *, quiet: bool = True
) -> tuple[ThreadedMotoServer, str]:
    """Start moto on 127.0.0.1 (a free port when ``port`` is 0).

    Returns the running server and its endpoint URL. Stop it with
    ``server.stop()``.
    """
    os.environ.update(MOTO_ENVIRONMENT)
    _load_managed_policies_in_aws_partition_only()
    if quiet:
        _quiet_simulator_console()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint = f"http://{host}:{bound_port}"
    # moto keeps its state in this process, shared by every server started in
    # it: a new server starts empty, whatever an earlier one simulated.
    reset_moto_server(endpoint)
    return server, endpoint


def _quiet_simulator_console() -> None:
    """Keep moto's own chatter off the demo console.

    werkzeug logs every request at INFO, and a traceback at ERROR for every
    call moto does not implement (Parapet records those as "unsupported by
    the simulator" gaps, which the scans page shows). For services it has no
    backend for at all, moto ``print``s a hint meant for its own developers;
    a module-level ``print`` shadows the builtin for that module only.
    """
    from moto.moto_server import werkzeug_app

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    werkzeug_app.print = lambda *args, **kwargs: None  # type: ignore[attr-defined]


def _load_managed_policies_in_aws_partition_only() -> None:
    """Skip loading ~1,600 AWS managed policies into partitions nobody uses.

    moto looks an access key up in every partition (aws, aws-cn, aws-us-gov,
    aws-iso …) of every account, building an IAM backend for each; with
    managed policies loaded each costs ~0.3 s, so an organization of five
    accounts spent most of its seed time there. The aws partition keeps them.
    Idempotent; it affects only moto running in this process.
    """
    from moto.iam.models import IAMBackend

    original = IAMBackend._init_aws_policies
    if getattr(original, "parapet_aws_partition_only", False):
        return

    def _init_aws_policies(self: IAMBackend) -> list:
        return original(self) if self.partition == "aws" else []

    _init_aws_policies.parapet_aws_partition_only = True  # type: ignore[attr-defined]
    IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]


def reset_moto_server(endpoint_url: str) -> None:
    """Forget every account, resource and organization the server holds."""
    # The URL is the simulator the caller started, never user input.
    url = f"{endpoint_url.rstrip('/')}/moto-api/reset"
    request = urllib.request.Request(url, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


class _EnvironmentPatch:
    """Applied on creation; restores the previous values on ``__exit__``."""

    def __init__(self, values: dict[str, str], cleared: tuple[str, ...]) -> None:
        names = [*values, *cleared]
        self._previous = {name: os.environ.get(name) for name in names}
        for name in cleared:
            os.environ.pop(name, None)
        os.environ.update(values)

    def restore(self) -> None:
        for name, value in self._previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def __enter__(self) -> "_EnvironmentPatch":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()


def use_endpoint(endpoint_url: str) -> _EnvironmentPatch:
    """Point boto3 (and so all of Parapet) at ``endpoint_url`` with fake keys.

    Sets ``AWS_ENDPOINT_URL``, placeholder base credentials and a default
    region in ``os.environ`` at once, for the rest of the process. Used as a
    context manager it puts the previous values back on exit::

        with use_endpoint(url):
            ...
    """
    values = {"AWS_ENDPOINT_URL": endpoint_url, **DEMO_CREDENTIALS}
    if not os.environ.get("AWS_DEFAULT_REGION"):
        values["AWS_DEFAULT_REGION"] = DEMO_REGION
    return _EnvironmentPatch(values, _CLEARED)


def backdate_iam_user(
    account_id: str,
    user_name: str,
    *,
    days: int,
    access_key_ids: tuple[str, ...] = (),
    user: bool = False,
) -> bool:
    """Make IAM state look ``days`` old; no AWS API can set these dates.

    Moves the creation date of the given access keys and, with ``user=True``,
    of the user itself (the credential report reports it as the password's
    last change). This reaches into moto's in-process backends, so it works
    only when the simulator runs in this process (``start_moto_server``);
    against a separate moto server it changes nothing and returns False.
    """
    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends

    # Membership test first: indexing a BackendDict would create a backend.
    if account_id not in iam_backends:
        return False
    backend = iam_backends[account_id]["aws"]
    found = backend.users.get(user_name)
    if found is None:
        return False
    when = utcnow() - timedelta(days=days)
    if user:
        found.create_date = when
    keys = {key.access_key_id: key for key in found.access_keys}
    for key_id in access_key_ids:
        if key_id in keys:
            keys[key_id].create_date = when
    return True
