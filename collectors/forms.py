from django import forms

from collectors.base import COLLECTORS
from collectors.pipeline import all_regions


class ScopeForm(forms.Form):
    """Which services and regions an organization's scans cover."""

    services = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means every service.",
    )
    regions = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means every region enabled in each account.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].choices = [(s, s) for s in sorted(COLLECTORS)]
        self.fields["regions"].choices = [(r, r) for r in all_regions()]

    def clean_services(self) -> list[str]:
        chosen = sorted(self.cleaned_data["services"])
        # All ticked is the same as none: new services join automatically.
        return [] if set(chosen) == set(COLLECTORS) else chosen

    def clean_regions(self) -> list[str]:
        return sorted(self.cleaned_data["regions"])
