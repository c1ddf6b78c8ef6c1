"""AWS KMS controls: key rotation, public key policies, keys pending deletion.

KMS backs the whitepaper's "sensitive data should be encrypted": whoever may
use a key may read the data under it, and deleting a key destroys that data.
Only customer managed keys are judged; AWS writes the policies of the keys it
manages and rotates them itself (those keys are NOT_APPLICABLE).
"""

from typing import Any

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)
from findings.controls.policy import as_list, public_statements

SECTION = "service/security/kms"
KEY = "AWS::KMS::Key"

DELETION_STATES = ("PendingDeletion", "PendingReplicaDeletion")
# Dashboard tag convention: a key deliberately scheduled for deletion.
RETIRED_TAG = ("lifecycle", "retired")


def _metadata(r: ResourceView) -> dict:
    metadata = r.field("KeyMetadata")
    if not metadata:
        raise NotEvaluable("describe_key returned no KeyMetadata")
    return metadata


def _aws_managed(metadata: dict) -> Result | None:
    if metadata.get("KeyManager") != "CUSTOMER":
        return not_applicable(
            "AWS managed key: AWS owns its key policy and rotates it every year"
        )
    return None


def _is_fixed(value: Any) -> bool:
    text = str(value)
    return not ("*" in text or "?" in text or "${" in text)


def _pins_caller_account(statement: dict) -> bool:
    """The statement only applies to callers of fixed accounts (kms:CallerAccount).

    AWS's own key policies open keys to Principal "*" this way (with
    kms:ViaService); findings.controls.policy does not know this KMS key.
    """
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        op = operator.lower()
        # Negated and IfExists operators also match requests without the key.
        if "not" in op or op.endswith("ifexists") or not isinstance(tests, dict):
            continue
        for key, value in tests.items():
            values = as_list(value)
            if (
                key.lower() == "kms:calleraccount"
                and values
                and all(_is_fixed(v) for v in values)
            ):
                return True
    return False


def _describe_statement(statement: dict) -> str:
    if "NotAction" in statement:
        actions = "everything except " + ", ".join(
            map(str, as_list(statement["NotAction"]))
        )
    else:
        actions = ", ".join(map(str, as_list(statement.get("Action")))) or "nothing"
    who = "anyone but NotPrincipal" if "NotPrincipal" in statement else "Principal *"
    sid = f" (statement {statement['Sid']})" if statement.get("Sid") else ""
    return f"key policy allows {who} to {actions}{sid}"


@control(
    id="kms.key.rotation",
    title="Customer-managed symmetric keys rotate",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=KEY,
    rationale=(
        "Sensitive data should be encrypted, and the longer one key encrypts it "
        "the more data a single exposed key reveals. Automatic rotation gives a "
        "customer managed key new key material every year (or the chosen "
        "period) while old ciphertext stays readable."
    ),
    remediation=(
        "KMS console → Customer managed keys → choose the key → Key rotation → "
        "Edit → tick Automatically rotate this KMS key, choose the rotation "
        "period → Save."
    ),
    remediation_cli=(
        "aws kms enable-key-rotation --key-id <key-id> --rotation-period-in-days 365"
    ),
    cis=("3.6", "3.6"),
    security_hub=("KMS.4*",),
)
def key_rotation(r: ResourceView, ctx: Context) -> Result:
    metadata = _metadata(r)
    if managed := _aws_managed(metadata):
        return managed
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    if spec != "SYMMETRIC_DEFAULT":
        return not_applicable(
            f"KeySpec {spec}: KMS rotates only symmetric encryption keys"
        )
    origin = metadata.get("Origin")
    if origin != "AWS_KMS":
        return not_applicable(
            f"Origin {origin}: automatic rotation needs key material generated "
            "by KMS; rotate this key manually"
        )
    state = metadata.get("KeyState")
    if state != "Enabled":
        return not_applicable(f"key is {state}, so it encrypts nothing new")
    rotation = r.field("KeyRotation")
    if rotation is None:
        raise NotEvaluable("rotation status was not returned")
    if rotation.get("KeyRotationEnabled"):
        period = rotation.get("RotationPeriodInDays")
        every = f" every {period} days" if period else ""
        return passed(f"automatic key rotation is on{every}")
    return failed("automatic key rotation is off")


@control(
    id="kms.key.no-public-policy",
    title="Key policies are not public",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=KEY,
    rationale=(
        "A key policy decides who may use the key, and so who may decrypt the "
        "data encrypted under it. An Allow to any principal without an account "
        "or organization condition lets any AWS account use the key."
    ),
    remediation=(
        "KMS console → Customer managed keys → choose the key → Key policy → "
        'Edit → replace Principal "*" with the account or role ARNs that need '
        "the key, or add a condition on aws:PrincipalOrgID, aws:PrincipalAccount "
        "or kms:CallerAccount → Save changes."
    ),
    remediation_cli=(
        "aws kms put-key-policy --key-id <key-id> --policy-name default "
        "--policy file://key-policy.json"
    ),
    security_hub=("KMS.5",),
)
def key_no_public_policy(r: ResourceView, ctx: Context) -> Result:
    metadata = _metadata(r)
    if managed := _aws_managed(metadata):
        return managed
    if metadata.get("KeyState") in DELETION_STATES:
        return not_applicable(
            f"key is {metadata['KeyState']}: no one can use it, whatever its policy"
        )
    policy = r.field("KeyPolicy")
    if policy is None:
        raise NotEvaluable("the key policy was not returned")
    grants = [s for s in public_statements(policy) if not _pins_caller_account(s)]
    if grants:
        more = f" (+{len(grants) - 1} more statements)" if len(grants) > 1 else ""
        return failed(_describe_statement(grants[0]) + more)
    return passed(
        "no Allow statement grants Principal * without an account or "
        "organization condition"
    )


@control(
    id="kms.key.not-pending-deletion",
    title="No customer key is unintentionally pending deletion",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=KEY,
    rationale=(
        "Deleting a KMS key makes every piece of data encrypted under it "
        "unrecoverable. A key scheduled for deletion by mistake can still be "
        "saved during its waiting period; a deliberate retirement is tagged "
        "lifecycle=retired."
    ),
    remediation=(
        "KMS console → Customer managed keys → choose the key → Key actions → "
        "Cancel key deletion, then Key actions → Enable. If the deletion is "
        "intended, tag the key lifecycle=retired."
    ),
    remediation_cli=(
        "aws kms cancel-key-deletion --key-id <key-id> && "
        "aws kms enable-key --key-id <key-id>"
    ),
    security_hub=("KMS.3",),
)
def key_not_pending_deletion(r: ResourceView, ctx: Context) -> Result:
    metadata = _metadata(r)
    if managed := _aws_managed(metadata):
        return managed
    state = metadata.get("KeyState")
    if state not in DELETION_STATES:
        return passed(f"key state is {state}")
    # Reading through field() turns a failed ListResourceTags into ERROR.
    r.field("Tags")
    when = str(metadata.get("DeletionDate") or "")[:10]
    on = f" on {when}" if when else ""
    key, value = RETIRED_TAG
    if str(r.tags.get(key, "")).strip().lower() == value:
        return passed(f"scheduled for deletion{on} and tagged {key}={value}")
    return failed(
        f"key is {state}: it and all data encrypted under it become unrecoverable{on}"
    )
