"""A demo AWS Organization with a realistic mix of good and bad configuration.

Everything is created through plain boto3 calls against a moto server, so the
scans that follow go through Parapet's real collectors. Each member account is
entered the way an administrator would: ``sts:AssumeRole`` into the
``OrganizationAccountAccessRole`` that ``organizations:CreateAccount`` leaves
behind (moto keeps each account's state apart by those credentials).

The accounts are described as data (``AccountSpec``) and differ on purpose:
``security`` is well run, ``prod`` is in the middle, ``dev`` is worse and
``sandbox`` is poor, so the dashboard shows a spread of pass rates. Nothing is
random except the ids moto assigns. The seed expects a fresh server: it
creates the organization.
"""

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from demo.simulator import DEMO_CREDENTIALS, backdate_iam_user

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account
ADMIN_ROLE = "OrganizationAccountAccessRole"
SESSION_NAME = "parapet-demo-seed"
DEMO_AMI = "ami-0a1b2c3d4e5f60718"  # moto launches any id; no AMI is loaded
DEMO_PASSWORD = "Demo-Only-Passw0rd!"  # console passwords of simulated users
OLD_KEY_DAYS = 200
STALE_USER_DAYS = 120
AWS_POLICY = "arn:aws:iam::aws:policy/"
AUDIT_POLICIES = ("SecurityAudit", "job-function/ViewOnlyAccess")
GROUP_POLICIES = {
    "SecurityTeam": "SecurityAudit",
    "Operators": "PowerUserAccess",
    "Developers": "ReadOnlyAccess",
    "Sandboxers": "PowerUserAccess",
}
PAB_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)

Scope = Literal["all", "primary", "none"]
KeyKind = Literal["used", "unused", "old"]


@dataclass(frozen=True)
class UserSpec:
    name: str
    console: bool = False
    mfa: bool = False
    group: str | None = None
    keys: tuple[KeyKind, ...] = ()  # "old" keys are created OLD_KEY_DAYS ago
    direct_policy: str | None = None  # an AWS managed policy attached directly
    inline_policy: bool = False
    stale: bool = False  # console password last changed STALE_USER_DAYS ago


@dataclass(frozen=True)
class BucketSpec:
    purpose: str  # the bucket is named <account>-<purpose>-<account id>
    block_public: bool = True
    versioned: bool = False
    kms: bool = False  # SSE-KMS; otherwise SSE-S3, as AWS applies by default
    logging: bool = False  # server access logs go to the account's logs bucket
    tls_only: bool = False
    public_acl: bool = False
    public_policy: bool = False
    worm: bool = False  # tagged data-retention=worm (dashboard convention)
    object_lock: bool = False
    cors_open_write: bool = False


@dataclass(frozen=True)
class GroupSpec:  # a security group in the account's workload VPC
    name: str
    ingress: tuple[tuple[int, str], ...] = ()  # (tcp port, CIDR); -1 = all


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    group: str
    imdsv2: bool = True
    profile: bool = True
    public_ip: bool = False
    encrypted: bool = True
    scope: Scope = "all"


@dataclass(frozen=True)
class AccountSpec:
    name: str
    ou: str  # path below Root
    tags: dict[str, str] = field(default_factory=dict)
    password_policy: Literal["strong", "weak"] | None = None
    users: tuple[UserSpec, ...] = ()
    support_role: bool = False
    break_glass_role: bool = False  # a customer policy granting *:* attached
    saml_provider: bool = False
    kms_rotation: bool = False
    account_public_access_block: bool = False
    buckets: tuple[BucketSpec, ...] = ()
    groups: tuple[GroupSpec, ...] = ()
    instances: tuple[InstanceSpec, ...] = ()
    harden_default_vpc: bool = False  # closed default SGs, no auto public IPs
    ebs_encryption_by_default: Scope = "none"
    flow_logs: Literal["all", "workload", "none"] = "none"
    public_snapshot: bool = False
    image: Literal["private", "public"] | None = None
    trail: Literal["secure", "multi-region", "regional"] | None = None
    config: Literal["all", "primary", "partial"] | None = None
    config_aggregator: bool = False


def _tags(**values: str) -> dict[str, str]:
    return {key.replace("_", "-"): value for key, value in values.items()}


MANAGEMENT = AccountSpec(
    name="management",
    ou="",
    tags=_tags(owner="cloud-platform", environment="management"),
    password_policy="strong",
    users=(UserSpec("org-admin", console=True, mfa=True, group="Operators"),),
    support_role=True,
    kms_rotation=True,
    account_public_access_block=True,
    buckets=(
        BucketSpec("logs", versioned=True, tls_only=True),
        BucketSpec("cloudtrail", versioned=True, logging=True, tls_only=True),
    ),
    trail="secure",
    config="primary",
    config_aggregator=True,
)

MEMBERS = (
    AccountSpec(
        name="security",
        ou="Security",
        tags=_tags(owner="secops", environment="security", cost_center="cc-100"),
        password_policy="strong",
        users=(
            UserSpec("alice.secops", console=True, mfa=True, group="SecurityTeam"),
            UserSpec("ci-scanner", keys=("used",), group="SecurityTeam"),
        ),
        support_role=True,
        saml_provider=True,
        kms_rotation=True,
        account_public_access_block=True,
        buckets=(
            BucketSpec("logs", versioned=True, tls_only=True),
            BucketSpec(
                "cloudtrail", versioned=True, kms=True, logging=True, tls_only=True
            ),
            BucketSpec(
                "audit-archive",
                versioned=True,
                kms=True,
                logging=True,
                tls_only=True,
                worm=True,
                object_lock=True,
            ),
            BucketSpec(
                "tooling", versioned=True, kms=True, logging=True, tls_only=True
            ),
        ),
        groups=(
            GroupSpec("scanner-sg"),
            GroupSpec("bastion-sg", ingress=((22, "10.0.0.0/8"),)),
        ),
        instances=(InstanceSpec("scanner", group="scanner-sg"),),
        harden_default_vpc=True,
        ebs_encryption_by_default="all",
        flow_logs="all",
        image="private",
        trail="secure",
        config="all",
    ),
    AccountSpec(
        name="prod",
        ou="Workloads/Prod",
        tags=_tags(owner="platform", environment="prod", cost_center="cc-200"),
        password_policy="strong",
        users=(
            UserSpec("bob.ops", console=True, mfa=True, group="Operators"),
            UserSpec("carol.dba", console=True, group="Operators"),
            UserSpec(
                "deploy-bot",
                keys=("old", "used"),
                direct_policy="AmazonS3FullAccess",
            ),
        ),
        support_role=True,
        break_glass_role=True,
        buckets=(
            BucketSpec("logs", tls_only=True),
            BucketSpec("cloudtrail", logging=True),
            BucketSpec(
                "app-data", versioned=True, kms=True, logging=True, tls_only=True
            ),
            BucketSpec("reports", tls_only=True, block_public=False),
            BucketSpec("backups", versioned=True, worm=True),
            BucketSpec("web-assets", block_public=False, public_acl=True),
        ),
        groups=(
            GroupSpec("web-sg", ingress=((443, "0.0.0.0/0"),)),
            GroupSpec("api-sg", ingress=((8443, "10.0.0.0/8"),)),
            GroupSpec("legacy-rdp", ingress=((3389, "0.0.0.0/0"),)),
        ),
        instances=(
            InstanceSpec("api-1", group="api-sg"),
            InstanceSpec("api-legacy", group="api-sg", imdsv2=False, scope="primary"),
            InstanceSpec("web-1", group="web-sg", public_ip=True, scope="primary"),
            InstanceSpec(
                "reporting",
                group="legacy-rdp",
                imdsv2=False,
                encrypted=False,
                scope="primary",
            ),
        ),
        ebs_encryption_by_default="primary",
        flow_logs="workload",
        image="private",
        trail="multi-region",
        config="primary",
    ),
    AccountSpec(
        name="dev",
        ou="Workloads/Dev",
        tags=_tags(owner="app-team", environment="dev", cost_center="cc-300"),
        password_policy="weak",
        users=(
            UserSpec("dave.dev", console=True, inline_policy=True),
            UserSpec("erin.dev", console=True, mfa=True, group="Developers"),
            UserSpec("test-runner", keys=("old",)),
            UserSpec("build-bot", keys=("used", "unused")),
        ),
        buckets=(
            BucketSpec("logs"),
            BucketSpec("cloudtrail"),
            BucketSpec("artifacts", logging=True),
            BucketSpec(
                "scratch", block_public=False, public_policy=True, cors_open_write=True
            ),
        ),
        groups=(
            GroupSpec("dev-ssh", ingress=((22, "0.0.0.0/0"),)),
            GroupSpec("ci-sg"),
        ),
        instances=(
            InstanceSpec(
                "dev-box",
                group="dev-ssh",
                imdsv2=False,
                profile=False,
                public_ip=True,
                encrypted=False,
            ),
            InstanceSpec("ci-runner", group="ci-sg", scope="primary"),
        ),
        trail="regional",
        config="partial",
    ),
    AccountSpec(
        name="sandbox",
        ou="Sandbox",
        tags=_tags(owner="sandbox-users", environment="sandbox", cost_center="cc-900"),
        users=(
            UserSpec(
                "intern",
                console=True,
                keys=("unused",),
                direct_policy="AdministratorAccess",
            ),
            UserSpec("legacy-app", keys=("old", "old"), inline_policy=True),
            UserSpec("hackathon", console=True, group="Sandboxers", stale=True),
        ),
        break_glass_role=True,
        buckets=(
            BucketSpec("logs", block_public=False),
            BucketSpec(
                "share", block_public=False, public_acl=True, public_policy=True
            ),
            BucketSpec("tmp", block_public=False, cors_open_write=True),
        ),
        groups=(
            GroupSpec("wide-open", ingress=((-1, "0.0.0.0/0"), (-1, "::/0"))),
            GroupSpec("rdp", ingress=((3389, "0.0.0.0/0"),)),
        ),
        instances=(
            InstanceSpec(
                "experiment",
                group="wide-open",
                imdsv2=False,
                profile=False,
                public_ip=True,
                encrypted=False,
            ),
            InstanceSpec(
                "gpu-test",
                group="rdp",
                imdsv2=False,
                profile=False,
                public_ip=True,
                encrypted=False,
                scope="primary",
            ),
        ),
        public_snapshot=True,
        image="public",
    ),
)


@dataclass(frozen=True)
class SeedResult:
    endpoint_url: str
    organization_id: str
    management_account_id: str
    accounts: dict[str, str]  # member account name -> 12-digit id
    regions: tuple[str, ...]
    member_role: str
    external_id: str
    ou_paths: dict[str, str] = field(default_factory=dict)  # name -> Root/…

    def member_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.member_role}"

    @property
    def all_account_ids(self) -> list[str]:
        return [self.management_account_id, *self.accounts.values()]


class _Account:
    """boto3 clients for one simulated account, cached per service and region.

    All accounts share one boto3 session, so botocore parses each service
    model once rather than once per account.
    """

    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str,
        account_id: str,
        name: str,
        regions: tuple[str, ...],
        credentials: dict[str, str],
    ) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.id = account_id
        self.name = name
        self.regions = regions
        self.primary = regions[0]
        self._credentials = credentials
        self._clients: dict[tuple[str, str], BaseClient] = {}

    @classmethod
    def management(
        cls, endpoint_url: str, regions: tuple[str, ...], account_id: str
    ) -> "_Account":
        credentials = {
            "aws_access_key_id": DEMO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": DEMO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        return cls(
            boto3.Session(),
            endpoint_url,
            account_id,
            "management",
            regions,
            credentials,
        )

    def client(
        self,
        service: str,
        region: str | None = None,
        credentials: dict[str, str] | None = None,
    ) -> BaseClient:
        key = (service, region or self.primary)
        if credentials is None and key in self._clients:
            return self._clients[key]
        client = self.session.client(
            service,
            region_name=key[1],
            endpoint_url=self.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
            **(credentials or self._credentials),
        )
        if service == "s3control":
            # botocore sends S3 Control to <account>.<endpoint host>, which
            # does not resolve for a loopback server.
            netloc = urlsplit(self.endpoint_url).netloc
            client.meta.events.register(
                "before-sign.s3-control.*",
                lambda request, **_: setattr(
                    request,
                    "url",
                    urlsplit(request.url)._replace(netloc=netloc).geturl(),
                ),
            )
        if credentials is None:
            self._clients[key] = client
        return client

    def assume(self, account_id: str, name: str) -> "_Account":
        """The same clients, as ``OrganizationAccountAccessRole`` in a member."""
        creds = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{ADMIN_ROLE}",
            RoleSessionName=SESSION_NAME,
        )["Credentials"]
        credentials = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        return _Account(
            self.session, self.endpoint_url, account_id, name, self.regions, credentials
        )

    def bucket(self, purpose: str) -> str:
        return f"{self.name}-{purpose}-{self.id}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}::{self.id}:{resource}"


def seed_organization(
    endpoint_url: str,
    *,
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    member_role: str = "ParapetAudit",
    external_id: str = "parapet-demo",
) -> SeedResult:
    """Create the demo organization on the moto server at ``endpoint_url``."""
    regions = tuple(regions)
    if not regions:
        raise ValueError("seed_organization needs at least one region")
    management = _Account.management(endpoint_url, regions, MANAGEMENT_ACCOUNT_ID)
    org = management.client("organizations")
    try:
        organization = org.create_organization(FeatureSet="ALL")["Organization"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyInOrganizationException":
            raise
        raise RuntimeError(
            f"The simulator at {endpoint_url} already holds an organization; "
            "seed a fresh server (or reset this one with reset_moto_server)."
        ) from error
    management_id = organization["MasterAccountId"]
    root_id = org.list_roots()["Roots"][0]["Id"]

    ou_ids = {"": root_id}
    for spec in MEMBERS:
        parent = ""
        for part in spec.ou.split("/"):
            path = f"{parent}/{part}".strip("/")
            if path not in ou_ids:
                ou_ids[path] = org.create_organizational_unit(
                    ParentId=ou_ids[parent], Name=part
                )["OrganizationalUnit"]["Id"]
            parent = path

    org.tag_resource(
        ResourceId=management_id,
        Tags=[{"Key": k, "Value": v} for k, v in MANAGEMENT.tags.items()],
    )
    accounts: dict[str, str] = {}
    for spec in MEMBERS:
        status = org.create_account(
            AccountName=spec.name,
            Email=f"aws+{spec.name}@example.com",
            Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
        )["CreateAccountStatus"]
        account_id = status["AccountId"]
        org.move_account(
            AccountId=account_id,
            SourceParentId=root_id,
            DestinationParentId=ou_ids[spec.ou],
        )
        accounts[spec.name] = account_id

    context = (management_id, member_role, external_id)
    _seed_account(management, MANAGEMENT, *context)
    for spec in MEMBERS:
        member = management.assume(accounts[spec.name], spec.name)
        _seed_account(member, spec, *context)

    return SeedResult(
        endpoint_url=endpoint_url,
        organization_id=organization["Id"],
        management_account_id=management_id,
        accounts=accounts,
        regions=regions,
        member_role=member_role,
        external_id=external_id,
        ou_paths={spec.name: f"Root/{spec.ou}" for spec in MEMBERS},
    )


def _seed_account(
    account: _Account,
    spec: AccountSpec,
    management_id: str,
    member_role: str,
    external_id: str,
) -> None:
    _seed_iam(account, spec, management_id, member_role, external_id)
    key_arn = account.client("kms").create_key(
        Description=f"{spec.name} data key",
        Tags=[{"TagKey": "purpose", "TagValue": "data"}],
    )["KeyMetadata"]["Arn"]
    if spec.kms_rotation:
        account.client("kms").enable_key_rotation(KeyId=key_arn)
    _seed_s3(account, spec, key_arn)
    for index, region in enumerate(account.regions):
        _seed_ec2(account, spec, region, primary=index == 0)
    _seed_cloudtrail(account, spec, key_arn)
    _seed_config(account, spec)
    for module in service_seeders():
        for region in account.regions:
            module.seed(account, spec.name, region)


def service_seeders() -> list:
    """demo/services/<group>.py modules, each with seed(account, profile, region)."""
    import importlib
    import pkgutil

    from demo import services

    return [
        importlib.import_module(f"demo.services.{m.name}")
        for m in sorted(pkgutil.iter_modules(services.__path__), key=lambda m: m.name)
    ]


# IAM -------------------------------------------------------------------------


def _document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(principal: dict, condition: dict | None = None) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return _document(statement)


def _seed_iam(
    account: _Account,
    spec: AccountSpec,
    management_id: str,
    member_role: str,
    external_id: str,
) -> None:
    iam = account.client("iam")
    management_root = {"AWS": f"arn:aws:iam::{management_id}:root"}
    iam.create_role(
        RoleName=member_role,
        AssumeRolePolicyDocument=_trust(
            management_root, {"StringEquals": {"sts:ExternalId": external_id}}
        ),
        Description="Read-only access for Parapet scans",
        Tags=[{"Key": "managed-by", "Value": "parapet"}],
    )
    for policy in AUDIT_POLICIES:
        iam.attach_role_policy(RoleName=member_role, PolicyArn=AWS_POLICY + policy)

    if spec.password_policy == "strong":
        iam.update_account_password_policy(
            MinimumPasswordLength=14,
            RequireSymbols=True,
            RequireNumbers=True,
            RequireUppercaseCharacters=True,
            RequireLowercaseCharacters=True,
            AllowUsersToChangePassword=True,
            MaxPasswordAge=90,
            PasswordReusePrevention=24,
        )
    elif spec.password_policy == "weak":
        iam.update_account_password_policy(
            MinimumPasswordLength=8,
            RequireLowercaseCharacters=True,
            AllowUsersToChangePassword=True,
        )

    if spec.support_role:
        iam.create_role(
            RoleName="aws-support", AssumeRolePolicyDocument=_trust(management_root)
        )
        iam.attach_role_policy(
            RoleName="aws-support", PolicyArn=AWS_POLICY + "AWSSupportAccess"
        )
    if spec.break_glass_role:
        arn = iam.create_policy(
            PolicyName="BreakGlassFullAccess",
            PolicyDocument=_document(
                {"Effect": "Allow", "Action": "*", "Resource": "*"}
            ),
        )["Policy"]["Arn"]
        iam.create_role(
            RoleName="break-glass", AssumeRolePolicyDocument=_trust(management_root)
        )
        iam.attach_role_policy(RoleName="break-glass", PolicyArn=arn)
    if spec.instances:
        iam.create_role(
            RoleName="app-instance",
            AssumeRolePolicyDocument=_trust({"Service": "ec2.amazonaws.com"}),
        )
        iam.attach_role_policy(
            RoleName="app-instance",
            PolicyArn=AWS_POLICY + "AmazonSSMManagedInstanceCore",
        )
        iam.create_instance_profile(InstanceProfileName="app-instance")
        iam.add_role_to_instance_profile(
            InstanceProfileName="app-instance", RoleName="app-instance"
        )
    if spec.saml_provider:
        iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=_saml())

    for group in sorted({user.group for user in spec.users if user.group}):
        iam.create_group(GroupName=group)
        iam.attach_group_policy(
            GroupName=group, PolicyArn=AWS_POLICY + GROUP_POLICIES[group]
        )
    for user in spec.users:
        _seed_user(account, user)


def _seed_user(account: _Account, user: UserSpec) -> None:
    iam = account.client("iam")
    iam.create_user(UserName=user.name, Tags=[{"Key": "team", "Value": account.name}])
    if user.console:
        iam.create_login_profile(UserName=user.name, Password=DEMO_PASSWORD)
    if user.mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user.name)[
            "VirtualMFADevice"
        ]["SerialNumber"]
        iam.enable_mfa_device(
            UserName=user.name,
            SerialNumber=serial,
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
    if user.group:
        iam.add_user_to_group(GroupName=user.group, UserName=user.name)
    if user.direct_policy:
        iam.attach_user_policy(
            UserName=user.name, PolicyArn=AWS_POLICY + user.direct_policy
        )
    if user.inline_policy:
        iam.put_user_policy(
            UserName=user.name,
            PolicyName="ad-hoc",
            PolicyDocument=_document(
                {"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"}
            ),
        )
    old_keys = []
    for kind in user.keys:
        key = iam.create_access_key(UserName=user.name)["AccessKey"]
        if kind == "old":
            old_keys.append(key["AccessKeyId"])
        elif kind == "used":
            # A call signed with the key records it as used just now.
            account.client(
                "sts",
                credentials={
                    "aws_access_key_id": key["AccessKeyId"],
                    "aws_secret_access_key": key["SecretAccessKey"],
                },
            ).get_caller_identity()
    if old_keys or user.stale:
        # A user with old keys was created along with them.
        backdate_iam_user(
            account.id,
            user.name,
            days=OLD_KEY_DAYS if old_keys else STALE_USER_DAYS,
            access_key_ids=tuple(old_keys),
            user=True,
        )


def _saml() -> str:
    # IAM wants 1,000+ characters of metadata; moto does not parse it.
    certificate = "MIIC" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * 30
    return (
        '<?xml version="1.0"?><EntityDescriptor '
        'xmlns="urn:oasis:names:tc:SAML:2.0:metadata" '
        'entityID="https://idp.example.com/saml"><IDPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<KeyDescriptor use="signing"><KeyInfo '
        'xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>'
        f"{certificate}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
        "</IDPSSODescriptor></EntityDescriptor>"
    )


# S3 --------------------------------------------------------------------------


def _seed_s3(account: _Account, spec: AccountSpec, key_arn: str) -> None:
    s3 = account.client("s3")
    # The logs bucket comes first in every spec: others log into it.
    for bucket in spec.buckets:
        name = account.bucket(bucket.purpose)
        create = {"Bucket": name, "ObjectLockEnabledForBucket": bucket.object_lock}
        if account.primary != "us-east-1":
            create["CreateBucketConfiguration"] = {
                "LocationConstraint": account.primary
            }
        s3.create_bucket(**create)
        tags = {"owner": spec.tags.get("owner", spec.name)}
        if bucket.worm:
            tags["data-retention"] = "worm"
        s3.put_bucket_tagging(
            Bucket=name,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
        )
        default = (
            {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
            if bucket.kms
            else {"SSEAlgorithm": "AES256"}
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": default,
                        "BucketKeyEnabled": bucket.kms,
                    }
                ]
            },
        )
        if bucket.versioned or bucket.object_lock:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": "Enabled"}
            )
        if bucket.object_lock:
            s3.put_object_lock_configuration(
                Bucket=name,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
                },
            )
        if bucket.block_public:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=dict.fromkeys(PAB_FLAGS, True),
            )
        if bucket.public_acl:
            s3.put_bucket_acl(Bucket=name, ACL="public-read")
        policy = _bucket_policy(account, spec, bucket)
        if policy:
            s3.put_bucket_policy(Bucket=name, Policy=policy)
        if bucket.logging:
            s3.put_bucket_logging(
                Bucket=name,
                BucketLoggingStatus={
                    "LoggingEnabled": {
                        "TargetBucket": account.bucket("logs"),
                        "TargetPrefix": f"{name}/",
                    }
                },
            )
        if bucket.cors_open_write:
            s3.put_bucket_cors(
                Bucket=name,
                CORSConfiguration={
                    "CORSRules": [
                        {
                            "AllowedOrigins": ["*"],
                            "AllowedMethods": ["GET", "PUT", "POST"],
                            "AllowedHeaders": ["*"],
                        }
                    ]
                },
            )
    if spec.account_public_access_block:
        account.client("s3control").put_public_access_block(
            AccountId=account.id,
            PublicAccessBlockConfiguration=dict.fromkeys(PAB_FLAGS, True),
        )


def _public_read(name: str) -> dict:
    return {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }


def _deny_insecure_transport(name: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _bucket_policy(
    account: _Account, spec: AccountSpec, bucket: BucketSpec, *, public: bool = False
) -> str | None:
    name = account.bucket(bucket.purpose)
    statements = []
    # moto only reads a target bucket's policy up to the first statement that
    # grants log delivery, and fails on a "*" principal before it: keep it first.
    if bucket.purpose == "logs":
        statements.append(
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": ["s3:PutObject"],
                "Resource": f"arn:aws:s3:::{name}/*",
            }
        )
    if bucket.purpose == "cloudtrail" and spec.trail:
        service = {"Service": "cloudtrail.amazonaws.com"}
        statements += [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": service,
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{name}",
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": service,
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{name}/AWSLogs/{account.id}/*",
            },
        ]
    if bucket.public_policy or public:
        statements.append(_public_read(name))
    if bucket.tls_only:
        statements.append(_deny_insecure_transport(name))
    return _document(*statements) if statements else None


# EC2 -------------------------------------------------------------------------


def _name_tag(resource_type: str, name: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


def _seed_ec2(account: _Account, spec: AccountSpec, region: str, primary: bool) -> None:
    ec2 = account.client("ec2", region)
    in_scope = {"all": True, "primary": primary, "none": False}
    if in_scope[spec.ebs_encryption_by_default]:
        ec2.enable_ebs_encryption_by_default()
    if not spec.instances and not spec.harden_default_vpc:
        return
    default_vpc = ec2.describe_vpcs(
        Filters=[{"Name": "is-default", "Values": ["true"]}]
    )["Vpcs"]

    octet = 10 + account.regions.index(region)
    vpc_id = ec2.create_vpc(
        CidrBlock=f"10.{octet}.0.0/16",
        TagSpecifications=_name_tag("vpc", f"{spec.name}-workloads"),
    )["Vpc"]["VpcId"]
    private = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=f"10.{octet}.1.0/24",
        AvailabilityZone=f"{region}a",
        TagSpecifications=_name_tag("subnet", f"{spec.name}-private"),
    )["Subnet"]["SubnetId"]
    public = None
    if any(instance.public_ip for instance in spec.instances):
        public = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.{octet}.2.0/24",
            AvailabilityZone=f"{region}a",
            TagSpecifications=_name_tag("subnet", f"{spec.name}-public"),
        )["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(
            SubnetId=public, MapPublicIpOnLaunch={"Value": True}
        )

    groups = {}
    for group in spec.groups:
        group_id = ec2.create_security_group(
            GroupName=group.name,
            Description=f"{group.name} ({spec.name})",
            VpcId=vpc_id,
        )["GroupId"]
        if group.ingress:
            ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[_permission(port, cidr) for port, cidr in group.ingress],
            )
        groups[group.name] = group_id

    if spec.harden_default_vpc:
        _harden_default_vpc(ec2, [vpc["VpcId"] for vpc in default_vpc] + [vpc_id])
    flow_vpcs = {
        "all": [vpc["VpcId"] for vpc in default_vpc] + [vpc_id],
        "workload": [vpc_id],
        "none": [],
    }[spec.flow_logs]
    if flow_vpcs:
        # No key prefix in the destination: moto then looks for a bucket
        # named "<bucket>/<prefix>".
        created = ec2.create_flow_logs(
            ResourceIds=flow_vpcs,
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination=f"arn:aws:s3:::{account.bucket('logs')}",
        )
        if created["Unsuccessful"]:
            raise RuntimeError(f"flow logs not created: {created['Unsuccessful']}")

    launched = []
    for instance in spec.instances:
        if not in_scope[instance.scope]:
            continue
        run = {
            "ImageId": DEMO_AMI,
            "InstanceType": "t3.micro",
            "MinCount": 1,
            "MaxCount": 1,
            "SubnetId": public if instance.public_ip else private,
            "SecurityGroupIds": [groups[instance.group]],
            "MetadataOptions": {
                "HttpTokens": "required" if instance.imdsv2 else "optional",
                "HttpEndpoint": "enabled",
            },
            "BlockDeviceMappings": [
                {
                    "DeviceName": "/dev/xvda",
                    "Ebs": {"VolumeSize": 16, "Encrypted": instance.encrypted},
                }
            ],
            "TagSpecifications": _name_tag("instance", instance.name),
        }
        if instance.profile:
            run["IamInstanceProfile"] = {"Name": "app-instance"}
        launched.append(ec2.run_instances(**run)["Instances"][0])

    if primary and launched:
        first = launched[0]
        volume_id = first["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        ec2.create_snapshot(
            VolumeId=volume_id,
            Description=f"{spec.name} nightly backup",
            TagSpecifications=_name_tag("snapshot", f"{spec.name}-backup"),
        )
        if spec.public_snapshot:
            shared = ec2.create_snapshot(
                VolumeId=volume_id,
                Description=f"{spec.name} shared with a partner",
                TagSpecifications=_name_tag("snapshot", f"{spec.name}-shared"),
            )["SnapshotId"]
            ec2.modify_snapshot_attribute(
                SnapshotId=shared,
                Attribute="createVolumePermission",
                OperationType="add",
                GroupNames=["all"],
            )
        if spec.image:
            image_id = ec2.create_image(
                InstanceId=first["InstanceId"], Name=f"{spec.name}-golden-image"
            )["ImageId"]
            if spec.image == "public":
                ec2.modify_image_attribute(
                    ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]}
                )


def _permission(port: int, cidr: str) -> dict:
    permission: dict = (
        {"IpProtocol": "-1"}
        if port == -1
        else {
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
        }
    )
    if ":" in cidr:
        permission["Ipv6Ranges"] = [{"CidrIpv6": cidr}]
    else:
        permission["IpRanges"] = [{"CidrIp": cidr}]
    return permission


def _harden_default_vpc(ec2: BaseClient, vpc_ids: list[str]) -> None:
    """Empty every default security group; no automatic public IPs."""
    defaults = ec2.describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": ["default"]},
            {"Name": "vpc-id", "Values": vpc_ids},
        ]
    )["SecurityGroups"]
    for group in defaults:
        if group["IpPermissions"]:
            ec2.revoke_security_group_ingress(
                GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
            )
        if group["IpPermissionsEgress"]:
            ec2.revoke_security_group_egress(
                GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"]
            )
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])
    for subnet in subnets["Subnets"]:
        if subnet["MapPublicIpOnLaunch"]:
            ec2.modify_subnet_attribute(
                SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": False}
            )


# CloudTrail and Config --------------------------------------------------------


def _trail_name(spec: AccountSpec) -> str:
    return f"{spec.name}-trail"


def _seed_cloudtrail(account: _Account, spec: AccountSpec, key_arn: str) -> None:
    if not spec.trail:
        return
    cloudtrail = account.client("cloudtrail")
    trail = {
        "Name": _trail_name(spec),
        "S3BucketName": account.bucket("cloudtrail"),
        "IsMultiRegionTrail": spec.trail != "regional",
        "EnableLogFileValidation": spec.trail != "regional",
        "IncludeGlobalServiceEvents": spec.trail != "regional",
    }
    if spec.trail == "secure":
        group = f"/aws/cloudtrail/{spec.name}"
        account.client("logs").create_log_group(logGroupName=group)
        region = account.primary
        trail |= {
            "KmsKeyId": key_arn,
            "CloudWatchLogsLogGroupArn": (
                f"arn:aws:logs:{region}:{account.id}:log-group:{group}:*"
            ),
            "CloudWatchLogsRoleArn": account.arn("iam", "role/cloudtrail-to-logs"),
        }
    cloudtrail.create_trail(**trail)
    if spec.trail == "secure":
        cloudtrail.put_event_selectors(
            TrailName=trail["Name"],
            EventSelectors=[
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "DataResources": [
                        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}
                    ],
                }
            ],
        )
    cloudtrail.start_logging(Name=trail["Name"])


def _seed_config(account: _Account, spec: AccountSpec) -> None:
    if not spec.config:
        return
    regions = account.regions if spec.config == "all" else account.regions[:1]
    group = (
        {"allSupported": False, "resourceTypes": ["AWS::EC2::Instance"]}
        if spec.config == "partial"
        else {"allSupported": True, "includeGlobalResourceTypes": True}
    )
    role = account.arn(
        "iam",
        "role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
    )
    for region in regions:
        config = account.client("config", region)
        config.put_configuration_recorder(
            ConfigurationRecorder={
                "name": "default",
                "roleARN": role,
                "recordingGroup": group,
            }
        )
        config.put_delivery_channel(
            DeliveryChannel={"name": "default", "s3BucketName": account.bucket("logs")}
        )
        config.start_configuration_recorder(ConfigurationRecorderName="default")
    if spec.config_aggregator:
        account.client("config").put_configuration_aggregator(
            ConfigurationAggregatorName="organization",
            OrganizationAggregationSource={
                "RoleArn": account.arn("iam", "role/config-aggregator"),
                "AllAwsRegions": True,
            },
        )


# Drift -----------------------------------------------------------------------
#
# Rounds of configuration changes between scans, so that trends, history and
# "this change flipped this control" have something to show. Rounds 3 and 4
# undo rounds 1 and 2, so step n applies round (n - 1) % 4 and any number of
# steps, taken in order 1, 2, 3 …, keeps producing real changes.


class _Drift:
    def __init__(self, seed: SeedResult) -> None:
        self.seed = seed
        self._management = _Account.management(
            seed.endpoint_url, seed.regions, seed.management_account_id
        )
        self._members: dict[str, _Account] = {}

    def account(self, name: str) -> _Account:
        if name not in self._members:
            self._members[name] = self._management.assume(
                self.seed.accounts[name], name
            )
        return self._members[name]

    def instance_id(self, name: str, instance: str, region: str) -> str:
        reservations = (
            self.account(name)
            .client("ec2", region)
            .describe_instances(
                Filters=[
                    {"Name": "tag:Name", "Values": [instance]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            )["Reservations"]
        )
        return reservations[0]["Instances"][0]["InstanceId"]

    def group_id(self, name: str, group: str, region: str) -> str:
        groups = (
            self.account(name)
            .client("ec2", region)
            .describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [group]}]
            )["SecurityGroups"]
        )
        return groups[0]["GroupId"]


def _spec(name: str) -> AccountSpec:
    return next(spec for spec in MEMBERS if spec.name == name)


def _reports_policy(drift: _Drift, public: bool) -> str:
    account = drift.account("prod")
    spec = _spec("prod")
    bucket = next(b for b in spec.buckets if b.purpose == "reports")
    name = account.bucket("reports")
    policy = _bucket_policy(account, spec, bucket, public=public)
    account.client("s3").put_bucket_policy(Bucket=name, Policy=policy)
    if public:
        return f"prod: the policy of bucket {name} now lets anyone s3:GetObject"
    return f"prod: public read removed from the policy of bucket {name}"


def _reports_versioning(drift: _Drift, enabled: bool) -> str:
    name = drift.account("prod").bucket("reports")
    status = "Enabled" if enabled else "Suspended"
    drift.account("prod").client("s3").put_bucket_versioning(
        Bucket=name, VersioningConfiguration={"Status": status}
    )
    return f"prod: versioning {status.lower()} on bucket {name}"


def _dev_ssh(drift: _Drift, open_to_world: bool) -> str:
    region = drift.seed.regions[0]
    ec2 = drift.account("dev").client("ec2", region)
    group_id = drift.group_id("dev", "dev-ssh", region)
    world, office = _permission(22, "0.0.0.0/0"), _permission(22, "10.0.0.0/8")
    if open_to_world:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[office])
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[world])
        return f"dev: security group dev-ssh ({region}) reopened SSH to 0.0.0.0/0"
    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[world])
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[office])
    return f"dev: security group dev-ssh ({region}) now allows SSH from 10.0.0.0/8 only"


def _deploy_bot_old_key(drift: _Drift, active: bool) -> str:
    iam = drift.account("prod").client("iam")
    keys = iam.list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"]
    oldest = min(keys, key=lambda key: key["CreateDate"])
    status = "Active" if active else "Inactive"
    iam.update_access_key(
        UserName="deploy-bot", AccessKeyId=oldest["AccessKeyId"], Status=status
    )
    verb = "reactivated" if active else "deactivated"
    return f"prod: the oldest access key of IAM user deploy-bot {verb}"


def _dev_trail(drift: _Drift, logging: bool) -> str:
    cloudtrail = drift.account("dev").client("cloudtrail")
    name = _trail_name(_spec("dev"))
    if logging:
        cloudtrail.start_logging(Name=name)
        return f"dev: trail {name} logging again"
    cloudtrail.stop_logging(Name=name)
    return f"dev: trail {name} stopped logging"


def _sandbox_account_pab(drift: _Drift, on: bool) -> str:
    account = drift.account("sandbox")
    s3control = account.client("s3control")
    if on:
        s3control.put_public_access_block(
            AccountId=account.id,
            PublicAccessBlockConfiguration=dict.fromkeys(PAB_FLAGS, True),
        )
        return "sandbox: account-level S3 Block Public Access turned on"
    s3control.delete_public_access_block(AccountId=account.id)
    return "sandbox: account-level S3 Block Public Access removed"


def _api_legacy_imds(drift: _Drift, required: bool) -> str:
    region = drift.seed.regions[0]
    instance_id = drift.instance_id("prod", "api-legacy", region)
    tokens = "required" if required else "optional"
    drift.account("prod").client("ec2", region).modify_instance_metadata_options(
        InstanceId=instance_id, HttpTokens=tokens, HttpEndpoint="enabled"
    )
    return f"prod: instance api-legacy ({region}) now has IMDSv2 {tokens}"


CONTRACTOR = "frank.contractor"


def _dev_contractor(drift: _Drift, present: bool) -> str:
    iam = drift.account("dev").client("iam")
    if present:
        iam.create_user(UserName=CONTRACTOR, Tags=[{"Key": "team", "Value": "dev"}])
        iam.create_login_profile(UserName=CONTRACTOR, Password=DEMO_PASSWORD)
        return f"dev: IAM user {CONTRACTOR} created with a console password, no MFA"
    iam.delete_login_profile(UserName=CONTRACTOR)
    iam.delete_user(UserName=CONTRACTOR)
    return f"dev: IAM user {CONTRACTOR} deleted"


def _security_recorder(drift: _Drift, recording: bool) -> str:
    region = drift.seed.regions[-1]
    config = drift.account("security").client("config", region)
    if recording:
        config.start_configuration_recorder(ConfigurationRecorderName="default")
        return f"security: AWS Config recording again in {region}"
    config.stop_configuration_recorder(ConfigurationRecorderName="default")
    return f"security: AWS Config recorder stopped in {region}"


_ROUNDS: tuple[tuple[tuple[Callable[[_Drift, bool], str], bool], ...], ...] = (
    (
        (_reports_policy, True),
        (_dev_ssh, False),
        (_reports_versioning, True),
        (_deploy_bot_old_key, False),
        (_dev_trail, False),
    ),
    (
        (_sandbox_account_pab, True),
        (_api_legacy_imds, True),
        (_dev_contractor, True),
        (_security_recorder, False),
    ),
)
# Rounds 3 and 4 put rounds 1 and 2 back.
DRIFT_ROUNDS = (
    *_ROUNDS,
    *(tuple((change, not value) for change, value in round_) for round_ in _ROUNDS),
)


def apply_drift(endpoint_url: str, seed: SeedResult, *, step: int = 1) -> list[str]:
    """Apply round ``step`` of configuration changes; describe each change.

    Steps are meant to be taken in order (1, 2, 3 …) after ``seed_organization``;
    each round starts from the state the previous one left.
    """
    if step < 1:
        raise ValueError("drift steps start at 1")
    if endpoint_url != seed.endpoint_url:
        seed = dataclasses.replace(seed, endpoint_url=endpoint_url)
    drift = _Drift(seed)
    round_ = DRIFT_ROUNDS[(step - 1) % len(DRIFT_ROUNDS)]
    return [change(drift, value) for change, value in round_]
