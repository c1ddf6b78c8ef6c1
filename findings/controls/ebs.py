"""EBS controls: encryption of volumes and who may restore snapshots and images."""

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
from findings.controls.ec2 import MAX_LISTED

VOLUME = "AWS::EC2::Volume"
SNAPSHOT = "AWS::EC2::Snapshot"
IMAGE = "AWS::EC2::Image"
EBS_DEFAULT_ENCRYPTION = "AWS::EC2::EBSDefaultEncryption"


@control(
    id="ebs.encryption-by-default",
    title="EBS encryption by default is on in every region",
    section="service/compute/ec2/ebs",
    severity=Severity.HIGH,
    resource_type=EBS_DEFAULT_ENCRYPTION,
    rationale=(
        "Sensitive data on EBS should be encrypted. With encryption by default "
        "on, every new volume and snapshot copy in the region is encrypted "
        "without relying on each launch to ask for it."
    ),
    remediation=(
        "EC2 console (in the region) → Dashboard → Account attributes → Data "
        "protection and security → EBS encryption → Manage → tick Enable → "
        "Update EBS encryption. Repeat in every region in use."
    ),
    remediation_cli="aws ec2 enable-ebs-encryption-by-default --region <region>",
    cis=("2.2.1", "5.1.1"),
    security_hub=("EC2.7",),
)
def ebs_encryption_by_default(r: ResourceView, ctx: Context) -> Result:
    enabled = r.field("EbsEncryptionByDefault")
    if enabled is None:
        raise NotEvaluable("EbsEncryptionByDefault missing from the collected setting")
    if enabled:
        return passed(f"EBS encryption by default is on in {r.resource_id}")
    return failed(
        f"EBS encryption by default is off in {r.resource_id}: new volumes are "
        "unencrypted unless each launch asks for encryption"
    )


@control(
    id="ebs.volume.encrypted",
    title="Attached EBS volumes are encrypted",
    section="service/compute/ec2/ebs",
    severity=Severity.MEDIUM,
    resource_type=VOLUME,
    rationale=(
        "Sensitive data should be encrypted at rest. An encrypted EBS volume "
        "also encrypts its snapshots and the data moving between the volume and "
        "the instance."
    ),
    remediation=(
        "A volume cannot be encrypted in place: EC2 console → Volumes → select "
        "the volume → Actions → Create snapshot; Snapshots → Copy snapshot with "
        "Encrypt this snapshot ticked; Create volume from the encrypted copy; "
        "stop the instance, detach the old volume and attach the new one on the "
        "same device."
    ),
    remediation_cli=(
        "aws ec2 copy-snapshot --source-region <region> --source-snapshot-id "
        "<snapshot-of-volume> --encrypted --kms-key-id <kms-key-id>"
    ),
    security_hub=("EC2.3",),
)
def volume_encrypted(r: ResourceView, ctx: Context) -> Result:
    state = r.config.get("State", "")
    if state != "in-use":
        return not_applicable(f"volume is {state or 'in an unknown state'}, not in use")
    instances = sorted(
        a["InstanceId"]
        for a in r.config.get("Attachments") or []
        if a.get("InstanceId")
    )
    attached = f" (attached to {', '.join(instances)})" if instances else ""
    if r.config.get("Encrypted"):
        return passed(f"volume is encrypted{attached}")
    return failed(f"in-use volume is not encrypted{attached}")


@control(
    id="ebs.snapshot.not-public",
    title="EBS snapshots are not publicly restorable",
    section="service/compute/ec2/ebs",
    severity=Severity.CRITICAL,
    resource_type=SNAPSHOT,
    rationale=(
        "Snapshots can be shared with other accounts; sharing with the group "
        "'all' lets any AWS account create a volume from the snapshot and read "
        "every block of the data on it."
    ),
    remediation=(
        "EC2 console → Snapshots → select the snapshot → Actions → Snapshot "
        "settings → Modify permissions → choose Private (add specific accounts "
        "only if they need it) → Modify permissions."
    ),
    remediation_cli=(
        "aws ec2 modify-snapshot-attribute --snapshot-id <snapshot-id> "
        "--attribute createVolumePermission --operation-type remove "
        "--group-names all"
    ),
    security_hub=("EC2.1",),
)
def snapshot_not_public(r: ResourceView, ctx: Context) -> Result:
    permissions = r.field("CreateVolumePermissions")
    if permissions is None:
        raise NotEvaluable("createVolumePermission missing from the collected snapshot")
    if any(p.get("Group") == "all" for p in permissions):
        return failed(
            "createVolumePermission grants Group all: any AWS account can "
            "restore this snapshot"
        )
    accounts = sorted(p["UserId"] for p in permissions if p.get("UserId"))
    if accounts:
        return passed(
            f"not public; shared with {len(accounts)} account(s): "
            f"{', '.join(accounts[:MAX_LISTED])}"
            + (" ..." if len(accounts) > MAX_LISTED else "")
        )
    return passed("not public and not shared with any account")


@control(
    id="ec2.ami.not-public",
    title="Account-owned AMIs are not public",
    section="service/compute/ec2/ebs",
    severity=Severity.CRITICAL,
    resource_type=IMAGE,
    rationale=(
        "A public AMI lets any AWS account launch a copy of the image, and with "
        "it whatever the image's snapshots hold: software, configuration and "
        "often credentials left on disk."
    ),
    remediation=(
        "EC2 console → AMIs → select the image → Actions → Edit AMI permissions "
        "→ choose Private → Save changes. Consider turning on block public "
        "access for AMIs in the region."
    ),
    remediation_cli=(
        "aws ec2 modify-image-attribute --image-id <ami-id> "
        '--launch-permission "Remove=[{Group=all}]"'
    ),
)
def ami_not_public(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("Public"):
        return failed("image is public: any AWS account can launch it")
    return passed("image is private (Public=false)")
