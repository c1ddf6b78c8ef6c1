"""``python -m bench.collect_one UNIT_ID``: collect one unit, print peak RSS growth.

The child process of figure 7 (bench/unit_memory.py). It warms up first (the
EC2 service model, a database connection: costs every worker pays once), then
runs the unit as a worker would and prints one JSON line.
"""

import json
import os
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from accounts.aws import make_client, new_session
    from bench import rss
    from collectors.models import ScanUnit
    from collectors.pipeline import run_unit

    unit = ScanUnit.objects.get(pk=int(sys.argv[1]))
    make_client(new_session(), "ec2", unit.region).describe_regions()
    with rss.PeakGrowth() as growth:
        started = time.perf_counter()
        run_unit(unit.pk)
        elapsed = time.perf_counter() - started
    print(json.dumps({"growth": growth.bytes, "seconds": elapsed}))


if __name__ == "__main__":
    main()
