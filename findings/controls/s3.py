"""Amazon S3 controls: public access, transport security, encryption, recovery, CORS.

The whitepaper's S3 notes: buckets are restricted by default and opened up only
through IAM policies, ACLs and bucket policies; versioning (with MFA delete)
preserves every version of every object; CORS lets other origins use a bucket.
"""

from collections.abc import Iterable
from typing import Any

from findings.controls.base import (
    ERRORS_KEY,
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)
from findings.controls.policy import (
    PUBLIC_ACCESS_BLOCK_FLAGS,
    PUBLIC_GROUPS,
    as_list,
    glob,
    granted_actions,
    is_everyone,
    public_statements,
    statements,
)

SECTION = "service/storage/s3"
BUCKET = "AWS::S3::Bucket"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "AWS::S3::AccountPublicAccessBlock"


CORS_WRITE_METHODS = ("PUT", "POST", "DELETE")
# Origins that match every site; "https://*.example.com" stays scoped.
ANY_ORIGIN = frozenset({"*", "http://*", "https://*"})
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})

# Dashboard tag conventions, named in the remediation texts and reasons.
WORM_TAG = ("data-retention", "worm")
LOG_TARGET_TAG = ("log-target", "true")


# -- policy helpers -----------------------------------------------------------


def _describe_grant(statement: dict) -> str:
    who = "anyone but NotPrincipal" if "NotPrincipal" in statement else "Principal *"
    return f"bucket policy allows {who} on {granted_actions(statement)}"


def _covers(patterns: Iterable[str], bucket_arn: str) -> tuple[bool, bool]:
    """(covers the bucket, covers every object) for a statement's Resource."""
    bucket = objects = False
    for pattern in patterns:
        regex = glob(str(pattern))
        bucket = bucket or bool(regex.fullmatch(bucket_arn))
        # Every key under the bucket only if the pattern ends in a bare "*"
        # that can start right after "bucket/".
        objects = objects or (
            str(pattern).endswith("*") and bool(regex.fullmatch(bucket_arn + "/"))
        )
    return bucket, objects


def _denies_insecure_transport(condition: Any) -> bool:
    """The Condition is exactly Bool aws:SecureTransport = false.

    Any further test would narrow the Deny (for example to one VPC), leaving
    plain HTTP allowed everywhere else.
    """
    if not isinstance(condition, dict) or len(condition) != 1:
        return False
    ((operator, tests),) = condition.items()
    if operator.lower() not in ("bool", "boolifexists"):
        return False
    if not isinstance(tests, dict) or len(tests) != 1:
        return False
    ((key, value),) = tests.items()
    values = [str(v).lower() for v in as_list(value)]
    return key.lower() == "aws:securetransport" and values == ["false"]


def _tagged(r: ResourceView, tag: tuple[str, str]) -> bool:
    # Reading tags through field() turns a failed GetBucketTagging into ERROR.
    r.field("Tags")
    key, value = tag
    return str(r.tags.get(key, "")).strip().lower() == value


# -- controls -----------------------------------------------------------------


def _flags_result(pab: dict | None, where: str) -> Result:
    if pab is None:
        return failed(f"{where} Block Public Access is not configured (all 4 off)")
    off = [flag for flag in PUBLIC_ACCESS_BLOCK_FLAGS if pab.get(flag) is not True]
    if not off:
        return passed(f"{where} Block Public Access: all 4 flags on")
    verb = "is" if len(off) == 1 else "are"
    return failed(
        f"{4 - len(off)} of 4 flags on: {', '.join(off)} {verb} off ({where})"
    )


@control(
    id="s3.account.public-access-blocked",
    title="Account-level S3 Block Public Access is fully on",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=ACCOUNT_PUBLIC_ACCESS_BLOCK,
    rationale=(
        "S3 is restricted by default, but a single bucket policy or ACL can open "
        "data to the internet. The account-level Block Public Access settings "
        "override those grants for every current and future bucket."
    ),
    remediation=(
        "S3 console → Block Public Access settings for this account → Edit → "
        "tick Block all public access → Save changes, and confirm."
    ),
    remediation_cli=(
        "aws s3control put-public-access-block --account-id <account-id> "
        "--public-access-block-configuration BlockPublicAcls=true,"
        "IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    ),
    cis=("2.1.4", "2.1.4"),
    security_hub=("S3.1",),
)
def account_public_access_blocked(r: ResourceView, ctx: Context) -> Result:
    return _flags_result(r.field("PublicAccessBlock"), "account-level")


@control(
    id="s3.bucket.public-access-blocked",
    title="Bucket-level S3 Block Public Access is fully on",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=BUCKET,
    rationale=(
        "Bucket policies and ACLs can grant public access to a bucket. Block "
        "Public Access on the bucket keeps it restricted even if the account-level "
        "setting is changed or the bucket moves to another account's standards."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Permissions → Block public "
        "access (bucket settings) → Edit → tick Block all public access → Save."
    ),
    remediation_cli=(
        "aws s3api put-public-access-block --bucket <bucket> "
        "--public-access-block-configuration BlockPublicAcls=true,"
        "IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    ),
    cis=("2.1.4", "2.1.4"),
    security_hub=("S3.8",),
)
def bucket_public_access_blocked(r: ResourceView, ctx: Context) -> Result:
    return _flags_result(r.field("PublicAccessBlock"), "bucket-level")


@control(
    id="s3.bucket.no-public-policy",
    title="No bucket policy grants public access",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=BUCKET,
    rationale=(
        "Bucket policies add or deny permissions across some or all objects in a "
        "bucket; a policy that allows any principal makes the data public to the "
        "whole internet."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Permissions → Bucket policy → "
        'Edit → replace Principal "*" with the accounts or roles that need '
        "access, or add a condition such as aws:SourceVpce or aws:PrincipalOrgID "
        "→ Save changes."
    ),
    remediation_cli=(
        "aws s3api put-bucket-policy --bucket <bucket> --policy file://policy.json"
    ),
    security_hub=("S3.2", "S3.3"),
)
def bucket_no_public_policy(r: ResourceView, ctx: Context) -> Result:
    errors = r.config.get(ERRORS_KEY, {})
    status = {} if "PolicyStatus" in errors else r.config.get("PolicyStatus") or {}
    if "IsPublic" in status:
        # S3's own evaluation is authoritative when it answers.
        if status["IsPublic"] is True:
            grants = public_statements(r.config.get("Policy"))
            detail = _describe_grant(grants[0]) if grants else "bucket policy"
            return failed(f"{detail} (S3 reports the policy as public)")
        return passed("S3 evaluates the bucket policy as not public")
    policy = r.field("Policy")
    if policy is None:
        return passed("bucket has no bucket policy")
    # No verdict from S3 (some endpoints return an empty PolicyStatus): judge
    # the document itself, never read the silence as "not public".
    grants = public_statements(policy)
    if grants:
        more = f" (+{len(grants) - 1} more statements)" if len(grants) > 1 else ""
        return failed(_describe_grant(grants[0]) + more)
    # A document that looks private still needs S3's verdict if it was denied.
    r.field("PolicyStatus")
    return passed("no Allow statement grants Principal * without a restriction")


@control(
    id="s3.bucket.no-public-acl",
    title="No bucket ACL grants AllUsers or AuthenticatedUsers",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=BUCKET,
    rationale=(
        "ACLs give read or write access on buckets to groups of users; the "
        "AllUsers and AuthenticatedUsers groups mean anyone on the internet or "
        "any AWS customer."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Permissions → Object Ownership "
        "→ Edit → ACLs disabled (Bucket owner enforced) → Save; or Access control "
        "list → Edit → remove the Everyone and Authenticated users group grants."
    ),
    remediation_cli=(
        "aws s3api put-bucket-ownership-controls --bucket <bucket> "
        "--ownership-controls Rules=[{ObjectOwnership=BucketOwnerEnforced}]"
    ),
    security_hub=("S3.2", "S3.3", "S3.12"),
)
def bucket_no_public_acl(r: ResourceView, ctx: Context) -> Result:
    ownership = r.config.get("OwnershipControls") or {}
    enforced = "OwnershipControls" not in r.config.get(ERRORS_KEY, {}) and any(
        rule.get("ObjectOwnership") == "BucketOwnerEnforced"
        for rule in ownership.get("Rules", [])
    )
    if enforced:
        return passed("ACLs are disabled (Object Ownership: BucketOwnerEnforced)")
    acl = r.field("Acl") or {}
    public: dict[str, list[str]] = {}
    for grant in acl.get("Grants", []):
        group = PUBLIC_GROUPS.get((grant.get("Grantee") or {}).get("URI", ""))
        if group:
            public.setdefault(group, []).append(str(grant.get("Permission")))
    if public:
        return failed(
            "; ".join(
                f"bucket ACL grants {', '.join(perms)} to {group}"
                for group, perms in public.items()
            )
        )
    return passed("no ACL grant to AllUsers or AuthenticatedUsers")


@control(
    id="s3.bucket.tls-only",
    title="Bucket policy denies non-TLS requests",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale=(
        "The whitepaper asks for SSL/TLS on all data transmissions. Only a bucket "
        "policy that denies requests with aws:SecureTransport false stops clients "
        "from reading or writing objects over plain HTTP."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Permissions → Bucket policy → "
        'Edit → add a Deny statement for Principal "*", Action "s3:*", '
        "Resource the bucket ARN and bucket ARN/*, with Condition "
        '{"Bool": {"aws:SecureTransport": "false"}} → Save changes.'
    ),
    remediation_cli=(
        "aws s3api put-bucket-policy --bucket <bucket> --policy file://policy.json "
        "# policy.json: existing statements plus the Deny on aws:SecureTransport"
    ),
    cis=("2.1.1", "2.1.1"),
    security_hub=("S3.5",),
)
def bucket_tls_only(r: ResourceView, ctx: Context) -> Result:
    policy = r.field("Policy")
    if policy is None:
        return failed("bucket has no bucket policy, so plain HTTP requests are allowed")
    bucket_arn = r.arn or f"arn:aws:s3:::{r.resource_id}"
    covers_bucket = covers_objects = False
    for statement in statements(policy):
        actions = {str(a).lower() for a in as_list(statement.get("Action"))}
        if (
            statement.get("Effect") == "Deny"
            and is_everyone(statement.get("Principal"))
            and actions & {"*", "s3:*"}
            and _denies_insecure_transport(statement.get("Condition"))
        ):
            bucket, objects = _covers(as_list(statement.get("Resource")), bucket_arn)
            covers_bucket, covers_objects = (
                covers_bucket or bucket,
                covers_objects or objects,
            )
    if covers_bucket and covers_objects:
        return passed("bucket policy denies s3:* when aws:SecureTransport is false")
    if covers_bucket or covers_objects:
        missing = f"{bucket_arn}/*" if covers_bucket else bucket_arn
        return failed(
            f"the aws:SecureTransport Deny does not cover {missing}, so plain HTTP "
            "requests to it are allowed"
        )
    return failed(
        "bucket policy has no Deny of s3:* for Principal * when "
        "aws:SecureTransport is false"
    )


@control(
    id="s3.bucket.kms-encryption",
    title="Default encryption uses SSE-KMS",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale=(
        "All data can and should be encrypted. SSE-KMS puts a customer-controlled "
        "key, its key policy and its CloudTrail audit trail between a reader and "
        "the objects; SSE-S3 encrypts with a key only S3 controls."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Properties → Default "
        "encryption → Edit → Server-side encryption with AWS KMS keys (SSE-KMS) → "
        "choose a customer managed key → enable Bucket Key → Save changes."
    ),
    remediation_cli=(
        "aws s3api put-bucket-encryption --bucket <bucket> "
        '--server-side-encryption-configuration \'{"Rules": '
        '[{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", '
        '"KMSMasterKeyID": "<key-arn>"}, "BucketKeyEnabled": true}]}\''
    ),
    security_hub=("S3.17*",),
)
def bucket_kms_encryption(r: ResourceView, ctx: Context) -> Result:
    encryption = r.field("Encryption")
    if encryption is None:
        # AWS applies SSE-S3 to every bucket since January 2023 and reports it;
        # no configuration at all can only mean that default.
        return failed(
            "no default-encryption configuration returned: S3 applies its default "
            "SSE-S3 (AES256), not SSE-KMS"
        )
    algorithms = [
        (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        for rule in encryption.get("Rules", [])
    ]
    algorithms = [a for a in algorithms if a]
    kms = [a for a in algorithms if a in KMS_ALGORITHMS]
    if kms:
        return passed(f"default encryption is {kms[0]}")
    if not algorithms:
        return failed("default encryption has no algorithm: S3 applies SSE-S3")
    return failed(f"default encryption is {algorithms[0]} (SSE-S3), not SSE-KMS")


@control(
    id="s3.bucket.versioning",
    title="Buckets have versioning enabled",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale=(
        "Versioning preserves, retrieves and restores every version of every "
        "object in a bucket, so an overwrite or delete by mistake or by an "
        "attacker can be undone."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Properties → Bucket "
        "Versioning → Edit → Enable → Save changes."
    ),
    remediation_cli=(
        "aws s3api put-bucket-versioning --bucket <bucket> "
        "--versioning-configuration Status=Enabled"
    ),
    security_hub=("S3.14*",),
)
def bucket_versioning(r: ResourceView, ctx: Context) -> Result:
    status = (r.field("Versioning") or {}).get("Status")
    if status == "Enabled":
        return passed("versioning is Enabled")
    if status:
        return failed(f"versioning is {status}")
    return failed("versioning has never been enabled")


@control(
    id="s3.bucket.mfa-delete",
    title="Versioned buckets have MFA delete",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=BUCKET,
    rationale=(
        "S3 versioning MFA delete restricts deletions: permanently deleting an "
        "object version or suspending versioning then needs the root user's MFA "
        "code, so stolen keys alone cannot destroy the history."
    ),
    remediation=(
        "MFA delete cannot be set in the console. Signed in as the root user with "
        "an MFA device, run the AWS CLI command below."
    ),
    remediation_cli=(
        "aws s3api put-bucket-versioning --bucket <bucket> "
        "--versioning-configuration Status=Enabled,MFADelete=Enabled "
        "--mfa 'arn:aws:iam::<account-id>:mfa/root-account-mfa-device <code>'"
    ),
    cis=("2.1.2", "2.1.2"),
    security_hub=("S3.20*",),
)
def bucket_mfa_delete(r: ResourceView, ctx: Context) -> Result:
    versioning = r.field("Versioning") or {}
    status = versioning.get("Status")
    # AWS omits MFADelete for a bucket never configured with it.
    mfa_delete = versioning.get("MFADelete") or "not configured"
    if status != "Enabled":
        return failed(
            f"versioning is {status or 'not enabled'}, so MFA delete cannot protect "
            "object versions"
        )
    if mfa_delete == "Enabled":
        return passed("versioning and MFA delete are Enabled")
    return failed(f"versioning is Enabled but MFA delete is {mfa_delete}")


@control(
    id="s3.bucket.access-logging",
    title="Buckets have server access logging",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale=(
        "User-activity logging is a feature to always configure. Server access "
        "logs record every request made to the bucket, which CloudTrail data "
        "events do not by default."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Properties → Server access "
        "logging → Edit → Enable → choose a destination bucket → Save changes. "
        "A bucket that itself receives logs can be exempted with the tag "
        "log-target=true."
    ),
    remediation_cli=(
        "aws s3api put-bucket-logging --bucket <bucket> --bucket-logging-status "
        '\'{"LoggingEnabled": {"TargetBucket": "<log-bucket>", '
        '"TargetPrefix": "<bucket>/"}}\''
    ),
    security_hub=("S3.9",),
)
def bucket_access_logging(r: ResourceView, ctx: Context) -> Result:
    enabled = (r.field("Logging") or {}).get("LoggingEnabled")
    if enabled:
        target = enabled.get("TargetBucket", "?")
        prefix = enabled.get("TargetPrefix", "")
        return passed(f"server access logs go to s3://{target}/{prefix}")
    if _tagged(r, LOG_TARGET_TAG):
        return not_applicable(
            "tagged log-target=true: a log bucket, exempt from logging itself"
        )
    return failed("server access logging is off")


@control(
    id="s3.bucket.cors-no-wildcard-write",
    title="CORS does not let any origin write",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale=(
        "CORS lets web pages from other origins use a bucket's assets. A rule "
        "that lets every origin PUT, POST or DELETE lets any website script "
        "writes into the bucket from its visitors' browsers."
    ),
    remediation=(
        "S3 console → Buckets → choose the bucket → Permissions → Cross-origin "
        "resource sharing (CORS) → Edit → list the exact origins that may write "
        'instead of "*", or keep "*" only for GET and HEAD → Save changes.'
    ),
    remediation_cli=(
        "aws s3api put-bucket-cors --bucket <bucket> "
        "--cors-configuration file://cors.json"
    ),
)
def bucket_cors_no_wildcard_write(r: ResourceView, ctx: Context) -> Result:
    cors = r.field("Cors")
    if cors is None:
        return passed("bucket has no CORS configuration")
    problems = []
    for number, rule in enumerate(cors.get("CORSRules", []), start=1):
        origins = [o for o in rule.get("AllowedOrigins", []) if o in ANY_ORIGIN]
        methods = [
            m
            for m in CORS_WRITE_METHODS
            if m in {str(x).upper() for x in rule.get("AllowedMethods", [])}
        ]
        if origins and methods:
            label = rule.get("ID") or f"#{number}"
            problems.append(
                f"CORS rule {label} lets origin {origins[0]} {', '.join(methods)}"
            )
    if problems:
        return failed("; ".join(problems))
    return passed("no CORS rule lets every origin PUT, POST or DELETE")


@control(
    id="s3.bucket.object-lock-where-required",
    title="Buckets tagged as requiring WORM have Object Lock",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale=(
        "Data that must be kept write-once-read-many (records, audit logs) is "
        "only protected from deletion and overwrite if Object Lock is on with a "
        "default retention period that applies to every new object."
    ),
    remediation=(
        "Object Lock is enabled when the bucket is created (S3 console → Create "
        "bucket → Advanced settings → Object Lock → Enable) or later with "
        "versioning on. Then choose the bucket → Properties → Object Lock → Edit "
        "→ Default retention: Enable, mode and period → Save changes."
    ),
    remediation_cli=(
        "aws s3api put-object-lock-configuration --bucket <bucket> "
        '--object-lock-configuration \'{"ObjectLockEnabled": "Enabled", '
        '"Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", '
        '"Days": 365}}}\''
    ),
    security_hub=("S3.15*",),
)
def bucket_object_lock_where_required(r: ResourceView, ctx: Context) -> Result:
    if not _tagged(r, WORM_TAG):
        return not_applicable("not tagged data-retention=worm")
    lock = r.field("ObjectLock")
    if not lock or lock.get("ObjectLockEnabled") != "Enabled":
        return failed("tagged data-retention=worm but Object Lock is not enabled")
    retention = (lock.get("Rule") or {}).get("DefaultRetention")
    if not retention:
        return failed(
            "Object Lock is enabled but has no default retention, so new objects "
            "are not locked"
        )
    period = ", ".join(
        f"{retention[unit]} {unit.lower()}"
        for unit in ("Years", "Days")
        if retention.get(unit)
    )
    return passed(
        f"Object Lock default retention: {retention.get('Mode', '?')} {period}".strip()
    )
