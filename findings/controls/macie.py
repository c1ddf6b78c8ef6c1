"""Amazon Macie: sensitive-data discovery for the S3 buckets of each region."""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SESSION = "AWS::Macie::Session"
BUCKET = "AWS::S3::Bucket"


@control(
    id="s3.macie-enabled",
    title="Amazon Macie discovers sensitive data in S3",
    section="service/storage/s3",
    severity=Severity.LOW,
    resource_type=SESSION,
    rationale=(
        "S3 is restricted by default, but a bucket opened by a policy or ACL may "
        "hold data nobody knew was sensitive. Macie inventories buckets and "
        "finds personal and secret data in them, so access decisions rest on "
        "what the objects really contain."
    ),
    remediation=(
        "Macie console → Get started → Enable Macie, in every region that has "
        "S3 buckets (or enable it organization-wide from the Macie delegated "
        "administrator account)."
    ),
    remediation_cli="aws macie2 enable-macie --region <region>",
    cis=("2.1.3", "2.1.3"),
    security_hub=("Macie.1",),
)
def macie_enabled(r: ResourceView, ctx: Context) -> Result:
    buckets = ctx.resources(BUCKET, r.region)
    if not buckets:
        return not_applicable(f"no S3 buckets in {r.region}")
    status = r.field("Status")
    noun = "bucket" if len(buckets) == 1 else "buckets"
    if status == "ENABLED":
        return passed(f"Macie is enabled in {r.region} ({len(buckets)} {noun})")
    state = "paused" if status == "PAUSED" else "not enabled"
    return failed(f"Macie is {state} in {r.region}, which has {len(buckets)} {noun}")
