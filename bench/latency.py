"""A fixed delay before every AWS request, added by the benchmark only.

Real AWS answers in tens to hundreds of milliseconds; moto on loopback in
about one. The delay is a botocore ``before-send`` hook on every session
Parapet creates (``accounts.aws.new_session``), so it applies to every call
and retry of the scanning code, and to nothing else. Patching happens in the
benchmark's own processes (and in Celery workers it starts), never in the
product.
"""

import time
from functools import partial

from accounts import aws


def install(seconds: float) -> None:
    """Delay every request of sessions created from now on by ``seconds``."""
    original = getattr(aws.new_session, "bench_original", aws.new_session)
    if seconds <= 0:
        aws.new_session = original
        return

    def new_session(*args, **kwargs):
        session = original(*args, **kwargs)
        session.events.register("before-send", partial(_sleep, seconds))
        return session

    new_session.bench_original = original  # type: ignore[attr-defined]
    aws.new_session = new_session
    aws.forget_credentials()  # cached sessions were made without the delay


def _sleep(seconds: float, **kwargs) -> None:
    time.sleep(seconds)
