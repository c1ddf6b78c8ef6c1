"""Scheduled email digests: who is due, claiming, sending and unsubscribing.

Every hour beat runs ``findings.send_due_digests`` (``plan_due``): each active
subscription whose send time has passed within ``CATCH_UP`` gets a
``SentDigest`` row for (user, frequency, period end), created under a unique
constraint, and one ``findings.send_digest`` task per new row. ``deliver``
then claims the row for sending with a conditional update, builds the content
(``findings.digest_content``), sends it and records the outcome. A second beat
tick, a duplicated or retried task, or two workers at once find the row taken
and send nothing; a transient SMTP failure leaves it FAILED, which the task's
retry may claim again.

What a digest says is in ``findings.digest_content``; this module is delivery.
"""

import logging
import re
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from findings.digest_blocks import DigestContent
from findings.digest_content import absolute, build_content
from findings.models import DigestSubscription, SentDigest
from findings.templatetags.parapet import pct

logger = logging.getLogger(__name__)

#: A send time missed by more than this (beat was down) is skipped, not sent late.
CATCH_UP = timedelta(hours=6)
#: A row SENDING for longer than this belongs to a worker that died.
LEASE = timedelta(minutes=15)
#: Attempts per digest, the first included (the task retries the rest).
MAX_ATTEMPTS = 6
UNSUBSCRIBE_SALT = "parapet.digests.unsubscribe"

Status = SentDigest.Status


class TransientSendError(Exception):
    """The mail server or the network failed in a way a retry may fix."""


# -- Who is due ------------------------------------------------------------------------


@dataclass
class Due:
    subscription: DigestSubscription
    start: datetime
    end: datetime
    trigger: str

    @property
    def user(self):
        return self.subscription.user


def active_subscriptions(users: Iterable | None = None) -> QuerySet:
    subscriptions = DigestSubscription.objects.filter(
        user__isnull=False, active=True, user__is_active=True
    ).select_related("user")
    if users is not None:
        subscriptions = subscriptions.filter(user__in=list(users))
    return subscriptions.order_by("pk")


def period_for(
    subscription: DigestSubscription, now: datetime, *, force: bool
) -> tuple[datetime, datetime] | None:
    if force:
        # An operator's "send it now": the period ends now (to the minute) and
        # is as long as the subscription's, by the local calendar.
        end = now.replace(second=0, microsecond=0)
        local = end.astimezone(subscription.zone)
        start = (local - subscription.period).astimezone(UTC)
    else:
        end = subscription.latest_slot(now)
        if now - end > CATCH_UP:
            return None
        start = subscription.previous_slot(end)
    # "Since the previous digest": a digest of this period's later part went
    # out already (the schedule changed, or an operator sent one by hand).
    previous = (
        SentDigest.objects.filter(
            user_id=subscription.user_id,
            period_end__gt=start,
            period_end__lt=end,
            status__in=[Status.SENT, Status.EMPTY],
        )
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )
    return (previous or start), end


def due_digests(
    now: datetime | None = None,
    *,
    users: Iterable | None = None,
    force: bool = False,
) -> list[Due]:
    """Subscriptions whose digest is due at ``now`` (every one with ``force``)."""
    now = now or timezone.now()
    trigger = SentDigest.Trigger.MANUAL if force else SentDigest.Trigger.SCHEDULED
    found = []
    for subscription in active_subscriptions(users).iterator(chunk_size=500):
        period = period_for(subscription, now, force=force)
        if period is not None:
            found.append(Due(subscription, *period, trigger))
    return found


def existing(due: Due) -> SentDigest | None:
    return SentDigest.objects.filter(
        user_id=due.subscription.user_id,
        frequency=due.subscription.frequency,
        period_end=due.end,
    ).first()


def claim(due: Due) -> SentDigest | None:
    """The period's row, if this caller created it; None if someone else did."""
    try:
        with transaction.atomic():
            return SentDigest.objects.create(
                user_id=due.subscription.user_id,
                subscription=due.subscription,
                frequency=due.subscription.frequency,
                trigger=due.trigger,
                period_start=due.start,
                period_end=due.end,
                to_address=due.user.email,
            )
    except IntegrityError:
        return None


def unfinished() -> list[int]:
    """Rows claimed but never finished (a lost task, a killed worker).

    By the wall clock, whatever moment the run plans for: the lease is
    about workers, not about the schedule.
    """
    now = timezone.now()
    return list(
        SentDigest.objects.filter(
            status__in=[Status.PENDING, Status.SENDING],
            updated_at__lt=now - LEASE,
            created_at__gt=now - CATCH_UP - timedelta(days=1),
            attempts__lt=MAX_ATTEMPTS,
        ).values_list("pk", flat=True)
    )


def enqueue(digest_id: int) -> None:
    from findings.tasks import send_digest

    try:
        send_digest.delay(digest_id)
    except Exception:
        # In-process (eager) mode a failure surfaces here; one user's failed
        # digest must not stop the others'. It stays FAILED, with its error.
        logger.exception("Digest %s could not be sent", digest_id)


def plan_due(now: datetime | None = None) -> list[int]:
    """The hourly run: claim every due digest and enqueue a send for each."""
    now = now or timezone.now()
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        logger.info("EMAIL_HOST is not set: digests are written to the console")
    claimed = [row.pk for due in due_digests(now) if (row := claim(due))]
    retry = unfinished()
    for digest_id in claimed + retry:
        transaction.on_commit(lambda pk=digest_id: enqueue(pk))
    if claimed or retry:
        logger.info("Digests due: %d new, %d to finish", len(claimed), len(retry))
    return claimed + retry


# -- Sending ---------------------------------------------------------------------------


def _finish(digest_id: int, status: str, **fields) -> None:
    SentDigest.objects.filter(pk=digest_id).update(
        status=status, updated_at=timezone.now(), **fields
    )


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer (bad recipient, rejected message): retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False  # often a server-side hiccup; the retries are bounded
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def _describe(exc: Exception) -> str:
    # SMTP errors carry the server's answer, never our credentials.
    return f"{type(exc).__name__}: {exc}"[:2000]


def deliver(digest_id: int) -> str:
    """Send one claimed digest, exactly once; returns the row's final status.

    Raises TransientSendError after recording a retryable failure, so the
    task can retry; a permanent failure is recorded and not raised.
    """
    now = timezone.now()
    claimable = Q(status__in=[Status.PENDING, Status.FAILED]) | Q(
        status=Status.SENDING, updated_at__lt=now - LEASE
    )
    taken = SentDigest.objects.filter(claimable, pk=digest_id).update(
        status=Status.SENDING, attempts=F("attempts") + 1, updated_at=now, error=""
    )
    if taken != 1:
        state = (
            SentDigest.objects.filter(pk=digest_id)
            .values_list("status", flat=True)
            .first()
        )
        logger.info("Digest %s not claimed (status %s)", digest_id, state)
        return state or "missing"

    digest = SentDigest.objects.select_related("user", "subscription").get(pk=digest_id)
    user, subscription = digest.user, digest.subscription
    skip = ""
    if subscription is None or not subscription.active:
        skip = "unsubscribed"
    elif not user.is_active:
        skip = "user deactivated"
    elif not user.email:
        skip = "the user has no email address"
    if skip:
        _finish(digest_id, Status.SKIPPED, error=skip)
        return Status.SKIPPED

    try:
        content = build_content(subscription, digest.period_start, digest.period_end)
        if content.is_empty and not settings.DIGEST_SEND_EMPTY:
            _finish(digest_id, Status.EMPTY)
            return Status.EMPTY
        message = build_message(digest, content)
    except Exception as exc:
        _finish(digest_id, Status.FAILED, error=_describe(exc))
        raise

    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        _finish(digest_id, Status.FAILED, error=_describe(exc))
        permanent = _is_permanent(exc)
        logger.warning(
            "Digest %s to user %s failed (attempt %d, %s): %s",
            digest_id,
            user.pk,
            digest.attempts,
            "permanent" if permanent else "will retry",
            _describe(exc),
        )
        if permanent:
            return Status.FAILED
        raise TransientSendError(_describe(exc)) from exc
    _finish(
        digest_id,
        Status.SENT,
        sent_at=timezone.now(),
        subject=message.subject[:300],
        to_address=user.email,
        error="",
    )
    logger.info("Digest %s sent to user %s", digest_id, user.pk)
    return Status.SENT


# -- The message -----------------------------------------------------------------------


def _site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def unsubscribe_url(subscription: DigestSubscription) -> str:
    return absolute(
        reverse("findings:digest_unsubscribe", args=[unsubscribe_token(subscription)])
    )


def subject_for(content: DigestContent) -> str:
    subscription = content.subscription
    when = content.period_end.astimezone(subscription.zone)
    kind = subscription.get_frequency_display().lower()
    head = f"Parapet {kind} digest, {when:%a %d %b}"
    if content.is_empty:
        return f"{head}: nothing new"
    parts = []
    overall = content.overall
    if overall.rate_after is not None:
        # Plain ASCII: some clients mangle encoded subjects.
        moved = ""
        if overall.direction in {"up", "down"}:
            moved = f" ({overall.direction} {abs(overall.delta) * 100:.1f} pts)"
        parts.append(f"{pct(overall.rate_after)}{moved}")
    failures = content.new_failures.total
    if failures:
        parts.append(f"{failures} new failure{'s' if failures != 1 else ''}")
    if content.resolved.total:
        parts.append(f"{content.resolved.total} resolved")
    if content.gaps:
        parts.append("coverage gaps")
    return f"{head}: {', '.join(parts)}" if parts else head


def render(content: DigestContent, *, unsubscribe: str = "") -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a digest."""
    context = {
        "content": content,
        "subscription": content.subscription,
        "user": content.subscription.user,
        "unsubscribe_url": unsubscribe,
        "site_url": settings.SITE_URL,
        "tz": content.subscription.zone,
    }
    text = render_to_string("emails/digest.txt", context)
    # Template tags leave blank lines behind; a mail reader shows them all.
    text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()
    return (
        subject_for(content),
        text + "\n",
        render_to_string("emails/digest.html", context),
    )


def build_message(digest: SentDigest, content: DigestContent) -> EmailMultiAlternatives:
    link = unsubscribe_url(content.subscription)
    subject, text, html = render(content, unsubscribe=link)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.user.email],
        headers={
            # Stable per digest: a resend after a lost acknowledgement carries
            # the same id, so mail systems can recognise the duplicate.
            "Message-ID": f"<digest-{digest.pk}.{digest.user_id}@{_site_host()}>",
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# -- Unsubscribing ---------------------------------------------------------------------


def unsubscribe_token(subscription: DigestSubscription) -> str:
    # No timestamp: the same link in every digest, valid as long as the
    # subscription (and SECRET_KEY, or its fallbacks) exists.
    signer = signing.Signer(salt=UNSUBSCRIBE_SALT)
    return signer.sign_object([subscription.user_id, subscription.pk])


def subscription_for_token(token: str) -> DigestSubscription | None:
    """The subscription a signed link names; raises BadSignature if tampered."""
    user_id, pk = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    return DigestSubscription.objects.filter(pk=pk, user_id=user_id).first()


def unsubscribe(subscription: DigestSubscription) -> bool:
    """Switch a subscription off; False if it already was."""
    return bool(
        DigestSubscription.objects.filter(pk=subscription.pk, active=True).update(
            active=False, updated_at=timezone.now()
        )
    )


# -- Team defaults ---------------------------------------------------------------------

_COPIED = ("active", "frequency", "hour", "weekday", "timezone", "min_severity")


def apply_team_default(team_id: int, user_id: int) -> DigestSubscription | None:
    """Subscribe a new team member with the team's default, if it has one.

    A user without a subscription gets a copy scoped to the team; one whose
    subscription is already scoped to chosen teams gets this team added. A
    subscription covering everything, or chosen accounts only, is left alone.
    """
    default = DigestSubscription.objects.filter(
        default_for_team_id=team_id, active=True
    ).first()
    if default is None:
        return None
    with transaction.atomic():
        subscription, created = DigestSubscription.objects.get_or_create(
            user_id=user_id,
            defaults={
                **{name: getattr(default, name) for name in _COPIED},
                "sections": list(default.sections),
            },
        )
        if created or subscription.teams.exists():
            subscription.teams.add(team_id)
    return subscription


def subscribe_team_members(default: DigestSubscription) -> int:
    """Apply a team default to the team's current members; how many were new."""
    team = default.default_for_team
    if team is None:
        return 0
    have = set(
        DigestSubscription.objects.filter(user__in=team.members.all()).values_list(
            "user_id", flat=True
        )
    )
    added = 0
    for user_id in team.members.values_list("pk", flat=True):
        if user_id not in have and apply_team_default(team.pk, user_id):
            added += 1
    return added
