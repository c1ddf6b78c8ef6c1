"""Security headers on every kind of response, and the production settings."""

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.urls import reverse

from config.csp import ADMIN_SCRIPT_HASHES
from findings.tests.factories import build_world

REPO = Path(__file__).resolve().parents[2]

# The policy every Parapet page gets: nothing inline, nothing from elsewhere.
STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_hardened(response) -> None:
    assert policy(response) == STRICT
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.fixture
def world():
    return build_world()


def test_a_page_is_hardened(client, world):
    client.force_login(world.alice)
    response = client.get(reverse("findings:frameworks"))
    assert response.status_code == 200
    assert_hardened(response)


def test_an_htmx_partial_is_hardened(client, world):
    client.force_login(world.alice)
    response = client.get(
        reverse("collectors:scan", args=[world.new.pk]),
        headers={"HX-Request": "true", "HX-Target": "units"},
    )
    assert response.status_code == 200
    assert b'id="units"' in response.content
    assert b"<html" not in response.content  # the partial, not the page
    assert_hardened(response)


def test_the_login_page_is_hardened(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_hardened(response)


def test_a_not_found_page_is_hardened(client, world):
    client.force_login(world.alice)  # data-lake is another team's account
    response = client.get(reverse("findings:account", args=[world.data.pk]))
    assert response.status_code == 404
    assert_hardened(response)


def test_only_the_admin_may_run_its_hashed_script(client, world):
    world.root.is_superuser = True
    world.root.save()
    client.force_login(world.root)
    admin = client.get("/admin/django_celery_beat/periodictask/add/")
    assert admin.status_code == 200
    assert policy(admin)["script-src"] == ["'self'", *ADMIN_SCRIPT_HASHES]
    assert "unsafe" not in admin["Content-Security-Policy"]
    page = client.get(reverse("findings:overview"))
    assert policy(page)["script-src"] == ["'self'"]


def run_in_production(*args: str) -> subprocess.CompletedProcess:
    """manage.py with the environment docker-compose sets behind HTTPS."""
    env = {
        **os.environ,
        "PARAPET_ENV": "production",
        "PARAPET_HTTPS": "true",
        "PARAPET_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "parapet.example.com",
    }
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parapet")
    # The browser tests set it for Playwright; a deployment never has it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_checks_pass_in_production():
    result = run_in_production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_sends_hsts_and_secure_cookies():
    script = textwrap.dedent(
        """
        from django.test import Client
        host = {"host": "parapet.example.com"}
        r = Client().get("/accounts/login/", secure=True, headers=host)
        print(r.status_code, r.headers["Strict-Transport-Security"])
        print("secure-cookie", bool(r.cookies["csrftoken"]["secure"]))
        r = Client().get("/accounts/login/", headers=host)
        print("plain-http", r.status_code, r.headers["Location"])
        """
    )
    result = run_in_production("shell", "--no-imports", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "200 max-age=31536000; includeSubDomains",
        "secure-cookie True",
        "plain-http 301 https://parapet.example.com/accounts/login/",
    ]
