from django.urls import path

from findings import views, views_digests, views_exports

app_name = "findings"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("sections/<path:slug>/", views.section_detail, name="section"),
    path("controls/<str:control_id>/", views.control_detail, name="control"),
    path("accounts/<int:account_pk>/", views.account_detail, name="account"),
    path("resources/<int:resource_pk>/", views.resource_detail, name="resource"),
    path("frameworks/", views.framework_list, name="frameworks"),
    path("frameworks/<slug:slug>/", views.framework_detail, name="framework"),
    # Email digests (findings/views_digests.py); unsubscribing needs no login.
    path("digests/", views_digests.digest_settings, name="digest_settings"),
    path("digests/preview/", views_digests.digest_preview, name="digest_preview"),
    path(
        "digests/unsubscribe/<str:token>/",
        views_digests.unsubscribe,
        name="digest_unsubscribe",
    ),
    # CSV exports of the lists above (findings/views_exports.py). The scan
    # pages' exports are here because collectors must not import findings.
    path("controls.csv", views_exports.controls_csv, name="controls_csv"),
    path("accounts.csv", views_exports.accounts_csv, name="accounts_csv"),
    path("sections.csv", views_exports.sections_csv, name="sections_csv"),
    path(
        "sections/<path:slug>/controls.csv",
        views_exports.section_controls_csv,
        name="section_controls_csv",
    ),
    path(
        "controls/<str:control_id>/findings.csv",
        views_exports.control_findings_csv,
        name="control_findings_csv",
    ),
    path(
        "accounts/<int:account_pk>/findings.csv",
        views_exports.account_findings_csv,
        name="account_findings_csv",
    ),
    path(
        "resources/<int:resource_pk>/history.csv",
        views_exports.resource_history_csv,
        name="resource_history_csv",
    ),
    path(
        "frameworks/<slug:slug>.csv", views_exports.framework_csv, name="framework_csv"
    ),
    path("scans.csv", views_exports.scans_csv, name="scans_csv"),
    path(
        "scans/<int:scan_id>/units.csv",
        views_exports.scan_units_csv,
        name="scan_units_csv",
    ),
]
