"""Email digests, delivered to a real SMTP server started by the test.

The world (``build_world``): alice sees payments-prod only, bob data-lake
only, root (staff) both. Between the two scans payments-prod went from 50% to
75%, one of its buckets started failing and its root MFA was fixed; data-lake
stayed at 25% and lost an EC2 region to AccessDenied in the second scan.
"""

import email
import email.policy
import logging
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from collectors.models import Scan
from findings import digests, tasks
from findings.digest_content import build_content
from findings.models import ControlRollup, DigestSubscription, SentDigest
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    HOSTILE,
    SEC_S3,
    T0,
    build_world,
    make_account,
    make_change,
    make_finding,
    make_resource,
    make_rollup,
    make_scan,
    make_team,
    make_unit,
    make_user,
)

SITE = "https://parapet.example.com"
REPO = Path(__file__).resolve().parents[2]
# Alice's daily digest is set for 09:00 Paris time: 08:00 UTC in March.
SLOT = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
NOW = SLOT + timedelta(minutes=3)

pytestmark = pytest.mark.django_db


# -- A real SMTP server ----------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message; can refuse the next few."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = 0
        self.refusal = "451 4.3.0 Mailbox busy, try again later"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse:
            self.refuse -= 1
            return self.refusal
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(
                envelope.original_content, policy=email.policy.default
            )
        )
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox(settings):
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per command
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "Parapet <parapet@example.com>"
    settings.SITE_URL = SITE
    settings.DIGEST_SEND_EMPTY = True
    yield handler
    controller.stop()


@pytest.fixture
def plan(django_capture_on_commit_callbacks):
    """``digests.plan_due``, running the sends it enqueues on commit."""

    def run(now: datetime) -> list[int]:
        with django_capture_on_commit_callbacks(execute=True):
            return digests.plan_due(now)

    return run


# -- The scene -------------------------------------------------------------------------


@pytest.fixture
def world():
    world = build_world()
    for user in (world.alice, world.bob, world.root):
        user.email = f"{user.username}@example.com"
        user.save()
    return world


def subscribe(user, **fields) -> DigestSubscription:
    fields = {"hour": 8, "timezone": "UTC", **fields}
    return DigestSubscription.objects.update_or_create(user=user, defaults=fields)[0]


def parts(message) -> tuple[str, str]:
    """(plain text, HTML) of a received message, with plain newlines."""
    return tuple(
        message.get_body((kind,)).get_content().replace("\r\n", "\n")
        for kind in ("plain", "html")
    )


@pytest.fixture
def celery_retries():
    """In-process tasks retry as a worker's would (eager errors not raised)."""
    from config.celery import app

    previous = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = previous


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def rate(account, scan) -> int:
    """An account's pass rate in a scan, straight from the rollups, in %."""
    sums = ControlRollup.objects.filter(account=account, scan=scan).aggregate(
        p=Sum("passed"), f=Sum("failed"), e=Sum("errors"), u=Sum("unknown")
    )
    return round(100 * sums["p"] / (sums["p"] + sums["f"] + sums["e"] + sums["u"]))


# -- Content, as the user reads it -----------------------------------------------------


def test_digest_content_matches_the_database(inbox, world, plan):
    subscribe(world.alice, hour=9, timezone="Europe/Paris")

    sent = plan(NOW)

    assert len(sent) == 1
    [message] = inbox.to("alice@example.com")
    assert message["From"] == "Parapet <parapet@example.com>"
    before, after = rate(world.payments, world.old), rate(world.payments, world.new)
    assert (before, after) == (50, 75)
    assert message["Subject"] == (
        "Parapet daily digest, Sun 02 Mar: 75% (up 25.0 pts), 1 new failure, 1 resolved"
    )
    text, html = parts(message)
    # The period in alice's time zone.
    assert "Sat 1 Mar 2025, 09:00 to Sun 2 Mar 2025, 09:00 (Europe/Paris)" in text
    # Pass rate: organization-wide, then per section, with markers and words.
    assert f"All your accounts: {after}% (\u25b2 up 25.0 pts from {before}%)" in text
    assert "Amazon S3: 67% (\u25b2 up 16.7 pts from 50%)" in text
    assert "AWS credentials (passwords, MFA, access keys): 100%" in text
    assert "\u25b2 +25.0 pts" in html and "#067647" in html
    # New failures grouped by control, with counts; fixes likewise.
    assert "NEW FAILURES (1)" in text and "RESOLVED (1)" in text
    assert "1 x Bucket-level S3 Block Public Access is fully on [high]" in text
    new_part = text.split("NEW FAILURES")[1].split("RESOLVED")[0]
    assert CTL_S3 in new_part and CTL_MFA not in new_part
    assert f"{HOSTILE} in {world.payments}, us-east-1" in new_part
    resolved_part = text.split("RESOLVED")[1]
    assert CTL_MFA in resolved_part
    # No exception model yet: no such block; alice has no gap of her own.
    assert "EXCEPTIONS EXPIRING" not in text and "Exceptions expiring" not in html
    assert "None: every planned unit was collected." in text
    # The row says what happened.
    row = SentDigest.objects.get()
    assert (row.status, row.attempts, row.to_address) == ("sent", 1, message["To"])
    assert (row.period_start, row.period_end) == (SLOT - timedelta(days=1), SLOT)
    assert row.subject == message["Subject"]


def test_html_is_mail_client_safe_and_links_are_absolute(inbox, world, plan):
    subscription = subscribe(world.alice)
    plan(NOW)
    [message] = inbox.messages
    text, html = parts(message)

    assert "<script" not in html.lower() and "<style" not in html.lower()
    assert "<img" not in html.lower() and "<link" not in html.lower()
    assert 'style="' in html and "<table" in html
    # AWS data is escaped in HTML, verbatim in plain text.
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE in text
    found = links(html)
    assert found and all(link.startswith(SITE + "/") for link in found)
    expected = {
        SITE + reverse("findings:control", args=[CTL_S3]) + "?status=FAIL",
        SITE
        + reverse("findings:resource", args=[world.bucket.pk])
        + f"?control={CTL_S3}",
        SITE + reverse("findings:control", args=[CTL_MFA]),
        SITE + reverse("findings:section", args=[SEC_S3]),
        SITE + reverse("findings:overview"),
        SITE + reverse("findings:digest_settings"),
    }
    assert expected <= {link.replace("&amp;", "&") for link in found}
    for link in expected - {SITE + reverse("findings:section", args=[SEC_S3])}:
        assert link in text
    # The unsubscribe link is in both parts and in the List-Unsubscribe header.
    unsubscribe = SITE + reverse(
        "findings:digest_unsubscribe",
        args=[digests.unsubscribe_token(subscription)],
    )
    assert unsubscribe in html and unsubscribe in text
    # (Long headers are folded; the parser keeps the fold's space.)
    assert message["List-Unsubscribe"].strip() == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@parapet.example.com>")


def test_a_user_never_sees_another_teams_accounts(inbox, world, plan):
    subscribe(world.alice)
    subscribe(world.bob)
    subscribe(world.root)

    plan(NOW)

    alice = "\n".join(parts(inbox.to("alice@example.com")[0]))
    bob = "\n".join(parts(inbox.to("bob@example.com")[0]))
    root = "\n".join(parts(inbox.to("root@example.com")[0]))
    assert "payments-prod" in alice and "data-lake" not in alice
    assert "eu-west-1" not in alice and "Access denied" not in alice
    assert "data-lake" in bob and "payments-prod" not in bob
    assert HOSTILE not in bob and "Root MFA" not in bob
    # bob's only news is his coverage gap; his rate did not move.
    assert f"{world.data}, eu-west-1: ec2 not collected (Access denied)" in bob
    assert "All your accounts: 25% (= no change)" in bob
    assert "NEW FAILURES (0)" in bob
    # Staff see both accounts: both rates, both kinds of news.
    assert "payments-prod" in root and "data-lake" in root
    both = rate(world.payments, world.new), rate(world.data, world.new)
    assert both == (75, 25)
    assert "All your accounts: 50% (\u25b2 up 12.5 pts from 38%)" in root


def test_scope_of_chosen_teams_accounts_sections_and_severity(inbox, world):
    other = make_account(world.org, "sandbox")
    world.payments.teams.first().accounts.add(other)
    subscription = subscribe(world.alice, min_severity="critical")
    subscription.accounts.set([world.data])  # not hers: never shown
    subscription.teams.set(world.alice.teams.all())
    content = build_content(subscription, SLOT - timedelta(days=1), SLOT)
    assert content.account_count == 2  # payments-prod and sandbox, not data-lake

    subscription.teams.clear()
    subscription.accounts.set([other])
    content = build_content(subscription, SLOT - timedelta(days=1), SLOT)
    assert content.account_count == 1 and content.overall.after is None

    subscription.accounts.clear()
    subscription.sections = [SEC_S3]
    subscription.min_severity = "low"
    subscription.save()
    content = build_content(subscription, SLOT - timedelta(days=1), SLOT)
    assert [row.label for row in content.sections] == ["Amazon S3"]
    assert content.overall.rate_after == pytest.approx(2 / 3)
    assert content.new_failures.total == 1 and content.resolved.total == 0
    # Minimum severity: the S3 control is high, root MFA critical.
    subscription.sections = []
    subscription.min_severity = "critical"
    subscription.save()
    content = build_content(subscription, SLOT - timedelta(days=1), SLOT)
    assert content.new_failures.total == 0
    assert [g.control_id for g in content.resolved.groups] == [CTL_MFA]
    assert content.overall.rate_after == pytest.approx(0.75)  # rates: every control
    assert "critical severity or above" in content.severity_note


def test_new_failures_are_grouped_by_control_with_counts(inbox, world):
    later = make_scan(world.org, at=T0 + timedelta(days=2))
    for n in range(7):
        bucket = make_resource(world.payments, name=f"bucket-{n}")
        finding = make_finding(bucket, CTL_S3, "FAIL", scan=later)
        make_change(finding, later, "", "FAIL")
    # Failed and fixed inside the period: in neither list.
    flaky = make_resource(world.payments, name="flaky")
    finding = make_finding(flaky, CTL_S3, "PASS", scan=later)
    make_change(finding, world.new, "PASS", "FAIL")
    make_change(finding, later, "FAIL", "PASS")
    subscription = subscribe(world.alice, frequency="weekly", weekday=0)
    end = T0 + timedelta(days=3)

    content = build_content(subscription, T0 + timedelta(hours=1), end)

    [group] = content.new_failures.groups
    assert (group.control_id, group.count) == (CTL_S3, 8)
    assert len(group.examples) == 5 and group.more == 3
    assert content.new_failures.total == 8
    assert [g.control_id for g in content.resolved.groups] == [CTL_MFA]


def test_a_scan_still_running_is_reported_by_the_next_digest(inbox, world):
    running = make_scan(world.org, at=SLOT - timedelta(minutes=30), minutes=45)
    bucket = make_resource(world.payments, name="late-bucket")
    make_change(make_finding(bucket, CTL_S3, "FAIL", scan=running), running, "", "FAIL")
    subscription = subscribe(world.alice)

    first = build_content(subscription, SLOT - timedelta(days=1), SLOT)
    second = build_content(subscription, SLOT, SLOT + timedelta(days=1))

    assert first.new_failures.total == 1  # the bucket of the finished scan
    assert second.new_failures.total == 1
    assert second.new_failures.groups[0].examples[0].label == "late-bucket"


def test_an_empty_period_says_so_in_one_line(inbox, world, settings, plan):
    subscribe(world.alice)
    quiet = SLOT + timedelta(days=5)

    plan(quiet + timedelta(minutes=1))

    [message] = inbox.messages
    assert message["Subject"] == "Parapet daily digest, Fri 07 Mar: nothing new"
    text, html = parts(message)
    line = (
        "No scan finished since the previous digest (Thu 06 Mar 2025 08:00 UTC); "
        "the latest finished Sun 02 Mar 2025 06:04 UTC."
    )
    assert line in text and line in html
    assert "NEW FAILURES" not in text and "Pass rate" not in html

    settings.DIGEST_SEND_EMPTY = False
    plan(quiet + timedelta(days=1, minutes=1))
    assert len(inbox.messages) == 1
    assert SentDigest.objects.filter(status="empty").count() == 1


def test_a_scan_with_nothing_new_is_still_one_line(inbox, world):
    again = make_scan(world.org, at=T0 + timedelta(days=2))
    make_unit(again, world.payments)
    make_rollup(
        again, world.payments, CTL_MFA, "account-security/credentials", passed=1
    )
    make_rollup(again, world.payments, CTL_S3, SEC_S3, passed=2, failed=1)
    subscription = subscribe(world.alice)
    end = SLOT + timedelta(days=1)

    content = build_content(subscription, SLOT, end)

    assert content.is_empty
    assert content.empty_line == (
        "Nothing changed in your accounts since the previous digest "
        "(Sun 02 Mar 2025 08:00 UTC). Pass rate steady at 75%."
    )


# -- Schedule --------------------------------------------------------------------------


def test_send_times_follow_the_users_time_zone_and_weekday():
    sub = DigestSubscription(hour=9, timezone="America/New_York")
    # 09:00 in New York is 14:00 UTC in winter, 13:00 UTC after the DST switch.
    assert sub.latest_slot(datetime(2025, 3, 8, 15, 0, tzinfo=UTC)) == datetime(
        2025, 3, 8, 14, 0, tzinfo=UTC
    )
    slot = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    assert sub.latest_slot(slot) == slot
    assert sub.previous_slot(slot) == datetime(2025, 3, 9, 13, 0, tzinfo=UTC)
    assert sub.next_slot(slot) == datetime(2025, 3, 11, 13, 0, tzinfo=UTC)
    weekly = DigestSubscription(
        hour=7, timezone="UTC", frequency="weekly", weekday=4
    )  # Fridays
    now = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday
    assert weekly.latest_slot(now) == datetime(2025, 2, 28, 7, 0, tzinfo=UTC)
    assert weekly.next_slot(now) == datetime(2025, 3, 7, 7, 0, tzinfo=UTC)
    assert weekly.previous_slot(weekly.next_slot(now)) == weekly.latest_slot(now)


def test_only_due_subscriptions_are_sent(inbox, world, plan):
    subscribe(world.alice)  # 08:00 UTC: due
    subscribe(world.bob, hour=10)  # not yet
    subscribe(world.root, active=False)
    world.bob.digest_subscription.refresh_from_db()

    assert plan(NOW)
    assert [m["To"] for m in inbox.messages] == ["alice@example.com"]
    # Beat was down for longer than the catch-up window: skipped, not sent late.
    assert plan(SLOT + timedelta(days=1) + digests.CATCH_UP * 2) == []
    assert len(inbox.messages) == 1


def test_a_user_without_email_is_skipped_and_recorded(inbox, world, plan):
    world.alice.email = ""
    world.alice.save()
    subscribe(world.alice)

    plan(NOW)

    assert inbox.messages == []
    row = SentDigest.objects.get()
    assert (row.status, row.error) == ("skipped", "the user has no email address")


# -- Exactly once ----------------------------------------------------------------------


def test_beat_firing_twice_and_a_duplicated_task_send_one_digest(inbox, world, plan):
    subscription = subscribe(world.alice)

    first = plan(NOW)
    second = plan(NOW + timedelta(minutes=1))  # beat fired again
    [row] = SentDigest.objects.all()
    # The broker delivers the send task again (redelivery, manual retry).
    assert tasks.send_digest.delay(row.pk).get() == "sent"
    assert tasks.send_digest.apply(args=[row.pk]).get() == "sent"

    assert first == [row.pk] and second == []
    assert len(inbox.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)
    assert row.subscription == subscription


def test_the_beat_task_sends_what_is_due_now(
    inbox, world, django_capture_on_commit_callbacks
):
    now = datetime.now(UTC)
    subscribe(world.alice, hour=now.hour)
    subscribe(world.bob, hour=(now.hour + 12) % 24)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_digests.delay().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_digests.delay().get() == 0

    assert [m["To"] for m in inbox.messages] == ["alice@example.com"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_digest(inbox, world):
    subscribe(world.alice)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(digests.plan_due(NOW))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(inbox.messages) == 1
    assert SentDigest.objects.get().status == "sent"


def test_a_failed_send_is_retried_and_logged_without_duplicating(
    inbox, world, caplog, plan, celery_retries
):
    subscribe(world.alice)
    inbox.refuse = 2  # the server answers 451 twice, then accepts

    plan(NOW)

    assert len(inbox.messages) == 1
    row = SentDigest.objects.get()
    assert (row.status, row.attempts, row.error) == ("sent", 3, "")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2 and all("will retry" in w for w in warnings)
    assert "451" in warnings[0]
    # A late duplicate of the failed attempt finds the row sent.
    assert digests.deliver(row.pk) == "sent"
    assert len(inbox.messages) == 1


def test_a_permanent_refusal_is_recorded_not_retried(inbox, world, plan):
    subscribe(world.alice)
    inbox.refuse = 10
    inbox.refusal = "554 5.7.1 Message rejected"

    plan(NOW)

    row = SentDigest.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "554" in row.error
    assert inbox.messages == []


def test_retries_stop_after_the_last_attempt(inbox, world, plan, celery_retries):
    subscribe(world.alice)
    inbox.refuse = 100

    plan(NOW)  # the error surfaces in-process, and is logged

    row = SentDigest.objects.get()
    assert (row.status, row.attempts) == ("failed", digests.MAX_ATTEMPTS)
    assert "451" in row.error
    # Nothing left to finish: the next hourly run does not try again.
    assert digests.unfinished() == []


def test_a_worker_killed_mid_send_is_finished_by_the_next_run(inbox, world, plan):
    subscription = subscribe(world.alice)
    due = digests.due_digests(NOW)[0]
    row = digests.claim(due)
    SentDigest.objects.filter(pk=row.pk).update(
        status="sending", attempts=1, updated_at=timezone.now() - timedelta(minutes=1)
    )
    # Still within its lease: a redelivered task leaves it alone.
    assert digests.deliver(row.pk) == "sending"
    SentDigest.objects.filter(pk=row.pk).update(
        updated_at=timezone.now() - digests.LEASE - timedelta(minutes=1)
    )

    assert plan(NOW + timedelta(minutes=5)) == [row.pk]

    assert len(inbox.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.subscription) == ("sent", 2, subscription)


# -- SMTP settings ---------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_and_login_from_the_settings(inbox, world, settings, tmp_path, plan):
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"parapet", b"s3cret")
        return AuthResult(success=ok)

    secure = Inbox()
    controller = Controller(
        secure,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        settings.EMAIL_PORT = controller.port
        settings.EMAIL_USE_TLS = True
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "parapet", "s3cret"
        os.environ["SSL_CERT_FILE"] = str(cert)  # trust the test's certificate
        subscribe(world.alice)
        plan(NOW)
    finally:
        os.environ.pop("SSL_CERT_FILE", None)
        controller.stop()

    assert logins == [(b"parapet", b"s3cret")]
    assert len(secure.messages) == 1 and inbox.messages == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "EMAIL_USE_TLS"),
        ({"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "EMAIL_USE_SSL"),
        ({"EMAIL_USE_TLS": "sometimes"}, "EMAIL_USE_TLS"),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT"),
        ({"EMAIL_PORT": "70000"}, "EMAIL_PORT"),
        ({"DEFAULT_FROM_EMAIL": "parapet"}, "DEFAULT_FROM_EMAIL"),
        ({"PARAPET_SITE_URL": "parapet.example.com"}, "PARAPET_SITE_URL"),
        ({"PARAPET_DIGEST_SEND_EMPTY": "maybe"}, "PARAPET_DIGEST_SEND_EMPTY"),
        (
            {
                "PARAPET_ENV": "production",
                "DJANGO_SECRET_KEY": "x" * 50,
                "EMAIL_HOST": "smtp.example.com",
            },
            "PARAPET_SITE_URL",
        ),
    ],
)
def test_bad_email_settings_stop_startup(env, named):
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMAIL_", "PARAPET_SITE_URL", "PARAPET_ENV"))
    }
    environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parapet")
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert named in result.stderr.strip().splitlines()[-1]


def test_development_prints_emails_to_the_console():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parapet")
    code = (
        "import config.settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_PORT, s.SITE_URL, s.DIGEST_SEND_EMPTY)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [
        "django.core.mail.backends.console.EmailBackend",
        "25",
        environ.get("PARAPET_SITE_URL", "http://127.0.0.1:8000"),
        "True",
    ]


# -- Team defaults ---------------------------------------------------------------------


def test_a_new_team_member_is_subscribed_with_the_teams_default(world):
    payments = world.alice.teams.get()
    DigestSubscription.objects.create(
        default_for_team=payments,
        frequency="weekly",
        weekday=2,
        hour=7,
        timezone="Europe/Berlin",
        min_severity="high",
    )
    carol, dave = make_user("carol"), make_user("dave")

    Membership.objects.create(team=payments, user=carol)  # the admin's inline
    payments.members.add(dave)  # bulk: no post_save

    for user in (carol, dave):
        sub = DigestSubscription.objects.get(user=user)
        assert (sub.frequency, sub.weekday, sub.hour, sub.timezone) == (
            "weekly",
            2,
            7,
            "Europe/Berlin",
        )
        assert sub.min_severity == "high"
        assert list(sub.teams.all()) == [payments]
    # Joining a second team with a default widens a team-scoped subscription.
    data = world.bob.teams.get()
    DigestSubscription.objects.create(default_for_team=data)
    data.members.add(carol)
    assert set(carol.digest_subscription.teams.all()) == {payments, data}
    # A team without a default subscribes no one.
    quiet = make_team("Quiet")
    erin = make_user("erin")
    quiet.members.add(erin)
    assert not DigestSubscription.objects.filter(user=erin).exists()


def test_the_default_applies_to_existing_members_on_request(world):
    payments = world.alice.teams.get()
    default = DigestSubscription.objects.create(default_for_team=payments)
    assert digests.subscribe_team_members(default) == 1
    assert digests.subscribe_team_members(default) == 0
    assert world.alice.digest_subscription.teams.get() == payments


# -- The command -----------------------------------------------------------------------


def test_send_digests_command(inbox, world, capsys):
    subscribe(world.alice)
    subscribe(world.bob, hour=(datetime.now(UTC).hour + 12) % 24)

    call_command("send_digests", "--user", "bob", "--now", "--dry-run")
    out = capsys.readouterr().out
    assert "bob <bob@example.com>  daily" in out and "would send" in out
    # A period ending now, long after the world's scans: one line.
    assert "No scan finished since the previous digest" in out
    assert inbox.messages == [] and not SentDigest.objects.exists()

    call_command("send_digests", "--user", "bob@example.com", "--now")
    assert "1 sent" in capsys.readouterr().out
    assert [m["To"] for m in inbox.messages] == ["bob@example.com"]
    assert SentDigest.objects.get().trigger == "manual"

    call_command("send_digests", "--user", "bob")
    assert "not due now" in capsys.readouterr().out
    assert len(inbox.messages) == 1

    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("send_digests", "--user", "nobody")


def test_send_digests_command_reports_failures(inbox, world, celery_retries):
    subscribe(world.alice)
    inbox.refuse = 1
    with pytest.raises(CommandError, match="1 digest"):
        call_command("send_digests", "--now")
    row = SentDigest.objects.get()
    assert row.status == "failed" and "451" in row.error
    # Sent by hand: its period ends now, so running again is a new period.
    assert row.period_end.second == 0


def test_scans_outside_any_done_state_are_ignored(inbox, world):
    running = make_scan(
        world.org, at=SLOT - timedelta(hours=3), status=Scan.Status.RUNNING
    )
    running.finished_at = None
    running.save()
    subscription = subscribe(world.alice)
    content = build_content(subscription, SLOT - timedelta(days=1), SLOT)
    assert content.scans_in_period == 1


def test_smtp_errors_are_classified():
    refused = smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")})
    assert digests._is_permanent(refused)
    assert not digests._is_permanent(smtplib.SMTPDataError(451, b"busy"))
    assert digests._is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not digests._is_permanent(ConnectionRefusedError())
