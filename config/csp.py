"""The Content-Security-Policy middleware, with one exception for the admin."""

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

# django-celery-beat 2.9.0's periodic-task form
# (admin/djcelery/change_periodictask_form.html) has one inline script, which
# shows a crontab's meaning beside the field. Allowing that exact script by its
# hash, on admin pages only, keeps 'unsafe-inline' out of every policy. A new
# django-celery-beat changes the hash: the browser test of the admin page says so.
ADMIN_SCRIPT_HASHES = ["'sha256-QE3U2xYF7B4J2ro1/9oxiKhaWCGW39gB7ocQ/xlD0bE='"]


class ParapetCSPMiddleware(CSPMiddleware):
    """django-csp's middleware; admin pages may also run the hashed scripts."""

    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = request.resolver_match
        if match is not None and match.app_name == "admin" and parts.update is None:
            parts.update = {"script-src": ADMIN_SCRIPT_HASHES}
        return parts
