"""Demo seeding for application integration and analytics services.

SQS, SNS, Step Functions, SES, Kinesis, EMR, Data Pipeline, WorkSpaces and
OpenSearch get a few resources in each account's first region; EMR block
public access is a per-region setting and is set (or not) in every region.
"security" is compliant throughout, "prod" and "management" are mixed,
"dev" and "sandbox" are mostly bad. CloudSearch is not seeded: the simulator
does not implement it, so its unit shows as not supported.

Everything here uses calls the simulator implements. EMR clusters are
started without instance groups, so the simulator launches no EC2 instances
into the account (which would change the EC2 findings of other groups).
"""

import json
from typing import Any

# The profiles (see demo.seed) that get each kind of resource.
GOOD = "security"
MIXED = ("prod", "management")
BAD = ("dev", "sandbox")

LOG_RETENTION_HOURS = 168
TLS_1_2_PFS = "Policy-Min-TLS-1-2-PFS-2023-10"
TLS_1_0 = "Policy-Min-TLS-1-0-2019-07"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
WORKFLOW = json.dumps(
    {"StartAt": "Done", "States": {"Done": {"Type": "Succeed", "Comment": "demo"}}}
)


def seed(account: Any, profile: str, region: str) -> None:
    """Create this group's demo resources for one account and region."""
    _emr_block_public_access(account, profile, region)
    if region != account.primary:
        return
    _sqs(account, profile)
    _sns(account, profile)
    _stepfunctions(account, profile)
    _ses(account, profile)
    _kinesis(account, profile)
    _emr_clusters(account, profile)
    _datapipeline(account, profile)
    _workspaces(account, profile)
    _opensearch(account, profile)


def _document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _arn(account: Any, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{account.primary}:{account.id}:{resource}"


# -- SQS and SNS ----------------------------------------------------------------


def _sqs(account: Any, profile: str) -> None:
    sqs = account.client("sqs")
    orders = _arn(account, "sqs", "orders")
    from_alerts = {
        "Sid": "AlertsTopicDelivers",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": orders,
        "Condition": {"ArnEquals": {"aws:SourceArn": _arn(account, "sns", "alerts")}},
    }
    anyone = {
        "Sid": "AnyoneMaySend",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": _arn(account, "sqs", "inbound-webhooks"),
    }
    if profile == GOOD:
        sqs.create_queue(
            QueueName="orders",
            Attributes={
                "KmsMasterKeyId": "alias/aws/sqs",
                "Policy": _document(from_alerts),
            },
        )
    elif profile in MIXED:
        sqs.create_queue(
            QueueName="orders", Attributes={"Policy": _document(from_alerts)}
        )
        sqs.create_queue(
            QueueName="legacy-jobs", Attributes={"SqsManagedSseEnabled": "false"}
        )
    else:
        sqs.create_queue(
            QueueName="inbound-webhooks",
            Attributes={"SqsManagedSseEnabled": "false", "Policy": _document(anyone)},
        )


def _sns(account: Any, profile: str) -> None:
    sns = account.client("sns")
    attributes = {"KmsMasterKeyId": "alias/aws/sns"} if profile == GOOD else {}
    arn = sns.create_topic(Name="alerts", Attributes=attributes)["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=_arn(account, "sqs", "orders"))
    if profile == GOOD:
        sns.subscribe(
            TopicArn=arn, Protocol="https", Endpoint="https://oncall.example.com/sns"
        )
        return
    sns.subscribe(
        TopicArn=arn, Protocol="http", Endpoint="http://legacy-pager.example.com/sns"
    )
    if profile in BAD:
        public = {
            "Sid": "AnyoneMayPublish",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:Publish", "SNS:Subscribe"],
            "Resource": arn,
        }
        sns.set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=_document(public)
        )


# -- Step Functions, SES, Kinesis ------------------------------------------------


def _stepfunctions(account: Any, profile: str) -> None:
    sfn = account.client("stepfunctions")
    role = f"arn:aws:iam::{account.id}:role/demo-workflows"
    log_group = _arn(account, "logs", "log-group:/aws/vendedlogs/states/orders:*")
    logged = {
        "level": "ERROR",
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group}}],
    }
    if profile != "sandbox":
        sfn.create_state_machine(
            name="order-fulfilment",
            definition=WORKFLOW,
            roleArn=role,
            **({"loggingConfiguration": logged} if profile not in BAD else {}),
        )
    if profile != GOOD:
        sfn.create_state_machine(
            name="nightly-report", definition=WORKFLOW, roleArn=role
        )


def _ses(account: Any, profile: str) -> None:
    ses = account.client("ses")
    domain = f"{profile}.example.com"
    ses.verify_email_identity(EmailAddress=f"noreply@{domain}")
    if profile in BAD:
        return  # sends from a bare address, with no domain set up
    ses.verify_domain_identity(Domain=domain)
    ses.verify_domain_dkim(Domain=domain)
    if profile == GOOD:
        ses.set_identity_mail_from_domain(
            Identity=domain, MailFromDomain=f"mail.{domain}"
        )


def _kinesis(account: Any, profile: str) -> None:
    kinesis = account.client("kinesis")
    name = "audit-events" if profile == GOOD else "clickstream"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    if profile in BAD:
        return
    kinesis.start_stream_encryption(
        StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis"
    )
    if profile == GOOD:
        kinesis.increase_stream_retention_period(
            StreamName=name, RetentionPeriodHours=LOG_RETENTION_HOURS
        )


# -- EMR ------------------------------------------------------------------------


def _emr_block_public_access(account: Any, profile: str, region: str) -> None:
    # The simulator reports an empty configuration until one is put, and
    # cannot store "off": the bad profiles simply never put one.
    if profile == GOOD or (profile in MIXED and region == account.primary):
        account.client("emr", region).put_block_public_access_configuration(
            BlockPublicAccessConfiguration={
                "BlockPublicSecurityGroupRules": True,
                "PermittedPublicSecurityGroupRuleRanges": [
                    {"MinRange": 22, "MaxRange": 22}
                ],
            }
        )


def _emr_clusters(account: Any, profile: str) -> None:
    if profile == "management":
        return
    emr = account.client("emr")
    options: dict[str, Any] = {}
    if profile in (GOOD, "prod"):
        encryption = {
            "EnableAtRestEncryption": True,
            # prod forgot in-transit encryption: it needs a certificate bundle.
            "EnableInTransitEncryption": profile == GOOD,
            "AtRestEncryptionConfiguration": {
                "S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"}
            },
        }
        emr.create_security_configuration(
            Name="encrypted-analytics",
            SecurityConfiguration=json.dumps({"EncryptionConfiguration": encryption}),
        )
        options["SecurityConfiguration"] = "encrypted-analytics"
    emr.run_job_flow(
        Name="analytics",
        ReleaseLabel="emr-7.1.0",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 3,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": "team", "Value": "data"}],
        **options,
    )


# -- Data Pipeline --------------------------------------------------------------


def _pipeline_role(account: Any, name: str, *, admin: bool) -> None:
    iam = account.client("iam")
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": ["datapipeline.amazonaws.com", "ec2.amazonaws.com"]},
        "Action": "sts:AssumeRole",
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=_document(trust))
    if admin:
        iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN_POLICY)
        return
    copy_only = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
        "Resource": "*",
    }
    iam.put_role_policy(
        RoleName=name, PolicyName="pipeline-s3", PolicyDocument=_document(copy_only)
    )


def _datapipeline(account: Any, profile: str) -> None:
    if profile == "management":
        return
    role, resource_role = "DataPipelineDefaultRole", "DataPipelineDefaultResourceRole"
    _pipeline_role(account, role, admin=False)
    _pipeline_role(account, resource_role, admin=profile in BAD)
    client = account.client("datapipeline")
    pipeline_id = client.create_pipeline(
        name="nightly-export", uniqueId="nightly-export"
    )["pipelineId"]
    fields = [
        {"key": "scheduleType", "stringValue": "ondemand"},
        {"key": "role", "stringValue": role},
        {"key": "resourceRole", "stringValue": resource_role},
    ]
    if profile not in BAD:
        log_uri = f"s3://{account.bucket('logs')}/pipelines/"
        fields.append({"key": "pipelineLogUri", "stringValue": log_uri})
    client.put_pipeline_definition(
        pipelineId=pipeline_id,
        pipelineObjects=[{"id": "Default", "name": "Default", "fields": fields}],
    )


# -- WorkSpaces and OpenSearch --------------------------------------------------


def _default_subnets(account: Any) -> list[str]:
    subnets = account.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    return [s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]


def _workspaces(account: Any, profile: str) -> None:
    if profile == "management":
        return
    subnets = _default_subnets(account)[:2]
    vpc_id = account.client("ec2").describe_subnets(SubnetIds=subnets[:1])["Subnets"][
        0
    ]["VpcId"]
    directory_id = account.client("ds").create_directory(
        Name=f"corp.{profile}.example.com",
        Password="Demo-Directory-Passw0rd",  # noqa: S106 - simulator only
        Size="Small",
        VpcSettings={"VpcId": vpc_id, "SubnetIds": subnets},
    )["DirectoryId"]
    workspaces = account.client("workspaces")
    workspaces.register_workspace_directory(DirectoryId=directory_id)
    encrypted = profile == GOOD
    requests = [
        {
            "DirectoryId": directory_id,
            "UserName": "analyst",
            "BundleId": "wsb-0a1b2c3d4",
            "UserVolumeEncryptionEnabled": encrypted or profile == "prod",
            "RootVolumeEncryptionEnabled": encrypted,
            "VolumeEncryptionKey": "alias/aws/workspaces",
            "WorkspaceProperties": {
                "RunningMode": "AUTO_STOP",
                "RunningModeAutoStopTimeoutInMinutes": 60,
            },
        }
    ]
    workspaces.create_workspaces(Workspaces=requests)


def _opensearch(account: Any, profile: str) -> None:
    if profile == "management":
        return
    client = account.client("opensearch")
    secure = profile == GOOD
    options: dict[str, Any] = {
        "EncryptionAtRestOptions": {"Enabled": profile != "sandbox"},
        "NodeToNodeEncryptionOptions": {"Enabled": profile in (GOOD, "prod")},
        "DomainEndpointOptions": {
            "EnforceHTTPS": profile in (GOOD, "prod"),
            "TLSSecurityPolicy": TLS_1_2_PFS if profile in (GOOD, "prod") else TLS_1_0,
        },
    }
    if secure:
        options["VPCOptions"] = {"SubnetIds": _default_subnets(account)[:1]}
    client.create_domain(
        DomainName="app-search", EngineVersion="OpenSearch_2.13", **options
    )
