"""Starting an organization's scans: on demand and on its schedule, never two at once.

Every organization has a django-celery-beat ``PeriodicTask`` (with a
``CrontabSchedule``) that runs ``collectors.scheduled_scan``: created daily at
02:00 UTC with the organization, editable on the schedule page and in the
admin (Periodic tasks). A start while a scan of the organization is still
pending, running or evaluating starts nothing: a manual start is refused, a
scheduled one is recorded as a skipped scan so the history says why.
"""

import json
import logging
import math
import zoneinfo
from datetime import UTC, datetime

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat import validators
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import Organization
from collectors.models import Scan
from collectors.pipeline import ScanError, plan_scan

log = logging.getLogger(__name__)

TASK = "collectors.scheduled_scan"
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"
# The five fields of a cron expression, in cron's order, as CrontabSchedule
# names them, with the label a person reads and django-celery-beat's check.
CRON_FIELDS = (
    ("minute", "minute", validators.minute_validator),
    ("hour", "hour", validators.hour_validator),
    ("day_of_month", "day of month", validators.day_of_month_validator),
    ("month_of_year", "month", validators.month_of_year_validator),
    ("day_of_week", "day of week", validators.day_of_week_validator),
)


class ScanBusy(Exception):
    """A scan of the organization is still in progress."""

    def __init__(self, active: Scan):
        self.active = active
        super().__init__(
            f"Scan #{active.pk} of {active.organization} is still "
            f"{active.get_status_display().lower()}."
        )


# -- Starting scans ----------------------------------------------------------------


def start_scan_unless_busy(
    organization_id: int, *, trigger: str, user=None, **scope
) -> Scan:
    """Plan a scan of the organization, or raise ScanBusy if one is active.

    The organization's row lock serialises concurrent starts (two beats, a
    double click): the second waits, then sees the first scan. The partial
    unique constraint on Scan is the backstop for callers that skip this.
    """
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=organization_id)
        active = (
            Scan.objects.filter(
                organization=organization, status__in=Scan.ACTIVE_STATUSES
            )
            .select_related("organization")
            .first()
        )
        if active:
            raise ScanBusy(active)
        return plan_scan(organization, trigger=trigger, user=user, **scope)


def run_scheduled_scan(organization_id: int) -> str:
    """What the beat entry does: start a scan, or record why none started."""
    try:
        scan = start_scan_unless_busy(organization_id, trigger=Scan.Trigger.SCHEDULED)
    except Organization.DoesNotExist:
        return "not started: no such organization"
    except ScanBusy as busy:
        _record_not_started(
            busy.active.organization,
            Scan.Status.SKIPPED,
            f"Scan #{busy.active.pk} was still running "
            f"({busy.active.get_status_display().lower()}).",
        )
        return f"skipped: scan #{busy.active.pk} still active"
    except ScanError as exc:
        organization = Organization.objects.get(pk=organization_id)
        _record_not_started(organization, Scan.Status.FAILED, f"Not started: {exc}.")
        log.warning("scheduled scan of %s not started: %s", organization, exc)
        return f"not started: {exc}"
    return f"started scan #{scan.pk}"


def _record_not_started(organization: Organization, status: str, message: str) -> Scan:
    """A scan row without units: the history shows the start that did not run."""
    now = timezone.now()
    return Scan.objects.create(
        organization=organization,
        status=status,
        trigger=Scan.Trigger.SCHEDULED,
        started_at=now,
        finished_at=now,
        message=message,
    )


# -- The beat entry of each organization -------------------------------------------


def task_name(organization_id: int) -> str:
    """Stable (unlike the organization's name): the PeriodicTask is found by it."""
    return f"Scheduled scan of organization #{organization_id}"


def schedules_for(organization_ids) -> dict[int, PeriodicTask]:
    """The beat entry of each organization that has one, in one query."""
    names = {task_name(pk): pk for pk in organization_ids}
    tasks = PeriodicTask.objects.filter(name__in=names).select_related("crontab")
    return {names[task.name]: task for task in tasks}


def schedule_of(organization: Organization) -> PeriodicTask | None:
    return schedules_for([organization.pk]).get(organization.pk)


def create_default_schedule(organization: Organization) -> PeriodicTask:
    """Daily at 02:00 UTC, enabled (a new organization's default)."""
    return save_schedule(organization, DEFAULT_CRON, DEFAULT_TIMEZONE, enabled=True)


def save_schedule(
    organization: Organization, cron: str, tz: str, *, enabled: bool
) -> PeriodicTask:
    """Point the organization's beat entry at this cron expression and zone.

    Crontab rows are shared between tasks in django-celery-beat, so an
    existing row is reused and never edited in place.
    """
    fields = parse_cron(cron)
    with transaction.atomic():
        crontab_row = CrontabSchedule.objects.filter(**fields, timezone=tz).first()
        if crontab_row is None:
            crontab_row = CrontabSchedule.objects.create(
                **fields, timezone=zoneinfo.ZoneInfo(tz)
            )
        task, _ = PeriodicTask.objects.update_or_create(
            name=task_name(organization.pk),
            defaults={
                "task": TASK,
                "kwargs": json.dumps({"organization_id": organization.pk}),
                "crontab": crontab_row,
                "interval": None,
                "enabled": enabled,
                "queue": "default",
                "description": f"Scans {organization.name}. A start while a scan "
                "of it is in progress is skipped and recorded "
                "(collectors/schedule.py).",
            },
        )
    return task


def delete_schedule(organization_id: int) -> None:
    PeriodicTask.objects.filter(name=task_name(organization_id)).delete()


def cron_expression(crontab_row: CrontabSchedule) -> str:
    return " ".join(getattr(crontab_row, field) for field, _, _ in CRON_FIELDS)


def parse_cron(expression: str) -> dict[str, str]:
    """'0 2 * * *' -> CrontabSchedule fields; ValidationError names what is wrong."""
    values = expression.split()
    if len(values) != len(CRON_FIELDS):
        raise ValidationError(
            "A cron expression has 5 fields separated by spaces: minute, hour, "
            "day of month, month, day of week (for example “0 2 * * *” is "
            f"02:00 every day). This one has {len(values)}."
        )
    problems = []
    for value, (_, label, check) in zip(values, CRON_FIELDS, strict=True):
        try:
            check(value)
        except ValidationError as exc:
            problems.append(f"the {label} “{value}” is not valid ({exc.messages[0]})")
    if problems:
        raise ValidationError("In this cron expression " + "; ".join(problems) + ".")
    fields = {
        field: value for value, (field, _, _) in zip(values, CRON_FIELDS, strict=True)
    }
    try:
        # What beat itself will parse; stricter than the field checks on
        # some combinations.
        crontab(**fields)
    except ValueError as exc:
        raise ValidationError(f"This schedule cannot run: {exc}.") from None
    return fields


def next_run(task: PeriodicTask | None, now: datetime | None = None) -> datetime | None:
    """When beat will next start the task (UTC, to the minute); None if off."""
    if task is None or not task.enabled or task.crontab is None:
        return None
    cron = task.crontab.schedule
    # Celery counts the time left from its own clock: after ``now`` it is
    # (first run after now) - (cron's now).
    estimate = cron.now() + cron.remaining_estimate(now or cron.now())
    # Celery answers a microsecond before the minute; round to the minute.
    minutes = math.floor(estimate.timestamp() / 60 + 0.5)
    return datetime.fromtimestamp(minutes * 60, tz=UTC)
