"""Heartbeats of running scan units, and who owns a unit.

One setting, PARAPET_UNIT_HEARTBEAT_TIMEOUT (15 min by default), sets the pace:
a running unit beats every thirtieth of it (30 s), a redelivered unit takes
over after three missed beats (a tenth), and the reaper (collectors/recovery.py)
fails a unit silent for the whole timeout.
"""

import time
from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from collectors.models import ScanUnit


class UnitLost(Exception):
    """This worker no longer owns the unit: the reaper failed it, or a
    redelivered task took it over. Whatever is left is not ours to write."""


def heartbeat_timeout() -> timedelta:
    """Silence after which a running unit's worker is taken to be gone."""
    return timedelta(seconds=settings.PARAPET_UNIT_HEARTBEAT_TIMEOUT)


def heartbeat_interval() -> float:
    return heartbeat_timeout().total_seconds() / 30


def takeover_after() -> timedelta:
    """Silence after which a redelivered unit may take over from its worker."""
    return heartbeat_timeout() / 10


class Heartbeat:
    """Refreshes a running unit's ``heartbeat_at`` as its records stream in.

    One clock read per record and one UPDATE per interval: cheap. The UPDATE
    is conditional on this worker still owning the unit (status running, same
    attempt), so a unit the reaper failed or another delivery took over stops
    here (``UnitLost``) instead of writing over the new owner.
    """

    def __init__(self, unit: ScanUnit) -> None:
        self.unit = unit
        self.every = heartbeat_interval()
        self.last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        if not owned(self.unit).update(heartbeat_at=timezone.now()):
            raise UnitLost(f"unit {self.unit.pk} is no longer this worker's")

    def stream(self, records: Iterable) -> Iterator:
        for record in records:
            self.beat()
            yield record


def owned(unit: ScanUnit) -> QuerySet:
    """The unit, if this worker's claim on it still holds."""
    return ScanUnit.objects.filter(
        pk=unit.pk, status=ScanUnit.Status.RUNNING, attempts=unit.attempts
    )
