"""Query-string filters for lists; a filtered URL is a shareable view."""

from django import forms
from django.db.models import Q, QuerySet

from accounts.models import Account
from findings import sections
from findings.explorer import QuickSelect, account_choices


def _section_choices() -> list[tuple[str, str]]:
    """Every section that controls can score, indented under its groupings."""
    return [("", "All sections")] + [
        (s.slug, "\u2003" * s.depth + s.title)
        for s in sections.SECTIONS
        if s.kind != "informational"
    ]


class FindingFilterForm(forms.Form):
    """Filters the findings lists (control and account pages).

    ``section`` keeps the findings of the controls mapped to a section or to
    any section below it (a cell of the overview's heat-map links here).
    """

    STATUS_CHOICES = [
        ("", "Failing and errors"),
        ("FAIL", "Failing"),
        ("ERROR", "Errors"),
    ]

    # Rendered in Python: a template per option made them most of the list.
    status = forms.ChoiceField(
        choices=STATUS_CHOICES, required=False, widget=QuickSelect
    )
    account = forms.ModelChoiceField(
        queryset=Account.objects.none(),
        required=False,
        empty_label="All accounts",
        widget=QuickSelect,
    )
    section = forms.ChoiceField(
        choices=_section_choices, required=False, widget=QuickSelect
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Resource",
        widget=forms.TextInput(attrs={"placeholder": "Name, id or ARN contains…"}),
    )

    def __init__(self, data=None, *, accounts: QuerySet | None = None, **kwargs):
        super().__init__(data, **kwargs)
        if accounts is None:
            del self.fields["account"]
        else:
            self.fields["account"].queryset = accounts
            self.fields["account"].widget.choices = account_choices(accounts)

    @property
    def account_pks(self) -> list[int]:
        """The account select's accounts, in its order (by name): no query."""
        return [pk for pk, _label in self.fields["account"].widget.choices if pk != ""]

    def filter(self, findings: QuerySet) -> QuerySet:
        """Not passing findings narrowed by the valid filters (invalid: ignored)."""
        statuses = ["FAIL", "ERROR"]
        if not self.is_valid():
            return findings.filter(status__in=statuses)
        data = self.cleaned_data
        if data.get("status"):
            statuses = [data["status"]]
        findings = findings.filter(status__in=statuses)
        if data.get("account"):
            findings = findings.filter(account=data["account"])
        if data.get("section"):
            controls = sections.controls_in(data["section"], include_descendants=True)
            findings = findings.filter(control_id__in=[c.id for c in controls])
        if data.get("q"):
            term = data["q"]
            findings = findings.filter(
                Q(resource__name__icontains=term)
                | Q(resource__resource_id__icontains=term)
                | Q(resource__arn__icontains=term)
            )
        return findings
