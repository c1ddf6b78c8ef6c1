"""A Celery worker for the benchmark: the product's worker plus the AWS latency.

``python -m bench.worker NAME CONCURRENCY`` with ``BENCH_LATENCY_MS``,
``REDIS_URL``, ``PARAPET_REDIS_KEY_PREFIX`` and ``DATABASE_URL`` in the
environment. The prefork pool forks after the latency hook is installed, so
every pool process carries it.
"""

import os
import sys


def main() -> None:
    name, concurrency = sys.argv[1], sys.argv[2]
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
            "default,collect",
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
