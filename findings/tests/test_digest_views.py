"""Digest pages: settings, preview, unsubscribe without signing in, the admin."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from findings import digests
from findings.models import DigestSubscription, SentDigest
from findings.tests.factories import HOSTILE, SEC_S3, build_world

pytestmark = pytest.mark.django_db

SETTINGS = reverse("findings:digest_settings")
PREVIEW = reverse("findings:digest_preview")


@pytest.fixture
def world():
    world = build_world()
    world.alice.email = "alice@example.com"
    world.alice.save()
    return world


def form_data(**fields) -> dict:
    data = {
        "active": "on",
        "frequency": "weekly",
        "weekday": "2",
        "hour": "9",
        "timezone": "Europe/Paris",
        "min_severity": "high",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def unsubscribe_url(subscription) -> str:
    return reverse(
        "findings:digest_unsubscribe", args=[digests.unsubscribe_token(subscription)]
    )


# -- Settings page ---------------------------------------------------------------------


def test_settings_need_a_login_and_the_menu_links_them(client, world):
    response = client.get(SETTINGS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.get(PREVIEW).status_code == 302

    client.force_login(world.alice)
    html = client.get(reverse("findings:overview")).content.decode()
    assert f'href="{SETTINGS}"' in html


def test_settings_offer_only_what_the_user_may_see(client, world):
    client.force_login(world.alice)
    response = client.get(SETTINGS)
    html = response.content.decode()

    assert response.status_code == 200
    assert "You are not subscribed yet" in html
    assert "Payments" in html and "Data</label>" not in html
    assert "payments-prod" in html and "data-lake" not in html
    assert "Europe/Paris" in html and "Amazon S3" in html


def test_subscribing_from_the_settings_page(client, world):
    client.force_login(world.alice)
    team = world.alice.teams.get()

    response = client.post(
        SETTINGS,
        form_data(teams=[team.pk], sections=[SEC_S3]),
        follow=True,
    )

    subscription = DigestSubscription.objects.get(user=world.alice)
    assert (subscription.frequency, subscription.weekday, subscription.hour) == (
        "weekly",
        2,
        9,
    )
    assert subscription.timezone == "Europe/Paris"
    assert subscription.min_severity == "high"
    assert list(subscription.teams.all()) == [team]
    assert subscription.sections == [SEC_S3]
    html = response.content.decode()
    assert "Saved. Your next digest is due Wednesday" in html
    assert "at 09:00 (Europe/Paris)" in html
    assert "You are not subscribed yet" not in html

    client.post(SETTINGS, form_data(active=None, teams=[team.pk]))
    subscription.refresh_from_db()
    assert not subscription.active
    assert DigestSubscription.objects.filter(user=world.alice).count() == 1


def test_another_teams_account_or_a_bad_value_is_refused(client, world):
    client.force_login(world.alice)
    other_team = world.bob.teams.get()

    for bad in (
        {"accounts": [world.data.pk]},
        {"teams": [other_team.pk]},
        {"timezone": "Mars/Olympus"},
        {"hour": "24"},
        {"sections": ["no/such/section"]},
    ):
        response = client.post(SETTINGS, form_data(**bad))
        assert response.status_code == 200, bad
        assert "errorlist" in response.content.decode(), bad
    assert not DigestSubscription.objects.exists()


def test_the_page_lists_recent_digests_and_warns_without_email(client, world):
    subscription = DigestSubscription.objects.create(user=world.alice)
    SentDigest.objects.create(
        user=world.alice,
        subscription=subscription,
        frequency="daily",
        period_start=datetime(2025, 3, 1, 8, tzinfo=UTC),
        period_end=datetime(2025, 3, 2, 8, tzinfo=UTC),
        status="failed",
        error="SMTPDataError: (451, b'busy')",
    )
    world.alice.email = ""
    world.alice.save()
    client.force_login(world.alice)

    html = client.get(SETTINGS).content.decode()

    assert "Mar 2, 2025 08:00 UTC" in html and "Failed" in html and "451" in html
    assert "has no email address" in html
    assert "Next digest:" in html


# -- Preview ---------------------------------------------------------------------------


def test_preview_shows_the_users_digest_only(client, world):
    client.force_login(world.bob)
    response = client.get(PREVIEW)
    html = response.content.decode()

    assert response.status_code == 200
    assert "script-src" not in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "compliance digest" in html
    assert "payments-prod" not in html and HOSTILE not in html

    text = client.get(PREVIEW + "?format=text")
    assert text["Content-Type"].startswith("text/plain")
    assert text.content.decode().startswith("Subject: Parapet daily digest")


# -- Unsubscribe -----------------------------------------------------------------------


def test_unsubscribe_link_works_without_signing_in(world):
    subscription = DigestSubscription.objects.create(user=world.alice)
    client = Client(enforce_csrf_checks=True)
    url = unsubscribe_url(subscription)

    # Opening the link (or a mail scanner fetching it) changes nothing.
    page = client.get(url)
    assert page.status_code == 200
    assert "alice@example.com" in page.content.decode()
    subscription.refresh_from_db()
    assert subscription.active

    done = client.post(url)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    subscription.refresh_from_db()
    assert not subscription.active
    # Again: still fine, nothing to do.
    assert client.post(url).status_code == 200


def test_one_click_unsubscribe_from_the_mail_client(world):
    subscription = DigestSubscription.objects.create(user=world.alice)
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        unsubscribe_url(subscription),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert not subscription.active


def test_a_tampered_or_forged_token_is_refused(client, world):
    alice = DigestSubscription.objects.create(user=world.alice)
    bob = DigestSubscription.objects.create(user=world.bob)
    token = digests.unsubscribe_token(alice)

    for bad in (token[:-2] + "xx", "WzEsMV0:forged:signature", token + "x"):
        url = reverse("findings:digest_unsubscribe", args=[bad])
        assert client.post(url).status_code == 404
    # A valid token names one subscription: it cannot be pointed at another.
    payload = token.split(":")[0]
    assert payload != digests.unsubscribe_token(bob).split(":")[0]
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.active and bob.active


def test_a_deleted_subscription_says_so(client, world):
    subscription = DigestSubscription.objects.create(user=world.alice)
    url = unsubscribe_url(subscription)
    subscription.delete()

    response = client.get(url)

    assert response.status_code == 200
    assert "no longer exists" in response.content.decode()


# -- Admin and schedule ----------------------------------------------------------------


def test_the_hourly_schedule_is_editable_in_the_admin(
    admin_client, world, beat_entries
):
    task = PeriodicTask.objects.get(task="findings.send_due_digests")
    assert task.enabled and task.crontab.minute == "0" and task.crontab.hour == "*"

    page = admin_client.get(
        reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
    )
    assert page.status_code == 200


def test_admin_lists_subscriptions_and_applies_a_team_default(admin_client, world):
    team = world.alice.teams.get()
    default = DigestSubscription.objects.create(default_for_team=team, hour=6)

    assert (
        admin_client.get(
            reverse("admin:findings_digestsubscription_changelist")
        ).status_code
        == 200
    )
    assert (
        admin_client.get(reverse("admin:findings_sentdigest_changelist")).status_code
        == 200
    )
    response = admin_client.post(
        reverse("admin:findings_digestsubscription_changelist"),
        {"action": "subscribe_members", "_selected_action": [default.pk]},
        follow=True,
    )

    assert "1 member(s) subscribed." in response.content.decode()
    assert world.alice.digest_subscription.hour == 6


def test_admin_refuses_a_row_that_is_both_user_and_team_default(admin_client, world):
    response = admin_client.post(
        reverse("admin:findings_digestsubscription_add"),
        {
            "user": world.alice.pk,
            "default_for_team": world.alice.teams.get().pk,
            "active": "on",
            "frequency": "daily",
            "hour": "8",
            "weekday": "0",
            "timezone": "UTC",
            "sections": "[]",
            "min_severity": "low",
        },
    )
    assert response.status_code == 200
    assert "Set either a user or a team" in response.content.decode()
    assert not DigestSubscription.objects.exists()
