from django.urls import path

from collectors import views

app_name = "collectors"

urlpatterns = [
    path("", views.scan_list, name="scans"),
    path("<int:scan_id>/", views.scan_detail, name="scan"),
    path("organizations/<int:pk>/scope/", views.organization_scope, name="scope"),
]
