from django.urls import path

from collectors import views_organizations as views

app_name = "organizations"

urlpatterns = [
    path("", views.organization_list, name="organizations"),
    path("<int:pk>/onboarding/", views.onboarding_page, name="onboarding"),
    path(
        "<int:pk>/onboarding/parapet-audit-role.yaml",
        views.audit_role_template,
        name="audit_role_template",
    ),
    path(
        "<int:pk>/onboarding/connection-test/",
        views.connection_test,
        name="connection_test",
    ),
]
