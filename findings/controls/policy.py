"""Resource-policy analysis shared by the controls of every service.

S3 buckets, SQS queues, SNS topics, KMS keys, trails' buckets and search
domains all carry IAM-style resource policies; "is this policy public?" has one
answer for all of them, following AWS's definition of a public policy.
"""

import re
from typing import Any

# Condition keys that, with fixed values, make AWS consider an Allow to "*"
# non-public ("The meaning of public" in the S3 user guide), plus the
# principal-scoping keys that pin the caller to an account or organization.
RESTRICTING_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOwner",
        "aws:SourceOrgID",
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:userid",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    )
)
ANY_NETWORK = frozenset({"0.0.0.0/0", "::/0"})

# The four S3 Block Public Access flags (bucket and account level).
PUBLIC_ACCESS_BLOCK_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)

# ACL grantee groups that mean "anyone" (S3 ACLs).
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(policy: dict | None) -> list[dict]:
    if not isinstance(policy, dict):
        return []
    return [s for s in as_list(policy.get("Statement")) if isinstance(s, dict)]


def is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in as_list(principal.get("AWS"))
    return False


def _is_fixed(value: Any) -> bool:
    text = str(value)
    return not ("*" in text or "?" in text or "${" in text)


def _restricts(condition: Any) -> bool:
    """Whether a Condition pins an Allow to known callers or networks."""
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        op = operator.lower()
        # Negated operators, IfExists and ForAllValues also match requests
        # that lack the key, so they narrow nothing.
        if "not" in op or op.endswith("ifexists") or op.startswith("forallvalues"):
            continue
        if op == "null" or not isinstance(tests, dict):
            continue
        for key, value in tests.items():
            if key.lower() not in RESTRICTING_CONDITION_KEYS:
                continue
            values = as_list(value)
            if not values or not all(_is_fixed(v) for v in values):
                continue
            if key.lower() == "aws:sourceip" and ANY_NETWORK & set(map(str, values)):
                continue
            return True
    return False


def public_statements(policy: dict | None) -> list[dict]:
    """The Allow statements that grant anyone access without a restriction."""
    found = []
    for statement in statements(policy):
        if statement.get("Effect") != "Allow":
            continue
        # Allow + NotPrincipal grants everyone but the listed principals.
        everyone = is_everyone(statement.get("Principal")) or (
            "NotPrincipal" in statement
        )
        if everyone and not _restricts(statement.get("Condition")):
            found.append(statement)
    return found


def glob(pattern: str) -> re.Pattern[str]:
    """An IAM wildcard pattern (* and ?) as a regular expression."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def granted_actions(statement: dict) -> str:
    """The actions a statement grants, as text for a finding's reason."""
    if "NotAction" in statement:
        return "everything except " + ", ".join(
            map(str, as_list(statement["NotAction"]))
        )
    return ", ".join(map(str, as_list(statement.get("Action")))) or "nothing"


def describe_public_grant(policy: dict, statement: dict, noun: str) -> str:
    """'queue policy statement "Open" allows Principal * on sqs:* without ...'."""
    sid = statement.get("Sid")
    position = statements(policy).index(statement) + 1
    label = f'statement "{sid}"' if sid else f"statement {position}"
    who = "anyone but NotPrincipal" if "NotPrincipal" in statement else "Principal *"
    return (
        f"{noun} {label} allows {who} on {granted_actions(statement)} "
        "without a condition"
    )
