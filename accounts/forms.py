from django import forms

from accounts.models import Organization


class ConnectionTestForm(forms.Form):
    """Which account of the organization to try the member role in.

    The choices are the accounts the user may see; staff also get the
    management account before discovery has added it.
    """

    account = forms.ChoiceField(label="Account")

    def __init__(
        self, data=None, *, organization: Organization, accounts: list, staff: bool
    ):
        choices = [(a.account_id, _label(a.name, a.account_id)) for a in accounts]
        management = organization.management_account_id
        listed = {value for value, _ in choices}
        if management in listed:
            choices.sort(key=lambda choice: choice[0] != management)
        elif staff:
            choices.insert(0, (management, _label("", management)))
        choices = [
            (value, f"{label} · management account" if value == management else label)
            for value, label in choices
        ]
        super().__init__(data, initial={"account": choices[0][0] if choices else ""})
        self.fields["account"].choices = choices


def _label(name: str, account_id: str) -> str:
    return f"{name} ({account_id})" if name else account_id
