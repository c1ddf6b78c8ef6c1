"""Celery tasks: thin wrappers with stable names that take ids."""

from celery import shared_task

from collectors import pipeline, recovery, schedule

# A database restart or a killed connection: try again after 2, 4, 8 ... s.
DATABASE_RETRIES = 6


def _redelivered(task) -> bool:
    """The broker sent this message again: its first delivery may have died."""
    return bool((task.request.delivery_info or {}).get("redelivered"))


@shared_task(name="collectors.start_scan", acks_late=True)
def start_scan(scan_id: int) -> None:
    pipeline.start_scan(scan_id)


@shared_task(name="collectors.run_unit", acks_late=True, bind=True, max_retries=None)
def run_unit(self, unit_id: int, takeover: bool = False) -> str:
    """Collect one unit. A redelivery (or a retry) waits for the unit's worker
    to stop beating before it takes over; see ``pipeline.run_unit``."""
    takeover = takeover or _redelivered(self)
    try:
        return pipeline.run_unit(unit_id, takeover=takeover)
    except pipeline.UnitBusy as busy:
        raise self.retry(
            kwargs={"unit_id": unit_id, "takeover": True}, countdown=busy.retry_in
        ) from None
    except pipeline.DATABASE_ERRORS as exc:
        if self.request.retries >= DATABASE_RETRIES:
            raise
        raise self.retry(
            exc=exc,
            kwargs={"unit_id": unit_id, "takeover": True},
            countdown=2 ** (self.request.retries + 1),
        ) from None


@shared_task(
    name="collectors.finish_scan",
    acks_late=True,
    autoretry_for=pipeline.DATABASE_ERRORS,
    max_retries=DATABASE_RETRIES,
    retry_backoff=2,
)
def finish_scan(scan_id: int) -> None:
    pipeline.finish_scan(scan_id)


@shared_task(name="collectors.reap_stuck_units")
def reap_stuck_units() -> str:
    """Run by beat every 5 minutes (collectors/migrations/0004)."""
    reaped = recovery.reap_stuck_units()
    return (
        f"{reaped.units_failed} units failed, scans finished "
        f"{reaped.scans_finished}, restarted {reaped.scans_restarted}, "
        f"{reaped.units_resent} units sent again"
    )


@shared_task(name="collectors.scheduled_scan")
def scheduled_scan(organization_id: int) -> str:
    """Run by each organization's beat entry (collectors/schedule.py)."""
    return schedule.run_scheduled_scan(organization_id)
