"""The demo organization, checked through boto3 the way Parapet will see it.

One moto server and one seed serve the whole module (seeding takes seconds).
The drift test returns the organization to its seeded state, so the tests do
not depend on their order. No database is needed.
"""

import json
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from demo.seed import DRIFT_ROUNDS, SeedResult, apply_drift, seed_organization
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint

pytestmark = pytest.mark.e2e

REGIONS = ("us-east-1", "eu-west-1")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def endpoint():
    saved = dict(os.environ)
    server, url = start_moto_server()
    try:
        with use_endpoint(url):
            yield url
    finally:
        reset_moto_server(url)
        server.stop()
        # start_moto_server sets moto's switches too: leave nothing behind.
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def seed(endpoint) -> SeedResult:
    return seed_organization(endpoint, regions=REGIONS)


class Audit:
    """Clients in one account through its ParapetAudit role, as Parapet sees it."""

    def __init__(self, session: boto3.Session, seed: SeedResult, name: str) -> None:
        self._session = session
        self.account_id = seed.accounts.get(name, seed.management_account_id)
        creds = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=seed.member_role_arn(self.account_id),
            RoleSessionName="parapet-test",
            ExternalId=seed.external_id,
        )["Credentials"]
        self._credentials = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def client(self, service: str, region_name: str = "us-east-1"):
        return self._session.client(
            service, region_name=region_name, **self._credentials
        )


@pytest.fixture(scope="module")
def audit(seed):
    shared = boto3.Session()  # one botocore session parses each model once
    sessions: dict[str, Audit] = {}

    def get(name: str) -> Audit:
        if name not in sessions:
            sessions[name] = Audit(shared, seed, name)
        return sessions[name]

    return get


def s3control(session: Audit):
    client = session.client("s3control")
    netloc = urlsplit(os.environ["AWS_ENDPOINT_URL"]).netloc

    def to_endpoint(request, **kwargs):
        request.url = urlsplit(request.url)._replace(netloc=netloc).geturl()

    client.meta.events.register("before-sign.s3-control.*", to_endpoint)
    return client


def bucket_name(seed: SeedResult, account: str, purpose: str) -> str:
    return f"{account}-{purpose}-{seed.accounts[account]}"


def instance(ec2, name: str) -> dict:
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:Name", "Values": [name]}]
    )["Reservations"]
    return reservations[0]["Instances"][0]


def world_ingress(ec2, port: int) -> list[str]:
    """Names of security groups open to 0.0.0.0/0 on ``port``."""
    names = []
    for group in ec2.describe_security_groups()["SecurityGroups"]:
        for rule in group["IpPermissions"]:
            everything = rule["IpProtocol"] == "-1"
            covers = everything or rule.get("FromPort", 0) <= port <= rule.get(
                "ToPort", -1
            )
            cidrs = {r["CidrIp"] for r in rule.get("IpRanges", [])}
            if covers and "0.0.0.0/0" in cidrs:
                names.append(group["GroupName"])
    return names


# The simulator ---------------------------------------------------------------


def test_moto_loads_managed_policies_but_no_default_amis(endpoint):
    session = boto3.Session(region_name="us-east-1")
    policy = session.client("iam").get_policy(
        PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess"
    )
    assert policy["Policy"]["PolicyName"] == "AWSSupportAccess"
    for region in REGIONS:
        images = session.client("ec2", region_name=region).describe_images(
            Owners=["amazon"]
        )
        assert images["Images"] == []


def test_use_endpoint_sets_and_restores_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://before")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-token")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with use_endpoint("http://127.0.0.1:1"):
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert os.environ["AWS_ACCESS_KEY_ID"] == "demo"
        assert "AWS_SESSION_TOKEN" not in os.environ
    assert os.environ["AWS_ENDPOINT_URL"] == "http://before"
    assert os.environ["AWS_SESSION_TOKEN"] == "a-token"
    assert "AWS_PROFILE" not in os.environ


# The organization ------------------------------------------------------------


def test_organization_lists_management_and_members_in_their_ous(seed):
    org = boto3.client("organizations", region_name="us-east-1")
    accounts = org.list_accounts()["Accounts"]
    ids = {account["Id"] for account in accounts}
    assert len(accounts) >= 5
    assert ids == set(seed.all_account_ids)
    assert seed.management_account_id == "123456789012"

    ou_names = {}
    for name, account_id in seed.accounts.items():
        parent = org.list_parents(ChildId=account_id)["Parents"][0]
        assert parent["Type"] == "ORGANIZATIONAL_UNIT", name
        ou_names[name] = org.describe_organizational_unit(
            OrganizationalUnitId=parent["Id"]
        )["OrganizationalUnit"]["Name"]
        tags = org.list_tags_for_resource(ResourceId=account_id)["Tags"]
        assert {"owner", "environment"} <= {tag["Key"] for tag in tags}
    assert ou_names == {
        "security": "Security",
        "prod": "Prod",
        "dev": "Dev",
        "sandbox": "Sandbox",
    }
    assert seed.ou_paths["prod"] == "Root/Workloads/Prod"


def test_every_account_has_the_audit_role_with_external_id(seed, audit):
    for name in ["management", *seed.accounts]:
        iam = audit(name).client("iam")
        role = iam.get_role(RoleName=seed.member_role)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        if isinstance(trust, str):
            trust = json.loads(trust)
        statement = trust["Statement"][0]
        assert statement["Principal"]["AWS"] == (
            f"arn:aws:iam::{seed.management_account_id}:root"
        )
        assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == (
            seed.external_id
        )
        attached = iam.list_attached_role_policies(RoleName=seed.member_role)
        names = {policy["PolicyName"] for policy in attached["AttachedPolicies"]}
        assert names == {"SecurityAudit", "ViewOnlyAccess"}, name


def test_member_accounts_are_isolated(seed, audit):
    prod = {b["Name"] for b in audit("prod").client("s3").list_buckets()["Buckets"]}
    dev = {b["Name"] for b in audit("dev").client("s3").list_buckets()["Buckets"]}
    assert bucket_name(seed, "prod", "app-data") in prod
    assert not prod & dev
    assert all(name.startswith("dev-") for name in dev)


# What each account holds -----------------------------------------------------


def test_prod_mixes_compliant_and_non_compliant_resources(seed, audit):
    session = audit("prod")
    s3 = session.client("s3")

    private = bucket_name(seed, "prod", "app-data")
    block = s3.get_public_access_block(Bucket=private)
    assert all(block["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_versioning(Bucket=private)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=private)[
        "ServerSideEncryptionConfiguration"
    ]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "LoggingEnabled" in s3.get_bucket_logging(Bucket=private)
    policy = json.loads(s3.get_bucket_policy(Bucket=private)["Policy"])
    assert any(
        s["Effect"] == "Deny"
        and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for s in policy["Statement"]
    )

    public = bucket_name(seed, "prod", "web-assets")
    grants = s3.get_bucket_acl(Bucket=public)["Grants"]
    assert any(g["Grantee"].get("URI") == ALL_USERS for g in grants)
    with pytest.raises(ClientError):
        s3.get_public_access_block(Bucket=public)
    with pytest.raises(ClientError):  # no account-level block in prod
        s3control(session).get_public_access_block(AccountId=seed.accounts["prod"])

    ec2 = session.client("ec2")
    assert instance(ec2, "api-1")["MetadataOptions"]["HttpTokens"] == "required"
    legacy = instance(ec2, "api-legacy")
    assert legacy["MetadataOptions"]["HttpTokens"] == "optional"
    assert "PublicIpAddress" not in legacy
    assert "PublicIpAddress" in instance(ec2, "web-1")
    assert "legacy-rdp" in world_ingress(ec2, 3389)
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
    eu = session.client("ec2", region_name="eu-west-1")
    assert not eu.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
    volumes = ec2.describe_volumes()["Volumes"]
    assert {v["Encrypted"] for v in volumes if v["State"] == "in-use"} == {
        True,
        False,
    }

    iam = session.client("iam")
    keys = iam.list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"]
    ages = sorted(datetime.now(UTC) - key["CreateDate"] for key in keys)
    assert ages[0] < timedelta(days=1) and ages[-1] > timedelta(days=90)
    attached = iam.list_attached_user_policies(UserName="deploy-bot")
    assert attached["AttachedPolicies"][0]["PolicyName"] == "AmazonS3FullAccess"
    support = iam.list_entities_for_policy(
        PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess"
    )
    assert [role["RoleName"] for role in support["PolicyRoles"]] == ["aws-support"]
    local = iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert [policy["PolicyName"] for policy in local] == ["BreakGlassFullAccess"]

    trail = session.client("cloudtrail").describe_trails()["trailList"][0]
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"]
    assert "KmsKeyId" not in trail


def test_console_users_with_and_without_mfa(seed, audit):
    iam = audit("prod").client("iam")
    iam.generate_credential_report()
    report = iam.get_credential_report()["Content"].decode().splitlines()
    rows = {row.split(",")[0]: row.split(",") for row in report[1:]}
    # columns: 3 password_enabled, 7 mfa_active
    assert rows["bob.ops"][3] == "true" and rows["bob.ops"][7] == "true"
    assert rows["carol.dba"][3] == "true" and rows["carol.dba"][7] == "false"
    assert rows["deploy-bot"][3] == "false"


def test_security_account_is_well_run(seed, audit):
    session = audit("security")
    account_id = seed.accounts["security"]
    block = s3control(session).get_public_access_block(AccountId=account_id)
    assert all(block["PublicAccessBlockConfiguration"].values())

    iam = session.client("iam")
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] >= 14
    assert policy["PasswordReusePrevention"] >= 24
    scanner_key = iam.list_access_keys(UserName="ci-scanner")["AccessKeyMetadata"][0]
    last_used = iam.get_access_key_last_used(AccessKeyId=scanner_key["AccessKeyId"])
    assert "LastUsedDate" in last_used["AccessKeyLastUsed"]

    cloudtrail = session.client("cloudtrail")
    trail = cloudtrail.describe_trails()["trailList"][0]
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"]
    assert trail["KmsKeyId"]
    assert cloudtrail.get_trail_status(Name=trail["Name"])["IsLogging"]

    for region in REGIONS:
        ec2 = session.client("ec2", region_name=region)
        assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
        vpcs = {vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]}
        logged = {log["ResourceId"] for log in ec2.describe_flow_logs()["FlowLogs"]}
        assert vpcs and vpcs <= logged
        assert not any(
            s["MapPublicIpOnLaunch"] for s in ec2.describe_subnets()["Subnets"]
        )
        assert world_ingress(ec2, 22) == []
        scanner = instance(ec2, "scanner")
        assert scanner["MetadataOptions"]["HttpTokens"] == "required"
        assert scanner["IamInstanceProfile"]["Arn"].endswith("/app-instance")

        config = session.client("config", region_name=region)
        recorder = config.describe_configuration_recorders()["ConfigurationRecorders"]
        assert recorder[0]["recordingGroup"]["allSupported"]
        status = config.describe_configuration_recorder_status()
        assert status["ConfigurationRecordersStatus"][0]["recording"]


def test_dev_has_a_regional_trail_and_weak_passwords(seed, audit):
    session = audit("dev")
    trail = session.client("cloudtrail").describe_trails()["trailList"][0]
    assert not trail["IsMultiRegionTrail"]
    assert not trail["LogFileValidationEnabled"]
    policy = session.client("iam").get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] < 14
    assert "dev-ssh" in world_ingress(session.client("ec2"), 22)
    scratch = bucket_name(seed, "dev", "scratch")
    statements = json.loads(
        session.client("s3").get_bucket_policy(Bucket=scratch)["Policy"]
    )["Statement"]
    assert any(s["Principal"] == "*" and s["Effect"] == "Allow" for s in statements)
    eu_config = session.client("config", region_name="eu-west-1")
    assert eu_config.describe_configuration_recorders()["ConfigurationRecorders"] == []


def test_sandbox_is_poorly_configured(seed, audit):
    session = audit("sandbox")
    iam = session.client("iam")
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_account_password_policy()
    attached = iam.list_attached_user_policies(UserName="intern")["AttachedPolicies"]
    assert attached[0]["PolicyName"] == "AdministratorAccess"
    assert session.client("cloudtrail").describe_trails()["trailList"] == []
    assert (
        session.client("config").describe_configuration_recorders()[
            "ConfigurationRecorders"
        ]
        == []
    )

    ec2 = session.client("ec2")
    permissions = [
        ec2.describe_snapshot_attribute(
            SnapshotId=snapshot["SnapshotId"], Attribute="createVolumePermission"
        )["CreateVolumePermissions"]
        for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    ]
    assert [{"Group": "all"}] in permissions and [] in permissions
    images = ec2.describe_images(Owners=["self"])["Images"]
    assert [image["Public"] for image in images] == [True]
    assert "wide-open" in world_ingress(ec2, 22)
    experiment = instance(ec2, "experiment")
    assert experiment["MetadataOptions"]["HttpTokens"] == "optional"
    assert "IamInstanceProfile" not in experiment
    assert not ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]


# Drift -----------------------------------------------------------------------


def test_drift_changes_what_it_says_and_then_puts_it_back(endpoint, seed, audit):
    prod, dev = audit("prod"), audit("dev")
    reports = bucket_name(seed, "prod", "reports")

    def public_read() -> bool:
        policy = prod.client("s3").get_bucket_policy(Bucket=reports)["Policy"]
        return any(
            s.get("Sid") == "PublicRead" for s in json.loads(policy)["Statement"]
        )

    def oldest_key_status() -> str:
        keys = prod.client("iam").list_access_keys(UserName="deploy-bot")
        return min(keys["AccessKeyMetadata"], key=lambda k: k["CreateDate"])["Status"]

    def dev_trail_logging() -> bool:
        return dev.client("cloudtrail").get_trail_status(Name="dev-trail")["IsLogging"]

    assert len(DRIFT_ROUNDS) == 4
    assert not public_read() and oldest_key_status() == "Active"

    changes = apply_drift(endpoint, seed, step=1)
    assert len(changes) == 5 and all(isinstance(c, str) and c for c in changes)
    assert any(reports in change for change in changes)
    assert public_read()
    assert "dev-ssh" not in world_ingress(dev.client("ec2"), 22)
    status = prod.client("s3").get_bucket_versioning(Bucket=reports)["Status"]
    assert status == "Enabled"
    assert oldest_key_status() == "Inactive"
    assert not dev_trail_logging()

    changes = apply_drift(endpoint, seed, step=2)
    assert len(changes) == 4
    block = s3control(audit("sandbox")).get_public_access_block(
        AccountId=seed.accounts["sandbox"]
    )
    assert all(block["PublicAccessBlockConfiguration"].values())
    legacy = instance(prod.client("ec2"), "api-legacy")
    assert legacy["MetadataOptions"]["HttpTokens"] == "required"
    assert dev.client("iam").get_login_profile(UserName="frank.contractor")
    config = audit("security").client("config", region_name=REGIONS[-1])
    status = config.describe_configuration_recorder_status()
    assert not status["ConfigurationRecordersStatus"][0]["recording"]

    # Rounds 3 and 4 undo rounds 1 and 2, with changes of their own to report.
    assert len(apply_drift(endpoint, seed, step=3)) == 5
    assert not public_read() and oldest_key_status() == "Active"
    assert dev_trail_logging()
    assert "dev-ssh" in world_ingress(dev.client("ec2"), 22)
    assert len(apply_drift(endpoint, seed, step=4)) == 4
    with pytest.raises(ClientError):
        dev.client("iam").get_user(UserName="frank.contractor")
    legacy = instance(prod.client("ec2"), "api-legacy")
    assert legacy["MetadataOptions"]["HttpTokens"] == "optional"
