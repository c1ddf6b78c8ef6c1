"""AWS Secrets Manager controls: automatic rotation, and rotation that happened.

Secrets Manager backs the whitepaper's "protect credentials": a database
password or API key that never changes stays useful to whoever copied it.
"""

from datetime import UTC, datetime
from typing import Any

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "service/security/secrets-manager"
SECRET = "AWS::SecretsManager::Secret"
MAX_ROTATION_AGE_DAYS = 90


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _schedule(rules: dict | None) -> str:
    rules = rules or {}
    if rules.get("ScheduleExpression"):
        return f" on schedule {rules['ScheduleExpression']}"
    if rules.get("AutomaticallyAfterDays"):
        return f" every {rules['AutomaticallyAfterDays']} days"
    return ""


@control(
    id="secretsmanager.rotation-enabled",
    title="Secrets have automatic rotation",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=SECRET,
    rationale=(
        "Credentials must be protected, and a credential that never changes "
        "stays valid for anyone who ever copied it. Automatic rotation replaces "
        "the secret on a schedule without anyone handling the new value."
    ),
    remediation=(
        "Secrets Manager console → Secrets → choose the secret → Rotation → "
        "Edit rotation → turn on Automatic rotation, choose a schedule and a "
        "rotation function (or the managed rotation of the owning service) → Save."
    ),
    remediation_cli=(
        "aws secretsmanager rotate-secret --secret-id <secret-arn> "
        "--rotation-lambda-arn <function-arn> "
        "--rotation-rules AutomaticallyAfterDays=30"
    ),
    security_hub=("SecretsManager.1",),
)
def rotation_enabled(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("RotationEnabled") is True:
        return passed(
            f"automatic rotation is on{_schedule(r.config.get('RotationRules'))}"
        )
    return failed("automatic rotation is off")


@control(
    id="secretsmanager.rotated-90d",
    title="Secrets were rotated within 90 days",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=SECRET,
    rationale=(
        "A rotation schedule protects credentials only if rotations succeed. A "
        "secret not changed for more than 90 days has either no rotation or a "
        "rotation that keeps failing."
    ),
    remediation=(
        "Secrets Manager console → Secrets → choose the secret → Rotation → "
        "Rotate secret immediately; if it fails, check the rotation function's "
        "CloudWatch Logs and its network access to the database or service."
    ),
    remediation_cli="aws secretsmanager rotate-secret --secret-id <secret-arn>",
    security_hub=("SecretsManager.4",),
)
def rotated_90d(r: ResourceView, ctx: Context) -> Result:
    rotated = _moment(r.config.get("LastRotatedDate"))
    created = _moment(r.config.get("CreatedDate"))
    since = rotated or created
    if since is None:
        raise NotEvaluable("neither LastRotatedDate nor CreatedDate was returned")
    age = (ctx.now - since).days
    what = "last rotated" if rotated else "never rotated; created"
    when = f"{what} {since.date().isoformat()} ({age} days ago)"
    if age <= MAX_ROTATION_AGE_DAYS:
        return passed(when)
    return failed(f"{when}, more than {MAX_ROTATION_AGE_DAYS} days")
