"""Single sign-on by OpenID Connect (mozilla-django-oidc), with teams from a claim.

Settings come from accounts/oidc_config.py. On every sign-in the provider's
groups claim decides the user's memberships of the teams PARAPET_OIDC_TEAM_MAP
names: mapped teams the user is no longer in a group for are left, unmapped
teams (set by hand in the admin) are never touched. Staff status is never
granted by the provider.

A user is found by a verified email address, so a local account with that
email signs in by SSO as itself; a new user is named by that email and has no
usable password. The ID token's issuer and audience are checked here: the
library leaves both to the application.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from accounts import audit
from accounts.models import Membership, Team

log = logging.getLogger(__name__)

_RANK = {Membership.Role.MEMBER: 0, Membership.Role.ADMIN: 1}


def groups_of(claims: dict) -> list[str]:
    """The groups claim as a list of names (a lone string is one group)."""
    value = claims.get(settings.PARAPET_OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def wanted_roles(groups: list[str]) -> dict[str, str]:
    """{team name: role} the groups grant; a team reached twice keeps the higher."""
    wanted: dict[str, str] = {}
    for group in groups:
        if group not in settings.PARAPET_OIDC_TEAM_MAP:
            continue
        team, role = settings.PARAPET_OIDC_TEAM_MAP[group]
        if team not in wanted or _RANK[role] > _RANK[wanted[team]]:
            wanted[team] = role
    return wanted


@transaction.atomic
def sync_teams(user, groups: list[str]) -> dict[str, list[str]]:
    """Set the user's memberships of mapped teams from their groups.

    Returns what changed ({"joined", "left", "role"}: team names), empty
    lists when nothing did.
    """
    mapped = {team for team, _ in settings.PARAPET_OIDC_TEAM_MAP.values()}
    wanted = wanted_roles(groups)
    teams = {t.name: t for t in Team.objects.filter(name__in=mapped)}
    for name in sorted(set(wanted) - set(teams)):
        log.warning("PARAPET_OIDC_TEAM_MAP names team %r, which does not exist", name)
    current = {
        m.team.name: m
        for m in Membership.objects.filter(user=user, team__name__in=mapped)
        .select_related("team")
        .select_for_update()
    }
    changed: dict[str, list[str]] = {"joined": [], "left": [], "role": []}
    for name, membership in current.items():
        if name not in wanted:
            membership.delete()
            changed["left"].append(name)
        elif membership.role != wanted[name]:
            membership.role = wanted[name]
            membership.save(update_fields=["role"])
            changed["role"].append(f"{name}: {wanted[name]}")
    for name, role in wanted.items():
        if name in teams and name not in current:
            Membership.objects.create(team=teams[name], user=user, role=role)
            changed["joined"].append(f"{name} ({role})")
    return changed


class TeamMappingOIDCBackend(OIDCAuthenticationBackend):
    """Creates or updates the user and sets their teams on every SSO sign-in."""

    def verify_token(self, token, **kwargs) -> dict:
        payload = super().verify_token(token, **kwargs)
        if payload.get("iss") != settings.PARAPET_OIDC_ISSUER:
            raise SuspiciousOperation("ID token from another issuer")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience or []
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client")
        return payload

    def get_userinfo(self, access_token, id_token, payload) -> dict:
        """Userinfo claims over the ID token's (groups may be in either)."""
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo is about another subject")
        return {**payload, **userinfo}

    def verify_claims(self, claims: dict) -> bool:
        # An address the provider has not verified could be anyone's.
        return bool(claims.get("email")) and claims.get("email_verified") is not False

    def filter_users_by_claims(self, claims: dict):
        email = claims.get("email")
        if not email:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email)

    def create_user(self, claims: dict):
        username = claims["email"].lower()
        if self.UserModel.objects.filter(username__iexact=username).exists():
            raise SuspiciousOperation(
                "a local user has this email as username but another email"
            )
        user = self.UserModel.objects.create_user(username, email=claims["email"])
        return self.update_user(user, claims)

    def update_user(self, user, claims: dict):
        names = {
            "first_name": str(claims.get("given_name", ""))[:150],
            "last_name": str(claims.get("family_name", ""))[:150],
        }
        if any(getattr(user, k) != v for k, v in names.items()):
            for key, value in names.items():
                setattr(user, key, value)
            user.save(update_fields=list(names))
        changed = sync_teams(user, groups_of(claims))
        if any(changed.values()):
            audit.record(
                audit.Action.TEAMS_SYNCED,
                actor=user,
                request=getattr(self, "request", None),
                target=user,
                details={k: v for k, v in changed.items() if v},
            )
        return user


def _sso_only(view):
    """The SSO views answer 404 while single sign-on is off."""

    @login_not_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.PARAPET_OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return view(request, *args, **kwargs)

    return wrapped


class SignInCallbackView(OIDCAuthenticationCallbackView):
    """Back from the provider; a failure lands on the login page with a note."""

    @property
    def failure_url(self) -> str:
        return f"{reverse('login')}?sso=failed"


start = _sso_only(OIDCAuthenticationRequestView.as_view())
callback = _sso_only(SignInCallbackView.as_view())
