"""The audit log: what is recorded, what is never recorded, and the staff page."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from accounts import audit
from accounts.models import AuditEvent
from findings import digests, suppressions
from findings.models import DigestSubscription
from findings.tests.factories import CTL_MFA, PASSWORD, build_world

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
LOG = reverse("audit:log")


@pytest.fixture
def world():
    return build_world()


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def _stored_rows() -> str:
    """The audit log and django-axes' record of attempts, as stored."""
    rows = []
    with connection.cursor() as cursor:
        for table in ("accounts_auditevent", "axes_accessattempt", "axes_accesslog"):
            cursor.execute(f"SELECT row_to_json(t)::text FROM {table} t")  # noqa: S608
            rows.extend(row[0] for row in cursor.fetchall())
    return "\n".join(rows)


# -- Sign-ins ----------------------------------------------------------------------


def test_sign_in_failure_lockout_and_sign_out_are_recorded(client, world):
    wrong = "Tr0ub4dor&3-not-it"
    client.post(
        reverse("login"),
        {"username": "alice", "password": wrong},
        REMOTE_ADDR="192.0.2.10",
    )
    client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.10",
    )
    client.post(reverse("logout"))

    assert _actions() == [Action.SIGNIN_FAILED, Action.SIGNIN, Action.SIGNOUT]
    failed, signed_in, _ = AuditEvent.objects.order_by("pk")
    assert failed.actor is None and failed.actor_label == "alice"
    assert str(failed.ip) == "192.0.2.10"
    assert signed_in.actor == world.alice
    assert signed_in.details == {"method": "password"}
    stored = _stored_rows()
    assert "alice" in stored  # the capture is real
    assert wrong not in stored and PASSWORD not in stored
    assert client.cookies["csrftoken"].value not in stored


@override_settings(AXES_FAILURE_LIMIT=2)
def test_a_lockout_is_recorded(client, world):
    for _ in range(2):
        client.post(reverse("login"), {"username": "bob", "password": "nope"})
    locked = AuditEvent.objects.get(action=Action.LOCKED_OUT)
    assert locked.actor_label == "bob"
    assert locked.details == {"failure_limit": 2}


def test_details_named_like_secrets_are_never_stored(world):
    event = audit.record(
        Action.SCOPE_CHANGED,
        actor=world.root,
        target=world.org,
        details={"api_token": "t0k3n", "nested": {"password": "pw"}, "note": "ok"},
    )
    event.refresh_from_db()
    assert event.details == {
        "api_token": "[redacted]",
        "nested": {"password": "[redacted]"},
        "note": "ok",
    }


# -- Changes -------------------------------------------------------------------------


def test_scope_changes_from_the_page_and_the_command(client, world):
    client.force_login(world.root)
    url = reverse("collectors:scope", args=[world.org.pk])
    client.post(url, {"services": ["s3", "iam"], "regions": ["eu-west-1"]})
    client.post(url, {"services": ["s3", "iam"], "regions": ["eu-west-1"]})
    call_command("scope", organization="Acme", regions="all", stdout=io.StringIO())

    page, command = AuditEvent.objects.filter(action=Action.SCOPE_CHANGED).order_by(
        "pk"
    )  # the unchanged second save wrote nothing
    assert page.actor == world.root
    assert page.target_label == "Acme"
    assert page.details["changes"] == {
        "services": ["all", "iam, s3"],
        "regions": ["all enabled", "eu-west-1"],
    }
    assert command.actor is None
    assert command.actor_label.startswith("manage.py scope")
    assert command.details["changes"] == {"regions": ["eu-west-1", "all enabled"]}


def test_a_schedule_change_is_recorded(client, world):
    client.force_login(world.root)
    client.post(
        reverse("collectors:schedule", args=[world.org.pk]),
        {"cron": "30 6 * * mon-fri", "timezone": "Europe/Paris", "enabled": "on"},
    )
    event = AuditEvent.objects.get(action=Action.SCHEDULE_CHANGED)
    assert event.actor == world.root
    assert event.details["changes"]["cron"][1] == "30 6 * * mon-fri"
    assert event.details["changes"]["timezone"][1] == "Europe/Paris"


def test_digest_changes_and_unsubscribing_are_recorded(client, world):
    client.force_login(world.alice)
    client.post(
        reverse("findings:digest_settings"),
        {
            "active": "on",
            "frequency": "weekly",
            "weekday": "2",
            "hour": "9",
            "timezone": "Europe/Paris",
            "min_severity": "high",
        },
    )
    event = AuditEvent.objects.get(action=Action.DIGEST_CHANGED)
    assert event.actor == world.alice
    assert event.details["changes"]["timezone"][1] == "Europe/Paris"

    subscription = DigestSubscription.objects.get(user=world.alice)
    client.logout()
    token = digests.unsubscribe_token(subscription)
    client.post(reverse("findings:digest_unsubscribe", args=[token]))
    last = AuditEvent.objects.filter(action=Action.DIGEST_CHANGED).latest("pk")
    assert last.actor_label == "unsubscribe link"
    assert last.details == {"changes": {"active": ["True", "False"]}}


def _exception(world, **kwargs):
    return suppressions.create(
        actor=world.root,
        control_id=CTL_MFA,
        scope=suppressions.Scope.ACCOUNT,
        reason="Accepted for the migration",
        approver="CISO",
        expires_at=datetime.now(UTC) + timedelta(days=30),
        account=world.payments,
        **kwargs,
    )


def test_exceptions_are_mirrored_in_the_log(world):
    created = _exception(world)
    suppressions.revoke(created, actor=world.root)

    assert _actions() == [Action.EXCEPTION_CREATED, Action.EXCEPTION_REVOKED]
    event = AuditEvent.objects.get(action=Action.EXCEPTION_CREATED)
    assert (event.target_type, event.target_id) == (
        "findings.suppression",
        str(created.pk),
    )
    assert event.actor == world.root


# -- The page ------------------------------------------------------------------------


def test_the_page_is_for_staff_only(client, world):
    assert client.get(LOG)["Location"].startswith(reverse("login"))
    client.force_login(world.alice)
    assert client.get(LOG).status_code == 404
    assert client.get(reverse("audit:csv")).status_code == 404


def test_the_page_shows_sign_ins_and_exceptions_with_filters(
    client, world, django_assert_max_num_queries
):
    exception = _exception(world)
    for n in range(60):
        audit.record(Action.SIGNIN_FAILED, actor_label=f"guess-{n}", target_label="x")
    client.force_login(world.root)

    with django_assert_max_num_queries(8):
        response = client.get(LOG)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sign-in failed" in html and "guess-59" in html
    assert "Page 1 of 2" in html
    exception_link = reverse("findings:exception", args=[exception.pk])

    only_exceptions = client.get(LOG, {"action": Action.EXCEPTION_CREATED})
    html = only_exceptions.content.decode()
    assert "Exception created" in html and exception_link in html
    assert "guess-" not in html

    by_actor = client.get(LOG, {"actor": "guess-1"}).content.decode()
    assert "guess-10" in by_actor and "guess-2" not in by_actor

    AuditEvent.objects.filter(actor_label="guess-0").update(
        at=datetime(2024, 1, 5, 12, tzinfo=UTC)
    )
    old = client.get(LOG, {"until": "2024-01-05"}).content.decode()
    assert "guess-0" in old and "guess-1" not in old
    partial = client.get(
        LOG, {"page": "2"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit"
    )
    assert b"<html" not in partial.content and b"Page 2 of 2" in partial.content


def test_the_export_is_the_filtered_log_with_formulas_neutralised(client, world):
    audit.record(Action.SIGNIN_FAILED, actor_label='=HYPERLINK("x")')
    audit.record(Action.SIGNOUT, actor=world.alice, target=world.alice)
    client.force_login(world.root)

    response = client.get(reverse("audit:csv"), {"action": Action.SIGNIN_FAILED})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["at", "actor", "action"]
    assert [r[1:3] for r in rows[1:]] == [['\'=HYPERLINK("x")', "Sign-in failed"]]


def test_the_admin_shows_the_log_read_only(client, world):
    audit.record(Action.SIGNIN, actor=world.alice, target=world.alice)
    client.force_login(world.root)
    world.root.is_superuser = True
    world.root.save()
    listing = client.get(reverse("admin:accounts_auditevent_changelist"))
    assert listing.status_code == 200 and b"alice" in listing.content
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
