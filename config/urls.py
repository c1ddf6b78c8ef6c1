from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from accounts import oidc, signin


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
def favicon(request):
    """Pages without an icon link (the admin, error pages) make browsers ask here."""
    return HttpResponseRedirect(static("parapet/favicon.svg"))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", signin.SignInView.as_view(), name="login"),
    # Single sign-on (404 unless configured); mozilla-django-oidc's URL names.
    path("accounts/sso/start/", oidc.start, name="oidc_authentication_init"),
    path("accounts/sso/callback/", oidc.callback, name="oidc_authentication_callback"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("scans/", include("collectors.urls")),
    path("organizations/", include("collectors.urls_organizations")),
    path("audit/", include("findings.urls_audit")),
    path("", include("findings.urls")),
]
