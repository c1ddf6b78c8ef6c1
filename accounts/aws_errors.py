"""Classify AWS errors into the kinds Parapet records, without secrets.

The AWS access layer's vocabulary: a scan unit and a connection test both
record one of these kinds.
"""

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError
from django.db import models


class ErrorKind(models.TextChoices):
    ACCESS_DENIED = "access_denied", "Access denied"
    REGION_DISABLED = "region_disabled", "Region not enabled"
    THROTTLED = "throttled", "Throttled"
    UNSUPPORTED = "unsupported", "Not supported by the endpoint"
    UNREACHABLE = "unreachable", "Endpoint unreachable"
    OTHER = "other", "Other error"


ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
    "Forbidden",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "AccountNotFound",
}
# The session's credentials lapsed: accounts.aws re-assumes the role and
# retries once; only a second one is an error (access denied).
EXPIRED_TOKEN_CODES = {"ExpiredToken", "ExpiredTokenException"}
REGION_DISABLED_CODES = {"OptInRequired", "InvalidRegion", "RegionDisabledException"}
THROTTLED_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
}
# "Try again later" from a service in trouble. After the retries ran out they
# are recorded like throttling: a transient gap, not a finding about the
# account. The message keeps the real code.
TRANSIENT_CODES = {
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
}
TRANSIENT_STATUSES = {502, 503, 504}
UNSUPPORTED_CODES = {"NotImplemented", "InvalidAction", "UnsupportedOperation"}

# Access key ids and long opaque tokens; never let them reach a stored message.
_SECRETISH = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b|[A-Za-z0-9+/=]{80,}")
MAX_MESSAGE = 500


# A simulator's or proxy's HTML error page, to the end of the message.
_HTML_PAGE = re.compile(
    r"(?:b['\"])?<(?:!doctype html|html)\b.*", re.IGNORECASE | re.DOTALL
)


def redact(text: str) -> str:
    """One line, without secrets or a whole HTML page, short enough to show."""
    text = _HTML_PAGE.sub("an HTML error page, not an AWS answer", text)
    text = " ".join(text.split())
    return _SECRETISH.sub("[redacted]", text)[:MAX_MESSAGE]


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return error_code_of_response(exc.response)
    return ""


def error_code_of_response(parsed: dict) -> str:
    """The AWS error code of a parsed botocore response ("" when none)."""
    return parsed.get("Error", {}).get("Code", "") or ""


def classify(exc: BaseException) -> tuple[str, str]:
    """(ErrorKind, message safe to store and show) for an exception."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        operation = getattr(exc, "operation_name", "call")
        text = exc.response.get("Error", {}).get("Message", "") or ""
        message = redact(f"{operation}: {code or status}: {text}".strip(": "))
        if code in ACCESS_DENIED_CODES or (status == 403 and not code):
            return ErrorKind.ACCESS_DENIED, message
        if code in REGION_DISABLED_CODES:
            return ErrorKind.REGION_DISABLED, message
        if code in THROTTLED_CODES or status == 429:
            return ErrorKind.THROTTLED, message
        if code in TRANSIENT_CODES or status in TRANSIENT_STATUSES:
            return ErrorKind.THROTTLED, message
        if code in UNSUPPORTED_CODES or status == 501:
            return ErrorKind.UNSUPPORTED, message
        if status in (404, 500) and (not code or code.isdigit()):
            # No AWS error code, only an HTTP status: the endpoint (a local
            # simulator) does not implement this call. AWS itself always names
            # the error.
            return ErrorKind.UNSUPPORTED, message
        return ErrorKind.OTHER, message
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        # Refused, reset, closed without an answer, or timed out (connect or
        # read), after botocore's retries.
        return ErrorKind.UNREACHABLE, redact(f"endpoint unreachable: {exc}")
    if isinstance(exc, ResponseParserError):
        # Not an AWS answer at all (a simulator's HTML error page).
        return ErrorKind.UNSUPPORTED, redact(f"unparseable response: {exc}")
    if isinstance(exc, NoCredentialsError):
        return ErrorKind.ACCESS_DENIED, "no AWS credentials available to the scanner"
    if isinstance(exc, BotoCoreError):
        return ErrorKind.OTHER, redact(f"{type(exc).__name__}: {exc}")
    return ErrorKind.OTHER, redact(f"{type(exc).__name__}: {exc}")
