"""Sign-in: single sign-on, login throttling, session expiry, password rules."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from axes.models import AccessAttempt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts import signin
from accounts.models import AuditEvent, Membership, Team
from accounts.oidc import TeamMappingOIDCBackend
from accounts.oidc_config import parse_team_map, read_oidc_config
from findings.tests.factories import PASSWORD, make_user

REPO = Path(__file__).resolve().parents[2]
ISSUER = "https://idp.example.com"
CLIENT_ID = "parapet"
TEAM_MAP = {
    "aws-platform": ("Platform", "admin"),
    "aws-readers": ("Platform", "member"),
    "aws-data": ("Data", "member"),
}


def oidc_settings(base: str = "https://idp.example.com", **extra):
    """Settings as config/settings.py makes them when single sign-on is on."""
    values = {
        "PARAPET_OIDC_ENABLED": True,
        "PARAPET_OIDC_ISSUER": ISSUER,
        "PARAPET_OIDC_NAME": "Acme SSO",
        "PARAPET_OIDC_GROUPS_CLAIM": "groups",
        "PARAPET_OIDC_TEAM_MAP": TEAM_MAP,
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": "client-secret-value",
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_RP_SCOPES": "openid email profile",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{base}/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{base}/token",
        "OIDC_OP_USER_ENDPOINT": f"{base}/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": f"{base}/jwks",
        "OIDC_USE_PKCE": True,
        "OIDC_TIMEOUT": 5,
        "AUTHENTICATION_BACKENDS": [
            "axes.backends.AxesStandaloneBackend",
            "django.contrib.auth.backends.ModelBackend",
            "accounts.oidc.TeamMappingOIDCBackend",
        ],
    }
    return override_settings(**{**values, **extra})


# -- Settings ---------------------------------------------------------------------


OIDC_ENV = {
    "PARAPET_OIDC_ISSUER": ISSUER,
    "PARAPET_OIDC_CLIENT_ID": CLIENT_ID,
    "PARAPET_OIDC_CLIENT_SECRET": "s3cret-value",
    "PARAPET_OIDC_AUTHORIZATION_ENDPOINT": f"{ISSUER}/authorize",
    "PARAPET_OIDC_TOKEN_ENDPOINT": f"{ISSUER}/token",
    "PARAPET_OIDC_USERINFO_ENDPOINT": f"{ISSUER}/userinfo",
    "PARAPET_OIDC_JWKS_ENDPOINT": f"{ISSUER}/jwks",
}


@pytest.fixture
def oidc_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PARAPET_OIDC_"):
            monkeypatch.delenv(name)
    for name, value in OIDC_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_sso_is_off_unless_configured(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PARAPET_OIDC_"):
            monkeypatch.delenv(name)
    assert read_oidc_config(production=True) is None


def test_a_complete_sso_configuration_is_read(oidc_env):
    oidc_env.setenv("PARAPET_OIDC_TEAM_MAP", "aws-platform=Platform:admin,x=Data")
    config = read_oidc_config(production=True)
    assert config.endpoints["jwks"] == f"{ISSUER}/jwks"
    assert config.team_map == {
        "aws-platform": ("Platform", "admin"),
        "x": ("Data", "member"),
    }
    assert config.groups_claim == "groups"
    assert "s3cret-value" not in repr(config)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PARAPET_OIDC_CLIENT_SECRET": ""}, "PARAPET_OIDC_CLIENT_SECRET"),
        ({"PARAPET_OIDC_JWKS_ENDPOINT": ""}, "PARAPET_OIDC_JWKS_ENDPOINT"),
        ({"PARAPET_OIDC_TOKEN_ENDPOINT": "idp/token"}, "PARAPET_OIDC_TOKEN_ENDPOINT"),
        ({"PARAPET_OIDC_SIGN_ALGO": "none"}, "PARAPET_OIDC_SIGN_ALGO"),
        ({"PARAPET_OIDC_TEAM_MAP": "just-a-group"}, "PARAPET_OIDC_TEAM_MAP"),
        ({"PARAPET_OIDC_TEAM_MAP": "g=Team:owner"}, "PARAPET_OIDC_TEAM_MAP"),
        ({"PARAPET_OIDC_SCOPES": "profile"}, "PARAPET_OIDC_SCOPES"),
        ({"PARAPET_OIDC_ISSUER": "http://idp.example.com"}, "PARAPET_OIDC_ISSUER"),
    ],
)
def test_a_bad_sso_setting_names_its_variable(oidc_env, change, named):
    for name, value in change.items():
        oidc_env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=named):
        read_oidc_config(production=True)


def test_hs256_needs_no_jwks(oidc_env):
    oidc_env.setenv("PARAPET_OIDC_SIGN_ALGO", "HS256")
    oidc_env.delenv("PARAPET_OIDC_JWKS_ENDPOINT")
    assert "jwks" not in read_oidc_config(production=True).endpoints


def test_team_map_keeps_colons_in_team_names():
    assert parse_team_map("g=Ops: EU:admin, h = Data ") == {
        "g": ("Ops: EU", "admin"),
        "h": ("Data", "member"),
    }


def test_a_half_configured_sso_stops_startup():
    env = {**os.environ, "PARAPET_OIDC_ISSUER": ISSUER}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parapet")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PARAPET_OIDC_CLIENT_ID" in result.stderr


# -- Team mapping (the backend, with claims as a provider would send) -----------------


@pytest.fixture
def teams(db):
    return {
        name: Team.objects.create(name=name) for name in ("Platform", "Data", "Ops")
    }


def _roles(user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("team__name", "role"))


def _claims(**extra) -> dict:
    return {
        "sub": "u-1",
        "email": "dana@example.com",
        "email_verified": True,
        "given_name": "Dana",
        **extra,
    }


@oidc_settings()
def test_first_sso_sign_in_creates_the_user_with_mapped_teams(teams):
    backend = TeamMappingOIDCBackend()
    user = backend.create_user(_claims(groups=["aws-readers", "unrelated"]))

    assert user.username == "dana@example.com"
    assert user.first_name == "Dana"
    assert not user.has_usable_password()
    assert not user.is_staff
    assert _roles(user) == {"Platform": "member"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.TEAMS_SYNCED)
    assert event.details == {"joined": ["Platform (member)"]}


@oidc_settings()
def test_every_sso_sign_in_sets_mapped_teams_and_leaves_others(teams):
    backend = TeamMappingOIDCBackend()
    user = backend.create_user(_claims(groups=["aws-readers", "aws-data"]))
    Membership.objects.create(user=user, team=teams["Ops"])  # set by hand

    # Promoted in the provider (admin wins over member), and out of aws-data.
    backend.update_user(user, _claims(groups=["aws-platform", "aws-readers"]))
    assert _roles(user) == {"Platform": "admin", "Ops": "member"}

    # Out of every mapped group: only the hand-made membership is left.
    backend.update_user(user, _claims(groups=[]))
    assert _roles(user) == {"Ops": "member"}


@oidc_settings()
def test_sso_finds_an_existing_user_by_verified_email(teams):
    alice = make_user("alice")
    alice.email = "Alice@Example.com"
    alice.save()
    backend = TeamMappingOIDCBackend()

    found = backend.filter_users_by_claims(_claims(email="alice@example.com"))
    assert list(found) == [alice]
    assert not backend.verify_claims(_claims(email_verified=False))
    assert backend.verify_claims(_claims())


# -- The login page ---------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_offers_sso_only_when_configured(client):
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page
    assert client.get(reverse("oidc_authentication_init")).status_code == 404

    with oidc_settings():
        page = client.get(reverse("login") + "?next=/scans/").content.decode()
        assert "Sign in with Acme SSO" in page
        assert f"{reverse('oidc_authentication_init')}?next=/scans/" in page
        # Local accounts keep working beside it.
        assert 'name="password"' in page
        failed = client.get(reverse("login") + "?sso=failed").content.decode()
        assert "Sign-in with Acme SSO did not complete" in failed


# -- The whole flow against a small provider in the test ------------------------------


class Provider:
    """Token, userinfo and JWKS endpoints of an OpenID provider, on loopback."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.nonce = ""
        self.code_challenge = ""
        self.claims: dict = {}
        self.token_requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers["Content-Length"])
                form = parse_qs(self.rfile.read(length).decode())
                provider.token_requests.append(form)
                self._json(provider.token_response(form))

            def do_GET(self):
                if self.path == "/jwks":
                    jwk = json.loads(
                        jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key())
                    )
                    self._json({"keys": [{**jwk, "kid": "k1", "alg": "RS256"}]})
                elif self.headers.get("Authorization") == "Bearer access-1":
                    self._json({"sub": "u-1", **provider.claims})
                else:
                    self.send_response(401)
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token_response(self, form: dict) -> dict:
        verifier = form["code_verifier"][0]
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert challenge == self.code_challenge, "PKCE verifier does not match"
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": ISSUER,
                "aud": CLIENT_ID,
                "sub": "u-1",
                "nonce": self.nonce,
                "iat": now,
                "exp": now + 300,
            },
            self.key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        return {
            "id_token": id_token,
            "access_token": "access-1",
            "token_type": "Bearer",
        }


@pytest.fixture
def provider():
    provider = Provider()
    yield provider
    provider.server.shutdown()


@pytest.mark.django_db
def test_sso_sign_in_end_to_end(client, provider, teams):
    provider.claims = {
        "email": "dana@example.com",
        "email_verified": True,
        "groups": ["aws-platform"],
    }
    with oidc_settings(base=provider.base):
        start = client.get(reverse("oidc_authentication_init") + "?next=/scans/")
        assert start.status_code == 302
        location = urlsplit(start["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == (
            f"{provider.base}/authorize"
        )
        query = parse_qs(location.query)
        provider.nonce = query["nonce"][0]
        provider.code_challenge = query["code_challenge"][0]

        back = client.get(
            reverse("oidc_authentication_callback"),
            {"code": "code-1", "state": query["state"][0]},
        )
        assert back.status_code == 302
        assert back["Location"] == "/scans/"
        assert client.get("/scans/").status_code == 200

    assert provider.token_requests[0]["client_secret"] == ["client-secret-value"]
    membership = Membership.objects.get(user__username="dana@example.com")
    assert (membership.team.name, membership.role) == ("Platform", "admin")
    signed_in = AuditEvent.objects.get(action=AuditEvent.Action.SIGNIN)
    assert signed_in.details == {"method": "single sign-on"}


@pytest.mark.django_db
def test_sso_rejects_a_token_for_another_client(client, provider, teams):
    provider.claims = {"email": "dana@example.com", "groups": ["aws-platform"]}
    with oidc_settings(base=provider.base, OIDC_RP_CLIENT_ID="other-client"):
        start = client.get(reverse("oidc_authentication_init"))
        query = parse_qs(urlsplit(start["Location"]).query)
        provider.nonce = query["nonce"][0]
        provider.code_challenge = query["code_challenge"][0]
        back = client.get(
            reverse("oidc_authentication_callback"),
            {"code": "code-1", "state": query["state"][0]},
        )
    assert back.status_code == 400
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.exists()


# -- Login throttling ---------------------------------------------------------------


def _login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_username_from_that_address(client):
    make_user("alice")
    make_user("bob")
    for _ in range(2):
        assert _login(client, "alice", "wrong-password").status_code == 200
    # The third failure locks: the page says so.
    assert _login(client, "alice", "wrong-password").status_code == 429

    locked = _login(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session

    # Another user from the same address, and alice from another, still can.
    assert _login(client, "bob", PASSWORD).status_code == 302
    client.logout()
    assert _login(client, "alice", PASSWORD, ip="10.0.0.2").status_code == 302


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=2)
def test_a_lockout_ends_after_the_cool_off_or_axes_reset(client):
    make_user("alice")
    for _ in range(2):
        _login(client, "alice", "wrong-password")
    assert _login(client, "alice", PASSWORD).status_code == 429

    call_command("axes_reset")
    assert _login(client, "alice", PASSWORD).status_code == 302
    client.logout()

    for _ in range(2):
        _login(client, "alice", "wrong-password")
    assert _login(client, "alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(hours=1))
    assert _login(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=2)
def test_a_forged_forwarded_for_header_does_not_dodge_the_lockout(client):
    make_user("alice")
    for n in range(2):
        client.post(
            reverse("login"),
            {"username": "alice", "password": "wrong-password"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    again = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.99",
    )
    assert again.status_code == 429


@pytest.mark.django_db
@override_settings(PARAPET_TRUSTED_PROXY_COUNT=1, AXES_FAILURE_LIMIT=2)
def test_behind_a_trusted_proxy_the_forwarded_address_counts(client):
    make_user("alice")
    proxy = {"REMOTE_ADDR": "10.9.9.9"}
    for _ in range(2):
        client.post(
            reverse("login"),
            {"username": "alice", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7",
            **proxy,
        )
    blocked = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
        **proxy,
    )
    assert blocked.status_code == 429
    elsewhere = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.8",
        **proxy,
    )
    assert elsewhere.status_code == 302


# -- Sessions -------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_idle_session_expires(client):
    make_user("alice")
    assert _login(client, "alice", PASSWORD).status_code == 302
    assert client.get("/scans/").status_code == 200

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/scans/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_use_keeps_a_session_alive_at_most_once_a_minute(client, settings):
    make_user("alice")
    _login(client, "alice", PASSWORD)
    first = Session.objects.get().expire_date
    client.get("/scans/")
    assert Session.objects.get().expire_date == first  # no write a request

    session = client.session
    session[signin.SEEN_AT] = time.time() - signin.TOUCH_SECONDS - 1
    session.save()
    Session.objects.update(expire_date=timezone.now() + timedelta(seconds=30))
    assert client.get("/scans/").status_code == 200
    renewed = Session.objects.get().expire_date
    assert renewed > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 5)


@pytest.mark.django_db
def test_a_session_ends_at_its_lifetime_however_active(client, settings):
    make_user("alice")
    _login(client, "alice", PASSWORD)
    session = client.session
    session[signin.SIGNED_IN_AT] = time.time() - settings.PARAPET_SESSION_SECONDS - 1
    session.save()

    response = client.get("/scans/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    event = AuditEvent.objects.get(action=AuditEvent.Action.SIGNOUT)
    assert event.details == {"reason": "session lifetime reached"}


# -- Passwords ------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_rules():
    user = make_user("alice")
    user.email = "alice.liddell@example.com"
    for weak in ["short-1", "123456789012345", "password1234", "alice.liddell"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user)
    validate_password("tangerine-orbit-quarry", user)
