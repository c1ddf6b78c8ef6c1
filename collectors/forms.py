import functools
import zoneinfo

from django import forms

from collectors import schedule
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


@functools.cache
def _time_zones() -> list[str]:
    """IANA zones people pick (Area/City), UTC first."""
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z)
    return ["UTC", *(z for z in zones if not z.startswith(("Etc/", "SystemV/")))]


class ScheduleForm(forms.Form):
    """An organization's scan schedule: a cron expression, its zone, on or off."""

    cron = forms.CharField(
        label="Cron expression",
        max_length=200,
        help_text="Five fields: minute, hour, day of month, month, day of week. "
        "“0 2 * * *” is 02:00 every day; “30 6 * * mon-fri” is 06:30 on weekdays.",
        widget=forms.TextInput(
            attrs={"class": "mono", "spellcheck": "false", "autocomplete": "off"}
        ),
    )
    timezone = forms.ChoiceField(label="Time zone")
    enabled = forms.BooleanField(
        label="Run scheduled scans", required=False, initial=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(z, z) for z in _time_zones()]

    def clean_cron(self) -> str:
        cron = " ".join(self.cleaned_data["cron"].split())
        schedule.parse_cron(cron)
        return cron
