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


@shared_task(name="findings.warm_dashboard", acks_late=True)
def warm_dashboard(organization_id: int) -> int:
    """After a scan: the overview's figures, ahead of their first reader."""
    from accounts.models import Organization
    from findings import dashboard

    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    return dashboard.warm(organization)


# -- Exceptions (findings/suppressions.py) -------------------------------------------


@shared_task(name="findings.recount_exception", acks_late=True)
def recount_exception(suppression_id: int) -> int:
    """Move the current counts after an exception was created, changed,
    revoked or expired. Idempotent: it recounts from the findings."""
    from findings import suppressions
    from findings.models import Suppression

    suppression = Suppression.objects.filter(pk=suppression_id).first()
    if suppression is None:
        return 0
    return suppressions.recount_for(suppression)


@shared_task(name="findings.expire_exceptions", acks_late=True)
def expire_exceptions() -> int:
    """Beat, every 10 minutes: log each expiry once and recount."""
    from findings import suppressions

    return suppressions.expire_due()


# -- Retention (findings/retention.py) -----------------------------------------------


@shared_task(name="findings.prune_history", acks_late=True)
def prune_history() -> dict[str, int]:
    """Beat, daily at 03:30 UTC: prune raw history past PARAPET_RETENTION_DAYS.

    Idempotent, so a redelivered run only finds less to delete.
    """
    from findings import retention

    return retention.prune().as_dict()
