"""Start-up of a web process or a worker: load what requests and tasks
would load on first use, then keep it out of the garbage collector's way.

Once its URLs, views and templates are loaded a web process holds about
140,000 objects, and a full collection walks all of them: 100 to 250 ms on
a shared 2-core machine. One landed on a request every few dozen, and those
were the slowest requests of every page (figure 5 of ``make bench``).
``gc.freeze()`` moves what exists after start-up to a permanent generation
that collections skip; what requests create is collected as before.

``collector_paused`` keeps the collector out of the way of work that builds
many containers without cycles, such as an evaluation batch.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.template.loader import get_template
from django.urls import get_resolver


def prepare() -> int:
    """Import every view, compile every template of ``templates/``, then
    freeze; the number of objects frozen."""
    get_resolver().url_patterns  # noqa: B018 - imports the views' modules
    root = settings.BASE_DIR / "templates"
    for path in sorted(root.rglob("*.html")):
        get_template(path.relative_to(root).as_posix())
    return _freeze()


def prepare_worker() -> int:
    """Before a Celery worker forks its pool: parse the botocore models the
    collectors use, then freeze; the number of objects frozen.

    Each pool process would otherwise parse its own copy on its first units
    (half a second of CPU per process, tens of megabytes each); forked after,
    they share the parent's pages until they write to them, and the freeze
    keeps collections from touching (and so copying) them.
    """
    from accounts.aws import preload
    from collectors.base import CLIENT_SERVICES

    preload(CLIENT_SERVICES)
    return _freeze()


def _freeze() -> int:
    """What exists now out of the collector's way; the number of objects."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block, as it was after.

    A collection starts every 700 new containers (rows, parsed configurations,
    views, results), and every so often one walks all the process holds. One
    evaluation of figure 4's 50-account scan spent 284 of its 937 ms of CPU
    in 246 collections (215 ms in the 2 full ones) that freed nothing: what
    it builds has no reference cycles. What the block frees is freed by
    reference counting as ever; only cycles wait for the next collection
    after the block.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
