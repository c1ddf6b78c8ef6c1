from django.urls import path

from findings import (
    views,
    views_digests,
    views_exceptions,
    views_explorer,
    views_exports,
    views_history,
)

app_name = "findings"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("sections/<path:slug>/", views.section_detail, name="section"),
    path("controls/<str:control_id>/", views.control_detail, name="control"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/<int:account_pk>/", views.account_detail, name="account"),
    path(
        "resources/<int:resource_pk>/",
        views_history.resource_detail,
        name="resource",
    ),
    path(
        "resources/<int:resource_pk>/diff/",
        views_history.resource_diff,
        name="resource_diff",
    ),
    # The findings explorer and its CSV (findings/views_explorer.py).
    path("findings/", views_explorer.explorer, name="explorer"),
    path("findings.csv", views_explorer.explorer_csv, name="explorer_csv"),
    path("frameworks/", views.framework_list, name="frameworks"),
    path("frameworks/<slug:slug>/", views.framework_detail, name="framework"),
    # Exceptions (findings/views_exceptions.py).
    path("exceptions/", views_exceptions.exception_list, name="exceptions"),
    path("exceptions.csv", views_exceptions.exceptions_csv, name="exceptions_csv"),
    path("exceptions/new/", views_exceptions.exception_new, name="exception_new"),
    path("exceptions/log/", views_exceptions.exception_log, name="exceptions_log"),
    path("exceptions/<int:pk>/", views_exceptions.exception_detail, name="exception"),
    path(
        "exceptions/<int:pk>/edit/",
        views_exceptions.exception_edit,
        name="exception_edit",
    ),
    path(
        "exceptions/<int:pk>/revoke/",
        views_exceptions.exception_revoke,
        name="exception_revoke",
    ),
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
