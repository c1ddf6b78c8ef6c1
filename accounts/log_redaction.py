"""A logging filter that takes credentials out of log lines before they are written.

Parapet's own code never logs a secret, but libraries do at DEBUG: botocore
logs every request's headers (the session token) and every response body
(AssumeRole's secret key and token). The filter sits on the handlers
(config/settings.py LOGGING), so whoever turns a logger up to DEBUG while
chasing a problem still writes no credential.
"""

import logging
import re

from django.conf import settings

REDACTED = "[redacted]"
# Each pattern keeps what comes before (pre) and after (post) the secret.
_PATTERNS = [
    # AWS XML responses: AssumeRole's credentials.
    re.compile(
        r"(?P<pre><(?P<tag>SecretAccessKey|SessionToken)>)[^<]*(?P<post></(?P=tag)>)"
    ),
    # JSON responses, botocore's header dumps, credential dicts.
    re.compile(
        r"""(?P<pre>["']?(?:SecretAccessKey|SessionToken|aws_secret_access_key|"""
        r"""aws_session_token|X-Amz-Security-Token|Authorization|Cookie)["']?"""
        r"""\s*[:=]\s*b?["'])[^"']*(?P<post>["'])""",
        re.IGNORECASE,
    ),
    # SigV4's canonical request (botocore.auth): "x-amz-security-token:...".
    re.compile(r"(?P<pre>^x-amz-security-token:)\S*(?P<post>)", re.I | re.M),
    # Pre-signed URLs and query strings.
    re.compile(
        r"(?P<pre>(?:X-Amz-Security-Token|X-Amz-Signature|Signature)=)"
        r"[^&\s'\"]*(?P<post>)",
        re.IGNORECASE,
    ),
]
_REPLACEMENT = rf"\g<pre>{REDACTED}\g<post>"


def _known_secrets() -> list[str]:
    """Configured secrets that must never appear verbatim."""
    names = ("SECRET_KEY", "EMAIL_HOST_PASSWORD", "OIDC_RP_CLIENT_SECRET")
    values = [getattr(settings, name, "") for name in names]
    return [v for v in values if isinstance(v, str) and len(v) >= 8]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(_REPLACEMENT, text)
    for secret in _known_secrets():
        text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites the record's message (and traceback text) with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


def _filter_handlers(logger: logging.Logger, **kwargs) -> None:
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


def protect_celery_logging() -> None:
    """A Celery worker replaces the root logger's handlers with its own: filter
    those too (Django is set up, and this connected, before the worker's
    logging is)."""
    from celery.signals import after_setup_logger, after_setup_task_logger

    after_setup_logger.connect(_filter_handlers, weak=False)
    after_setup_task_logger.connect(_filter_handlers, weak=False)
