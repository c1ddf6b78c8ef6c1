"""Single sign-on settings from the environment, read once by config/settings.py.

OpenID Connect is on only when PARAPET_OIDC_ISSUER, PARAPET_OIDC_CLIENT_ID and
PARAPET_OIDC_CLIENT_SECRET are all set. The provider's endpoints are given
explicitly (no discovery request at start-up: start-up needs no network), and
every malformed value stops start-up with the variable's name. This module
imports no model, so the settings module can import it.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import env_str

REQUIRED = (
    "PARAPET_OIDC_ISSUER",
    "PARAPET_OIDC_CLIENT_ID",
    "PARAPET_OIDC_CLIENT_SECRET",
)
ENDPOINTS = {
    "authorization": "PARAPET_OIDC_AUTHORIZATION_ENDPOINT",
    "token": "PARAPET_OIDC_TOKEN_ENDPOINT",
    "userinfo": "PARAPET_OIDC_USERINFO_ENDPOINT",
    "jwks": "PARAPET_OIDC_JWKS_ENDPOINT",
}
# Asymmetric algorithms verify with the provider's published keys (JWKS);
# HS256 verifies with the client secret.
SIGN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256")
ROLES = ("member", "admin")


@dataclass(frozen=True)
class OIDCConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    endpoints: dict[str, str]
    sign_algo: str
    groups_claim: str
    # Provider group -> (team name, membership role).
    team_map: dict[str, tuple[str, str]]
    display_name: str
    scopes: str


def read_oidc_config(*, production: bool) -> OIDCConfig | None:
    """The single sign-on settings, or None when it is not configured."""
    values = {name: env_str(name).strip() for name in REQUIRED}
    given = [name for name, value in values.items() if value]
    if not given:
        return None
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        raise ImproperlyConfigured(
            f"{', '.join(missing)} must be set too: single sign-on needs "
            f"{', '.join(REQUIRED)} (set by {', '.join(given)})"
        )
    issuer = _url("PARAPET_OIDC_ISSUER", values["PARAPET_OIDC_ISSUER"], production)
    sign_algo = env_str("PARAPET_OIDC_SIGN_ALGO", "RS256").strip()
    if sign_algo not in SIGN_ALGORITHMS:
        raise ImproperlyConfigured(
            f"PARAPET_OIDC_SIGN_ALGO must be one of {', '.join(SIGN_ALGORITHMS)}, "
            f"got {sign_algo!r}"
        )
    endpoints = {}
    for key, name in ENDPOINTS.items():
        raw = env_str(name).strip()
        if not raw and key == "jwks" and sign_algo == "HS256":
            continue
        if not raw:
            raise ImproperlyConfigured(
                f"{name} must be set when single sign-on is on (the provider's "
                "discovery document names it; Parapet does not fetch it at start-up)"
            )
        endpoints[key] = _url(name, raw, production)
    groups_claim = env_str("PARAPET_OIDC_GROUPS_CLAIM", "groups").strip()
    if not groups_claim:
        raise ImproperlyConfigured("PARAPET_OIDC_GROUPS_CLAIM must not be empty")
    # Providers put groups in the ID token or userinfo by a scope of their own
    # ("groups") or by a mapper: add that scope here when yours needs one.
    scopes = " ".join(env_str("PARAPET_OIDC_SCOPES", "openid email profile").split())
    if "openid" not in scopes.split() or "email" not in scopes.split():
        raise ImproperlyConfigured(
            f"PARAPET_OIDC_SCOPES must include openid and email, got {scopes!r}"
        )
    return OIDCConfig(
        issuer=issuer,
        client_id=values["PARAPET_OIDC_CLIENT_ID"],
        client_secret=values["PARAPET_OIDC_CLIENT_SECRET"],
        endpoints=endpoints,
        sign_algo=sign_algo,
        groups_claim=groups_claim,
        team_map=parse_team_map(env_str("PARAPET_OIDC_TEAM_MAP")),
        display_name=env_str("PARAPET_OIDC_NAME", "single sign-on").strip()
        or "single sign-on",
        scopes=scopes,
    )


def _url(name: str, raw: str, production: bool) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {raw!r}")
    # Tokens and the client secret travel to these URLs.
    if production and parts.scheme != "https":
        raise ImproperlyConfigured(
            f"{name} must be an https URL when PARAPET_ENV=production, got {raw!r}"
        )
    return raw


def parse_team_map(raw: str) -> dict[str, tuple[str, str]]:
    """``"idp-group=Team Name:admin,other=Team B"`` as {group: (team, role)}.

    The role is ``member`` unless the team name ends in ``:member`` or ``:admin``.
    """
    mapping: dict[str, tuple[str, str]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        group, sep, target = (s.strip() for s in item.partition("="))
        if not sep or not group or not target:
            raise ImproperlyConfigured(
                "PARAPET_OIDC_TEAM_MAP entries must read group=Team name[:role], "
                f"got {item!r}"
            )
        team, role = target, "member"
        head, colon, tail = target.rpartition(":")
        if colon and tail.strip() in ROLES:
            team, role = head.strip(), tail.strip()
        elif colon and tail.strip().isidentifier():
            raise ImproperlyConfigured(
                f"PARAPET_OIDC_TEAM_MAP role must be member or admin, got {tail!r} "
                f"in {item!r}"
            )
        if not team:
            raise ImproperlyConfigured(
                f"PARAPET_OIDC_TEAM_MAP entry {item!r} names no team"
            )
        if group in mapping:
            raise ImproperlyConfigured(
                f"PARAPET_OIDC_TEAM_MAP maps group {group!r} twice"
            )
        mapping[group] = (team, role)
    return mapping
