"""Celery tasks: thin wrappers with stable names that take ids."""

from celery import shared_task

from collectors import pipeline


@shared_task(name="collectors.start_scan", acks_late=True)
def start_scan(scan_id: int) -> None:
    pipeline.start_scan(scan_id)


@shared_task(name="collectors.run_unit", acks_late=True)
def run_unit(unit_id: int) -> str:
    return pipeline.run_unit(unit_id)


@shared_task(name="collectors.finish_scan", acks_late=True)
def finish_scan(scan_id: int) -> None:
    pipeline.finish_scan(scan_id)
