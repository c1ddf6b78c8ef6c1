"""Forms of the exceptions pages: the lists' query-string filters, and the
create and edit forms (findings/views_exceptions.py)."""

from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from findings.explorer import QuickSelect, account_choices
from findings.models import MAX_SUPPRESSION, Suppression, SuppressionEvent
from findings.suppressions import validate_expiry, with_state

# -- Filters -----------------------------------------------------------------------


class ExceptionFilterForm(forms.Form):
    """Filters the exceptions list and its CSV export."""

    STATE_CHOICES = [
        ("", "In force"),
        ("expiring", "Expiring within 14 days"),
        ("expired", "Expired"),
        ("revoked", "Revoked"),
        ("all", "All"),
    ]

    state = forms.ChoiceField(choices=STATE_CHOICES, required=False)
    control = forms.ChoiceField(required=False)
    # Rendered in Python: Django renders a template per option, a thousand
    # times for a user who sees a thousand accounts.
    account = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="All accounts", widget=QuickSelect
    )
    scope = forms.ChoiceField(
        choices=[("", "Any scope"), *Suppression.Scope.choices], required=False
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "Reason, approver, target…"}),
    )

    def __init__(self, data=None, *, accounts: QuerySet, control_ids: list[str]):
        super().__init__(data)
        self.fields["account"].queryset = accounts
        self.fields["account"].widget.choices = account_choices(accounts)
        self.fields["control"].choices = [("", "All controls")] + [
            (c, c) for c in control_ids
        ]

    def filter(self, exceptions: QuerySet, now: datetime) -> QuerySet:
        """``exceptions`` with a ``state`` annotation, narrowed by the valid
        filters (an invalid filter is ignored: the default view)."""
        exceptions = with_state(exceptions, now)
        data = self.cleaned_data if self.is_valid() else {}
        state = data.get("state", "")
        if state == "":
            exceptions = exceptions.filter(state__in=["active", "expiring"])
        elif state != "all":
            exceptions = exceptions.filter(state=state)
        if data.get("control"):
            exceptions = exceptions.filter(control_id=data["control"])
        if data.get("account"):
            # An organization-wide exception covers the account too.
            account = data["account"]
            exceptions = exceptions.filter(
                Q(account=account)
                | Q(
                    scope=Suppression.Scope.CONTROL,
                    organization_id=account.organization_id,
                )
            )
        if data.get("scope"):
            exceptions = exceptions.filter(scope=data["scope"])
        if data.get("q"):
            term = data["q"]
            exceptions = exceptions.filter(
                Q(reason__icontains=term)
                | Q(approver__icontains=term)
                | Q(control_id__icontains=term)
                | Q(resource__name__icontains=term)
                | Q(resource__resource_id__icontains=term)
                | Q(resource__arn__icontains=term)
                | Q(account__name__icontains=term)
                | Q(account__account_id__icontains=term)
            )
        return exceptions

    @property
    def filtered(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


class EventFilterForm(forms.Form):
    """Filters the audit log page."""

    action = forms.ChoiceField(
        choices=[("", "Any action"), *SuppressionEvent.Action.choices], required=False
    )
    control = forms.ChoiceField(required=False)
    # Rendered in Python: Django renders a template per option, a thousand
    # times for a user who sees a thousand accounts.
    account = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="All accounts", widget=QuickSelect
    )

    def __init__(self, data=None, *, accounts: QuerySet, control_ids: list[str]):
        super().__init__(data)
        self.fields["account"].queryset = accounts
        self.fields["account"].widget.choices = account_choices(accounts)
        self.fields["control"].choices = [("", "All controls")] + [
            (c, c) for c in control_ids
        ]

    def filter(self, events: QuerySet) -> QuerySet:
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("control"):
            events = events.filter(suppression__control_id=data["control"])
        if data.get("account"):
            account = data["account"]
            events = events.filter(
                Q(suppression__account=account)
                | Q(
                    suppression__scope=Suppression.Scope.CONTROL,
                    suppression__organization_id=account.organization_id,
                )
            )
        return events

    @property
    def filtered(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


# -- Create and edit ---------------------------------------------------------------


def expiry_moment(day: date) -> datetime:
    """An exception "until <day>" ends at 00:00 UTC that day."""
    return datetime.combine(day, time.min, tzinfo=UTC)


class ExceptionFieldsForm(forms.Form):
    """Reason, approver and expiry: required at creation and on every change."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="Why the risk is accepted, and what mitigates it.",
    )
    approver = forms.CharField(
        max_length=200,
        help_text="Who accepted the risk (name or address).",
    )
    expires_on = forms.DateField(
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=f"Ends at 00:00 UTC that day; at most {MAX_SUPPRESSION.days} "
        "days ahead.",
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        today = self.now.astimezone(UTC).date()
        widget = self.fields["expires_on"].widget
        widget.attrs["min"] = (today + timedelta(days=1)).isoformat()
        widget.attrs["max"] = (today + MAX_SUPPRESSION).isoformat()

    def clean_reason(self) -> str:
        return self.cleaned_data["reason"].strip()

    def clean_expires_on(self) -> date:
        day = self.cleaned_data["expires_on"]
        validate_expiry(expiry_moment(day), self.now)
        return day

    @property
    def expires_at(self) -> datetime:
        return expiry_moment(self.cleaned_data["expires_on"])


class ExceptionCreateForm(ExceptionFieldsForm):
    """A new exception; ``scopes`` are the targets the page was opened for
    that the user may manage, as ``(value, label)``."""

    scope = forms.ChoiceField(widget=forms.RadioSelect, label="Covers")
    organization = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label=None,
        help_text="For an exception on the whole control.",
    )
    field_order = ["scope", "organization", "reason", "approver", "expires_on"]

    def __init__(
        self,
        *args,
        scopes: list[tuple[str, str]],
        organizations: QuerySet | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = scopes
        self.fields["scope"].initial = scopes[0][0]  # the narrowest
        if organizations is None:
            del self.fields["organization"]
        else:
            self.fields["organization"].queryset = organizations

    def clean(self) -> dict:
        data = super().clean()
        if (
            "organization" in self.fields
            and data.get("scope") == Suppression.Scope.CONTROL
            and not data.get("organization")
        ):
            raise ValidationError("Choose the organization.")
        return data


class ExceptionEditForm(ExceptionFieldsForm):
    """Change reason, approver or expiry of an exception in force."""

    @classmethod
    def for_exception(cls, suppression: Suppression, data=None, **kwargs):
        initial = {
            "reason": suppression.reason,
            "approver": suppression.approver,
            "expires_on": suppression.expires_at.astimezone(UTC).date(),
        }
        return cls(data, initial=initial, **kwargs)

    def clean_expires_on(self) -> date:
        day = self.cleaned_data["expires_on"]
        if day == self.initial.get("expires_on"):
            return day  # unchanged: not moved to 00:00 UTC, not re-checked
        return super().clean_expires_on()

    def values(self) -> dict:
        """The fields for ``suppressions.change``; an unchanged date keeps the
        exact expiry."""
        values = {
            "reason": self.cleaned_data["reason"],
            "approver": self.cleaned_data["approver"],
        }
        if self.cleaned_data["expires_on"] != self.initial.get("expires_on"):
            values["expires_at"] = self.expires_at
        return values
