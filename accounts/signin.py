"""The login page, its lockout answer, and how long a session lasts.

The login page offers single sign-on when it is configured, beside the local
username and password form. django-axes locks a username out from one address
after AXES_FAILURE_LIMIT failures (``lockout_response`` shows why, on the same
page). A session ends PARAPET_SESSION_SECONDS after sign-in, or when it has
been idle for SESSION_COOKIE_AGE seconds (``SessionLimitsMiddleware``).
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

SIGNED_IN_AT = "parapet_signed_in_at"
SEEN_AT = "parapet_seen_at"
# An idle session's expiry moves on with use, but at most once a minute: one
# session write a minute instead of one per request.
TOUCH_SECONDS = 60


def _sso_context(request: HttpRequest) -> dict:
    if not settings.PARAPET_OIDC_ENABLED:
        return {}
    return {
        "sso_name": settings.PARAPET_OIDC_NAME,
        "sso_failed": request.GET.get("sso") == "failed",
    }


class SignInView(LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), **_sso_context(self.request)}


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """The login page, saying the account is locked and for how long."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "cooloff_minutes": minutes,
        "next": request.POST.get("next", request.GET.get("next", "")),
        **_sso_context(request),
    }
    return render(request, "registration/login.html", context, status=429)


def mark_signed_in(sender, request, user, **kwargs) -> None:
    """Start the session's clock (a ``user_logged_in`` receiver)."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = request.session[SEEN_AT] = time.time()


class SessionLimitsMiddleware:
    """Ends sessions past their lifetime; keeps active ones from idling out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        now = time.time()
        session = request.session
        started = session.setdefault(SIGNED_IN_AT, now)
        if now - started > settings.PARAPET_SESSION_SECONDS:
            request.signout_reason = "session lifetime reached"
            # The user is anonymous from here on: LoginRequiredMiddleware
            # sends them to the login page.
            logout(request)
        elif now - session.get(SEEN_AT, 0) >= TOUCH_SECONDS:
            session[SEEN_AT] = now
