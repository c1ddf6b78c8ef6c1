from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "AWS organizations and teams"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import audit, log_redaction, signin, statistics

        audit.connect_signals()
        statistics.connect_signals()
        log_redaction.protect_celery_logging()
        user_logged_in.connect(signin.mark_signed_in, dispatch_uid="session_clock")
