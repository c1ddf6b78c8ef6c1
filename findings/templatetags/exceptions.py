"""Template filters for the exceptions entry points on the findings pages.

The findings lists are rendered by several views; asking here whether the user
may create an exception on a finding's account keeps those views unchanged.
"""

from django import template

from findings.suppressions import administered_account_ids

register = template.Library()


@register.filter
def may_except(user, account_id: int) -> bool:
    """Whether ``user`` may create an exception on the account's findings.

    The accounts the user administers are read once per request (cached on
    the request's user object), however many rows ask.
    """
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_parapet_administered_accounts", None)
    if cached is None:
        cached = administered_account_ids(user)
        user._parapet_administered_accounts = cached
    return account_id in cached
