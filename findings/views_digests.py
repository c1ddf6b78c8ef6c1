"""Email digest pages: a user's subscription, a preview, and unsubscribing.

The settings and preview pages act on the signed-in user's own subscription
only (``_get_subscription_for_user``); the choices they offer come from the
user's teams and ``Account.objects.for_user``. Unsubscribing works from the
email without signing in: the link carries a signed token, and only a POST
(the page's button, or a mail client's RFC 8058 one-click request) changes
anything, so a link scanner fetching the URL unsubscribes no one.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts import audit
from accounts.models import Account, Team
from findings import digests, sections
from findings.controls import REGISTRY
from findings.digest_content import build_content
from findings.models import DigestSubscription, SentDigest, time_zone_names

HISTORY = 10


def _section_choices() -> list[tuple[str, str]]:
    """Sections that have controls (themselves or below), in tree order."""
    scored = {c.section for c in REGISTRY.values()}
    return [
        (s.slug, s.title)
        for s in sections.SECTIONS
        if any(x == s.slug or x.startswith(s.slug + "/") for x in scored)
    ]


class DigestSettingsForm(forms.ModelForm):
    hour = forms.TypedChoiceField(
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        help_text="In your time zone.",
    )
    timezone = forms.ChoiceField(label="Time zone")
    sections = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every section. A section includes those below it.",
    )

    class Meta:
        model = DigestSubscription
        fields = [
            "active",
            "frequency",
            "weekday",
            "hour",
            "timezone",
            "teams",
            "accounts",
            "sections",
            "min_severity",
        ]
        labels = {
            "active": "Send me email digests",
            "weekday": "Day (weekly digests)",
            "min_severity": "Minimum severity",
        }
        help_texts = {
            "teams": "Accounts of these teams.",
            "accounts": "And these accounts. None chosen here or in teams: every "
            "account you may see.",
            "min_severity": "New failures and resolved findings of lower severity "
            "are left out. Pass rates always count every control.",
        }
        widgets = {
            "frequency": forms.RadioSelect,
            "teams": forms.CheckboxSelectMultiple,
            "accounts": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.all() if user.is_staff else user.teams.all()
        self.fields["teams"].queryset = teams.order_by("name")
        self.fields["accounts"].queryset = Account.objects.for_user(
            user
        ).select_related("organization")
        self.fields["timezone"].choices = [(z, z) for z in sorted(time_zone_names())]
        self.fields["sections"].choices = _section_choices()


def _get_subscription_for_user(request: HttpRequest) -> DigestSubscription:
    """The user's subscription, or an unsaved one with the defaults."""
    found = DigestSubscription.objects.filter(user=request.user).first()
    return found or DigestSubscription(user=request.user)


@require_http_methods(["GET", "POST"])
def digest_settings(request: HttpRequest) -> HttpResponse:
    subscription = _get_subscription_for_user(request)
    saved = subscription.pk is not None
    if request.method == "POST":
        form = DigestSettingsForm(
            request.POST, instance=subscription, user=request.user
        )
        if form.is_valid():
            before = {name: form.initial.get(name) for name in form.changed_data}
            subscription = form.save()
            audit.record_change(
                audit.Action.DIGEST_CHANGED,
                target=subscription,
                before=before,
                after={name: form.cleaned_data[name] for name in form.changed_data},
                actor=request.user,
                request=request,
            )
            if subscription.active:
                when = subscription.next_slot(timezone.now())
                local = when.astimezone(subscription.zone)
                messages.success(
                    request,
                    f"Saved. Your next digest is due {local:%A %d %B at %H:%M} "
                    f"({subscription.timezone}).",
                )
            else:
                messages.success(request, "Saved. You will not receive digests.")
            return redirect("findings:digest_settings")
    else:
        form = DigestSettingsForm(instance=subscription, user=request.user)
    next_slot = (
        subscription.next_slot(timezone.now())
        if saved and subscription.active
        else None
    )
    context = {
        "form": form,
        "subscription": subscription,
        "saved": saved,
        "next_slot": next_slot,
        "history": SentDigest.objects.filter(user=request.user)[:HISTORY],
        "crumbs": [],
    }
    return render(request, "findings/digest_settings.html", context)


def digest_preview(request: HttpRequest) -> HttpResponse:
    """The digest this user would get if it went out now (HTML or ?format=text)."""
    subscription = _get_subscription_for_user(request)
    start, end = digests.period_for(subscription, timezone.now(), force=True)
    content = build_content(subscription, start, end)
    unsubscribe = (
        digests.unsubscribe_url(subscription) if subscription.pk is not None else ""
    )
    subject, text, html = digests.render(content, unsubscribe=unsubscribe)
    if request.GET.get("format") == "text":
        return HttpResponse(
            f"Subject: {subject}\n\n{text}", content_type="text/plain; charset=utf-8"
        )
    response = HttpResponse(html)
    # Email HTML carries inline styles; it runs no script and loads nothing.
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'none'; form-action 'none'"
    )
    return response


@login_not_required
@csrf_exempt  # the signed token is the credential; mail clients POST without CSRF
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    context = {"unsubscribe": True, "crumbs": []}
    try:
        subscription = digests.subscription_for_token(token)
    except signing.BadSignature:
        context["invalid"] = True
        return render(request, "findings/digest_settings.html", context, status=404)
    context["subscription"] = subscription
    if request.method == "POST":
        if subscription is not None and digests.unsubscribe(subscription):
            audit.record(
                audit.Action.DIGEST_CHANGED,
                target=subscription,
                actor_label="unsubscribe link",
                request=request,
                details={"changes": {"active": ["True", "False"]}},
            )
        context["done"] = True
    return render(request, "findings/digest_settings.html", context)
