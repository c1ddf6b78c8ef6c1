from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from findings import digests
from findings.digest_content import build_content


class Command(BaseCommand):
    help = (
        "Send the email digests that are due now, as the hourly beat task does. "
        "Each user gets one digest per period, however often this runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user",
            action="append",
            metavar="U",
            help="only this user (username or email); repeat for several",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="show who would get which digest; claim and send nothing",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="ignore the schedule: send each digest for a period ending now",
        )

    def handle(self, *args, **opts):
        users = self._users(opts["user"]) if opts["user"] else None
        now = timezone.now()
        due = digests.due_digests(now, users=users, force=opts["now"])
        if users is not None:
            subscribed = {d.subscription.user_id for d in due}
            active = set(
                digests.active_subscriptions(users).values_list("user_id", flat=True)
            )
            for user in users:
                if user.pk not in active:
                    self.stderr.write(f"{user}: no active digest subscription")
                elif user.pk not in subscribed:
                    self.stdout.write(f"{user}: not due now (--now sends anyway)")
        if not due:
            self.stdout.write("No digest is due.")
            return
        if opts["dry_run"]:
            for item in due:
                self._preview(item)
            self.stdout.write(f"{len(due)} digest(s) due; nothing sent (--dry-run).")
            return

        outcome: Counter[str] = Counter()
        for item in due:
            row = digests.claim(item)
            if row is None:
                found = digests.existing(item)
                status = found.get_status_display() if found else "taken"
                self.stdout.write(f"{self._label(item)}  already claimed ({status})")
                outcome["already"] += 1
                continue
            try:
                status = digests.deliver(row.pk)
            except digests.TransientSendError as exc:
                status = "failed"
                self.stderr.write(f"{self._label(item)}  failed: {exc}")
            else:
                self.stdout.write(f"{self._label(item)}  {status}")
            outcome[status] += 1
        self.stdout.write(
            ", ".join(f"{n} {status}" for status, n in sorted(outcome.items()))
        )
        if outcome["failed"]:
            raise CommandError(f"{outcome['failed']} digest(s) could not be sent")

    def _users(self, names: list[str]) -> list:
        found = []
        model = get_user_model()
        for name in names:
            user = model.objects.filter(
                Q(username=name) | Q(email__iexact=name)
            ).first()
            if user is None:
                raise CommandError(f"No user {name!r}")
            found.append(user)
        return found

    def _label(self, item: digests.Due) -> str:
        sub = item.subscription
        zone = sub.zone
        start = item.start.astimezone(zone)
        end = item.end.astimezone(zone)
        return (
            f"{sub.user} <{sub.user.email or 'no email'}>  {sub.frequency}  "
            f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} {sub.timezone}"
        )

    def _preview(self, item: digests.Due) -> None:
        found = digests.existing(item)
        if found is not None:
            status = found.get_status_display()
            self.stdout.write(f"{self._label(item)}  already claimed ({status})")
            return
        content = build_content(item.subscription, item.start, item.end)
        self.stdout.write(f"{self._label(item)}  would send")
        self.stdout.write(f"    {digests.subject_for(content)}")
        if content.is_empty:
            self.stdout.write(f"    {content.empty_line}")
        else:
            self.stdout.write(
                f"    {content.new_failures.total} new failures, "
                f"{content.resolved.total} resolved, "
                f"{len(content.gaps) + content.more_gaps} gap(s)"
            )
