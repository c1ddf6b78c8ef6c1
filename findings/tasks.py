"""Celery tasks: thin wrappers with stable names that take ids."""

from celery import shared_task

from findings import digests


@shared_task(name="findings.send_due_digests", acks_late=True)
def send_due_digests() -> int:
    """Beat, hourly: claim the digests due and enqueue one send for each."""
    return len(digests.plan_due())


@shared_task(
    name="findings.send_digest",
    acks_late=True,
    autoretry_for=(digests.TransientSendError,),
    max_retries=digests.MAX_ATTEMPTS - 1,
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
)
def send_digest(digest_id: int) -> str:
    return digests.deliver(digest_id)
