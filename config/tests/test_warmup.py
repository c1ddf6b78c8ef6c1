"""A web process starts with its views and templates loaded and frozen, so
full garbage collections during requests skip them; a Celery worker parses
the collectors' botocore models before it forks (config/warmup.py)."""

import json
import re

from config.tests import probe

ROOT = probe.ROOT


PROBE = """
import gc
import config.wsgi
from django.template import engines
loader = engines["django"].engine.template_loaders[0]
print(gc.get_freeze_count(), len(gc.get_objects()), len(loader.get_template_cache))
"""


def test_the_wsgi_application_starts_warm_and_frozen():
    frozen, tracked, templates = map(int, probe.run(PROBE).split())
    # Everything loaded at start-up is out of the collector's way...
    assert frozen > 50_000
    assert tracked < 5_000
    # ...including every page's templates, compiled once.
    assert templates >= len(list((ROOT / "templates").rglob("*.html")))


WORKER_PROBE = """
import gc, json
import django
django.setup()
from celery import signals
from config.celery import app
from accounts import aws
from collectors.base import CLIENT_SERVICES
signals.worker_init.send(sender=None)
cached = aws._loader._cache
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "parsed": sorted({key[1] for key in cached if key[0] == "load_service_model"
                      and key[2] == "service-2"}),
    "services": sorted({*CLIENT_SERVICES, "sts"}),
    "classes": sorted(name for name, version in aws._client_classes),
}))
"""


def test_a_worker_parses_the_collectors_models_and_builds_their_clients_classes():
    found = json.loads(probe.run(WORKER_PROBE).strip().splitlines()[-1])
    assert found["parsed"] == found["services"]
    assert found["classes"] == found["services"]
    assert found["frozen"] > 100_000  # the models with the rest, for every child


def test_every_client_the_collectors_make_is_preloaded():
    """CLIENT_SERVICES names each service ``client("…")`` is asked for."""
    from collectors.base import CLIENT_SERVICES

    code = "".join(
        path.read_text()
        for path in (ROOT / "collectors").rglob("*.py")
        if "tests" not in path.parts
    )
    asked = set(re.findall(r'client\(\s*"([a-z0-9-]+)"', code))
    assert asked == set(CLIENT_SERVICES)
