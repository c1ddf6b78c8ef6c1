"""WorkSpaces controls, evaluated on what the real collector reads from moto.

The controls read only DescribeWorkspaces, the unit's listing: a denial there
fails the unit (see the collector tests) instead of producing ERROR findings.
"""

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from findings.controls.base import Status
from findings.testing import collect, evaluate

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTROLS = ("workspaces.user-volume-encrypted", "workspaces.root-volume-encrypted")


def directory(aws) -> str:
    """A Simple AD directory in the default VPC, registered with WorkSpaces."""
    subnets = aws.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"][:2]
    directory_id = aws.client("ds").create_directory(
        Name="corp.example.com",
        Password="Str0ng-Directory-Passw0rd",
        Size="Small",
        VpcSettings={
            "VpcId": subnets[0]["VpcId"],
            "SubnetIds": [s["SubnetId"] for s in subnets],
        },
    )["DirectoryId"]
    aws.client("workspaces").register_workspace_directory(DirectoryId=directory_id)
    return directory_id


def make_workspace(aws, user: bool, root: bool) -> str:
    request = {
        "DirectoryId": directory(aws),
        "UserName": "alice",
        "BundleId": "wsb-0a1b2c3d4",
        "UserVolumeEncryptionEnabled": user,
        "RootVolumeEncryptionEnabled": root,
    }
    if user or root:
        request["VolumeEncryptionKey"] = KEY
    created = aws.client("workspaces").create_workspaces(Workspaces=[request])
    return created["PendingRequests"][0]["WorkspaceId"]


def results(aws, control_id: str) -> dict:
    return evaluate(control_id, collect("workspaces", session=aws))


def test_no_workspaces_means_no_findings(aws):
    for control_id in CONTROLS:
        assert results(aws, control_id) == {}


def test_fully_encrypted_workspace_passes_both(aws):
    workspace_id = make_workspace(aws, user=True, root=True)
    user = results(aws, "workspaces.user-volume-encrypted")[workspace_id]
    root = results(aws, "workspaces.root-volume-encrypted")[workspace_id]
    assert (user.status, root.status) == (Status.PASS, Status.PASS)
    assert user.reason == f"user volume is encrypted with {KEY}"


def test_unencrypted_workspace_fails_both(aws):
    workspace_id = make_workspace(aws, user=False, root=False)
    user = results(aws, "workspaces.user-volume-encrypted")[workspace_id]
    root = results(aws, "workspaces.root-volume-encrypted")[workspace_id]
    assert (user.status, root.status) == (Status.FAIL, Status.FAIL)
    assert root.reason == (
        "root volume is not encrypted (RootVolumeEncryptionEnabled is not true)"
    )


def test_user_volume_only_fails_root(aws):
    workspace_id = make_workspace(aws, user=True, root=False)
    assert (
        results(aws, "workspaces.user-volume-encrypted")[workspace_id].status
        == Status.PASS
    )
    assert (
        results(aws, "workspaces.root-volume-encrypted")[workspace_id].status
        == Status.FAIL
    )


@pytest.mark.parametrize("control_id", CONTROLS)
def test_explicit_false_as_aws_returns_it_fails(aws, control_id):
    # moto omits a false RootVolumeEncryptionEnabled; AWS lists both flags.
    workspace_id = make_workspace(aws, user=False, root=False)
    listing = {
        "Workspaces": [
            {
                "WorkspaceId": workspace_id,
                "DirectoryId": "d-1234567890",
                "UserName": "bob",
                "State": "AVAILABLE",
                "BundleId": "wsb-0a1b2c3d4",
                "UserVolumeEncryptionEnabled": False,
                "RootVolumeEncryptionEnabled": False,
                "WorkspaceProperties": {"RunningMode": "AUTO_STOP"},
            }
        ]
    }

    def handler(model, **kwargs):
        report = ParamValidator().validate(listing, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**listing, "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws.events.register("before-call.workspaces.DescribeWorkspaces", handler)
    assert results(aws, control_id)[workspace_id].status == Status.FAIL
