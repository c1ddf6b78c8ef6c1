"""Classify AWS errors into the kinds a scan unit records, without secrets."""

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from collectors.models import ErrorKind

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
UNSUPPORTED_CODES = {"NotImplemented", "InvalidAction", "UnsupportedOperation"}

# Access key ids and long opaque tokens; never let them reach a stored message.
_SECRETISH = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b|[A-Za-z0-9+/=]{80,}")
MAX_MESSAGE = 500


def redact(text: str) -> str:
    return _SECRETISH.sub("[redacted]", text)[:MAX_MESSAGE]


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "") or ""
    return ""


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
        if code in UNSUPPORTED_CODES or status == 501:
            return ErrorKind.UNSUPPORTED, message
        if status in (404, 500) and (not code or code.isdigit()):
            # No AWS error code, only an HTTP status: the endpoint (a local
            # simulator) does not implement this call. AWS itself always names
            # the error.
            return ErrorKind.UNSUPPORTED, message
        return ErrorKind.OTHER, message
    if isinstance(
        exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError
    ):
        return ErrorKind.UNREACHABLE, redact(f"endpoint unreachable: {exc}")
    if isinstance(exc, ResponseParserError):
        # Not an AWS answer at all (a simulator's HTML error page).
        return ErrorKind.UNSUPPORTED, redact(f"unparseable response: {exc}")
    if isinstance(exc, NoCredentialsError):
        return ErrorKind.ACCESS_DENIED, "no AWS credentials available to the scanner"
    if isinstance(exc, BotoCoreError):
        return ErrorKind.OTHER, redact(f"{type(exc).__name__}: {exc}")
    return ErrorKind.OTHER, redact(f"{type(exc).__name__}: {exc}")
