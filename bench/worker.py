"""A Celery worker for the benchmark: the product's worker plus the AWS latency.

``python -m bench.worker NAME CONCURRENCY [QUEUES]`` with ``BENCH_LATENCY_MS``,
``REDIS_URL``, ``PARAPET_REDIS_KEY_PREFIX`` and ``DATABASE_URL`` in the
environment; QUEUES as for ``celery worker -Q`` (both of Parapet's unless
given). The prefork pool forks after the latency hook is installed, so
every pool process carries it.
"""

import os
import sys


def main() -> None:
    name, concurrency = sys.argv[1], sys.argv[2]
    queues = sys.argv[3] if len(sys.argv) > 3 else "default,collect"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from bench import latency
    from config.celery import app

    latency.install(int(os.environ["BENCH_LATENCY_MS"]) / 1000)
    app.worker_main(
        [
            "worker",
            "-Q",
            queues,
            f"--concurrency={concurrency}",
            "-n",
            f"{name}@%h",
            "-l",
            "error",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
