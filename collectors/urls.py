from django.urls import path

from collectors import views

app_name = "collectors"

urlpatterns = [
    path("", views.scan_list, name="scans"),
    path("<int:scan_id>/", views.scan_detail, name="scan"),
    path("<int:scan_id>/cancel/", views.scan_cancel, name="cancel"),
    path("<int:scan_id>/resume/", views.scan_resume, name="resume"),
    path("organizations/<int:pk>/scan/", views.scan_now, name="scan_now"),
    path(
        "organizations/<int:pk>/schedule/",
        views.organization_schedule,
        name="schedule",
    ),
    path("organizations/<int:pk>/scope/", views.organization_scope, name="scope"),
]
