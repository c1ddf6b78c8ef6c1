"""The audit log: sign-ins, and who changed exceptions, scan scope, schedules and
digest settings.

``record`` is the one writer. Callers in collectors and findings import this
module (never the reverse), pass what changed as display strings, and
``record`` drops any detail whose name says it holds a secret, so a careless
caller cannot put a password or token in the log. Sign-ins are recorded from
Django's and django-axes' signals (``connect_signals``, called by the app
config): a failure keeps the username tried, never the password.
"""

import ipaddress
import os
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.http import HttpRequest

from accounts.models import AuditEvent

Action = AuditEvent.Action

# Detail keys never stored, whatever a caller passes.
_SECRET_KEY = re.compile(r"pass|secret|token|key|credential|cookie", re.IGNORECASE)
REDACTED = "[redacted]"


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: X-Forwarded-For only through trusted proxies.

    With PARAPET_TRUSTED_PROXY_COUNT=n, the n-th address from the right of
    X-Forwarded-For is the client (each trusted proxy appends the address it
    saw); addresses further left are whatever the client sent. Also
    django-axes' AXES_CLIENT_IP_CALLABLE, so lockouts and the log agree.
    """
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR")
    proxies = settings.PARAPET_TRUSTED_PROXY_COUNT
    if proxies:
        hops = [
            h.strip()
            for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if h.strip()
        ]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None


def _scrub(details: Any) -> Any:
    if isinstance(details, dict):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) else _scrub(v)
            for k, v in details.items()
        }
    if isinstance(details, list | tuple):
        return [_scrub(v) for v in details]
    if details is None or isinstance(details, bool | int | float | str):
        return details
    return str(details)


def record(
    action: str,
    *,
    actor=None,
    actor_label: str = "",
    request: HttpRequest | None = None,
    target: Any = None,
    target_type: str = "",
    target_id: str | int = "",
    target_label: str = "",
    details: dict | None = None,
    at=None,
) -> AuditEvent:
    """Write one audit line. ``target`` (a model instance) fills the target_*."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
        target_label = target_label or str(target)
    fields = {
        "actor": actor,
        "actor_label": (actor.get_username() if actor else actor_label)[:255],
        "action": action,
        "target_type": target_type[:64],
        "target_id": str(target_id)[:64],
        "target_label": target_label[:255],
        "ip": client_ip(request),
        "details": _scrub(details or {}),
    }
    if at is not None:
        fields["at"] = at
    return AuditEvent.objects.create(**fields)


def changes(before: dict, after: dict) -> dict[str, list[str]]:
    """{field: [old, new]} for the fields whose display value changed.

    Callers pass it as ``details={"changes": ...}``, which the page shows as
    old → new.
    """
    return {
        name: [_display(before.get(name)), _display(value)]
        for name, value in after.items()
        if _display(before.get(name)) != _display(value)
    }


def record_change(
    action: str, *, target: Any, before: dict, after: dict, **kwargs
) -> AuditEvent | None:
    """One line for a settings change, or none when nothing changed."""
    changed = changes(before, after)
    if not changed:
        return None
    return record(action, target=target, details={"changes": changed}, **kwargs)


def command_actor(command: str) -> str:
    """Who ran a management command: the operating-system user, as far as known."""
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown user"
    return f"manage.py {command} ({user})"


def scope_of(organization) -> dict:
    """An organization's scan scope as the log shows it (empty means every one)."""
    return {
        "services": organization.services or "all",
        "regions": organization.regions or "all enabled",
    }


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        # Lists, sets and querysets (a form's many-to-many choices).
        return ", ".join(sorted(str(v) for v in value)) or "(none)"
    return str(value)


# -- Sign-in signals ------------------------------------------------------------------


def _signed_in(sender, request, user, **kwargs) -> None:
    backend = getattr(user, "backend", "") or ""
    method = "single sign-on" if backend.endswith("OIDCBackend") else "password"
    record(
        Action.SIGNIN,
        actor=user,
        request=request,
        target=user,
        details={"method": method},
    )


def _signed_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        reason = getattr(request, "signout_reason", "")
        details = {"reason": reason} if reason else {}
        record(
            Action.SIGNOUT, actor=user, request=request, target=user, details=details
        )


def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``; only the
    # username tried is kept.
    username = str(credentials.get("username", ""))[:150]
    record(
        Action.SIGNIN_FAILED,
        actor_label=username,
        request=request,
        target_type="auth.user",
        target_label=username,
    )


def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    record(
        Action.LOCKED_OUT,
        actor_label=username or "",
        request=request,
        target_type="auth.user",
        target_label=username or "",
        details={"failure_limit": settings.AXES_FAILURE_LIMIT},
    )


def connect_signals() -> None:
    from axes.signals import user_locked_out

    user_logged_in.connect(_signed_in, dispatch_uid="audit_signed_in")
    user_logged_out.connect(_signed_out, dispatch_uid="audit_signed_out")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="audit_sign_in_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="audit_locked_out")
