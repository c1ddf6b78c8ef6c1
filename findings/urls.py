from django.urls import path

from findings import views

app_name = "findings"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("sections/<path:slug>/", views.section_detail, name="section"),
    path("controls/<str:control_id>/", views.control_detail, name="control"),
    path("accounts/<int:account_pk>/", views.account_detail, name="account"),
    path("resources/<int:resource_pk>/", views.resource_detail, name="resource"),
    path("frameworks/", views.framework_list, name="frameworks"),
    path("frameworks/<slug:slug>/", views.framework_detail, name="framework"),
]
