"""Amazon WorkSpaces controls: encryption of user and root volumes.

The whitepaper names WorkSpaces among the services whose platform AWS
secures; encrypting a WorkSpace's volumes remains the customer's choice, and
it can only be made when the WorkSpace is created.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "service/end-user-computing/workspaces"
WORKSPACE = "AWS::WorkSpaces::Workspace"

RECREATE = (
    "Encryption cannot be turned on for an existing WorkSpace. WorkSpaces "
    "console → WorkSpaces → Create WorkSpaces for the same user and bundle → "
    "Encryption: tick {volume} volume and choose a KMS key → Create; move the "
    "user's data, then remove the old WorkSpace."
)


def _volume_result(r: ResourceView, key: str, volume: str) -> Result:
    if r.config.get(key) is True:
        key_id = r.config.get("VolumeEncryptionKey") or "the default key"
        return passed(f"{volume} volume is encrypted with {key_id}")
    # AWS omits the flag for WorkSpaces created without encryption.
    return failed(f"{volume} volume is not encrypted ({key} is not true)")


@control(
    id="workspaces.user-volume-encrypted",
    title="WorkSpaces user volumes are encrypted",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=WORKSPACE,
    rationale=(
        "All data can and should be encrypted. The user volume holds the "
        "user's profile and documents; encrypted with KMS, its data, snapshots "
        "and backups are unreadable without the key."
    ),
    remediation=RECREATE.format(volume="User"),
    remediation_cli=(
        "aws workspaces create-workspaces --workspaces 'DirectoryId=<directory-id>,"
        "UserName=<user>,BundleId=<bundle-id>,VolumeEncryptionKey=<key-arn>,"
        "UserVolumeEncryptionEnabled=true,RootVolumeEncryptionEnabled=true'"
    ),
    security_hub=("WorkSpaces.1",),
)
def user_volume_encrypted(r: ResourceView, ctx: Context) -> Result:
    return _volume_result(r, "UserVolumeEncryptionEnabled", "user")


@control(
    id="workspaces.root-volume-encrypted",
    title="WorkSpaces root volumes are encrypted",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=WORKSPACE,
    rationale=(
        "All data can and should be encrypted. The root volume holds the "
        "operating system, installed applications and cached data; encrypted "
        "with KMS, it is unreadable without the key."
    ),
    remediation=RECREATE.format(volume="Root"),
    remediation_cli=(
        "aws workspaces create-workspaces --workspaces 'DirectoryId=<directory-id>,"
        "UserName=<user>,BundleId=<bundle-id>,VolumeEncryptionKey=<key-arn>,"
        "UserVolumeEncryptionEnabled=true,RootVolumeEncryptionEnabled=true'"
    ),
    security_hub=("WorkSpaces.2",),
)
def root_volume_encrypted(r: ResourceView, ctx: Context) -> Result:
    return _volume_result(r, "RootVolumeEncryptionEnabled", "root")
