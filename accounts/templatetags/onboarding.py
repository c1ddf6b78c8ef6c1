from django import template

from accounts.onboarding import administered_organizations

register = template.Library()


@register.filter
def connects_organizations(user) -> bool:
    """Whether the main navigation offers Organizations: staff and team admins.

    Cached on the user object, so a page asks the database at most once.
    """
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if not hasattr(user, "_parapet_connects_organizations"):
        user._parapet_connects_organizations = administered_organizations(user).exists()
    return user._parapet_connects_organizations
