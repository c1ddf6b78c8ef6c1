"""The application-integration and analytics collectors against moto.

Records and their configuration, stable snapshots, paging, sub-call failures
and denied listings for SQS, SNS, Step Functions, SES, Kinesis, EMR, Data
Pipeline, WorkSpaces, OpenSearch and CloudSearch. Pages are served by a
botocore hook where moto ignores page sizes, in AWS's documented shape
(checked against the service model).
"""

import json
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from botocore.validate import ParamValidator

from findings.testing import collect, deny

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/workflow"


def by_id(records) -> dict:
    return {r.resource_id: r for r in records}


def of_type(records, resource_type: str) -> dict:
    return {r.resource_id: r for r in records if r.resource_type == resource_type}


def answer(session, service: str, operation: str, respond) -> list[dict]:
    """Answer ``service.operation`` with ``respond(api_params)``.

    Every answer is checked against the operation's output shape. Returns the
    list of the API parameters of each call, for assertions.
    """
    calls: list[dict] = []

    def capture(params, **kwargs):
        calls.append(dict(params))

    def handler(model, **kwargs):
        parsed = respond(calls[-1])
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-parameter-build.{service}.{operation}", capture)
    session.events.register(f"before-call.{service}.{operation}", handler)
    return calls


def two_pages(key: str, first: list, second: list, token: str = "NextToken", **more):
    """A ``respond`` serving ``first`` then, for token "page-2", ``second``."""

    def respond(params: dict) -> dict:
        if params.get(token) == "page-2":
            return {key: second, **dict.fromkeys(more, False)}
        return {key: first, token: "page-2", **dict.fromkeys(more, True)}

    return respond


def assert_stable(service: str, aws, **kwargs) -> None:
    first = by_id(collect(service, session=aws, **kwargs))
    second = by_id(collect(service, session=aws, **kwargs))
    assert first.keys() == second.keys()
    for resource_id, record in first.items():
        assert json.dumps(record.config, sort_keys=True) == json.dumps(
            second[resource_id].config, sort_keys=True
        ), resource_id


# -- denied listings fail the unit ---------------------------------------------


@pytest.mark.parametrize(
    ("service", "event_service", "operation"),
    [
        ("sqs", "sqs", "ListQueues"),
        ("sns", "sns", "ListTopics"),
        ("stepfunctions", "sfn", "ListStateMachines"),
        ("ses", "ses", "ListIdentities"),
        ("kinesis", "kinesis", "ListStreams"),
        ("emr", "emr", "ListClusters"),
        ("datapipeline", "data-pipeline", "ListPipelines"),
        ("workspaces", "workspaces", "DescribeWorkspaces"),
        ("opensearch", "opensearch", "ListDomainNames"),
        ("cloudsearch", "cloudsearch", "DescribeDomains"),
    ],
)
def test_denied_listing_raises(aws, service, event_service, operation):
    deny(aws, event_service, operation)
    with pytest.raises(ClientError) as exc:
        collect(service, session=aws)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_cloudsearch_unsupported_by_moto_fails_instead_of_passing(aws):
    # moto has no CloudSearch: the unit must fail, never read as "no domains".
    with pytest.raises((ClientError, ResponseParserError)):
        collect("cloudsearch", session=aws)


@pytest.mark.parametrize("service", ["datapipeline", "cloudsearch", "workspaces"])
def test_region_without_the_service_yields_nothing_and_asks_nothing(aws, service):
    deny(aws, {"datapipeline": "data-pipeline"}.get(service, service), "*")
    # Data Pipeline, CloudSearch and WorkSpaces are not offered in eu-south-2.
    assert collect(service, region="eu-south-2", session=aws) == []


# -- SQS ------------------------------------------------------------------------


def test_queue_record_keeps_configuration_not_message_counts(aws):
    sqs = aws.client("sqs")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sqs:SendMessage",
                "Resource": "arn:aws:sqs:us-east-1:123456789012:orders",
            }
        ],
    }
    url = sqs.create_queue(
        QueueName="orders",
        Attributes={
            "KmsMasterKeyId": "alias/orders",
            "VisibilityTimeout": "60",
            "Policy": json.dumps(policy),
        },
        tags={"team": "payments"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")

    queue = by_id(collect("sqs", session=aws))["orders"]

    assert queue.resource_type == "AWS::SQS::Queue"
    assert queue.arn == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert queue.tags == {"team": "payments"}
    attributes = queue.config["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/orders"
    assert attributes["VisibilityTimeout"] == "60"
    assert not [k for k in attributes if k.startswith("ApproximateNumber")]
    assert queue.config["Policy"] == policy  # parsed, and kept apart
    assert "Policy" not in attributes
    assert "_errors" not in queue.config
    assert_stable("sqs", aws)


def test_list_queues_asks_for_pages_and_follows_tokens(aws):
    sqs = aws.client("sqs")
    urls = [sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("a", "b", "c")]
    calls = answer(aws, "sqs", "ListQueues", two_pages("QueueUrls", urls[:2], urls[2:]))

    records = collect("sqs", session=aws)

    assert sorted(r.resource_id for r in records) == ["a", "b", "c"]
    # Without MaxResults AWS stops at 1,000 queues and sends no token.
    assert [c.get("MaxResults") for c in calls] == [1000, 1000]


def test_queue_deleted_after_listing_is_skipped(aws):
    aws.client("sqs").create_queue(QueueName="short-lived")
    deny(
        aws, "sqs", "GetQueueAttributes", code="AWS.SimpleQueueService.NonExistentQueue"
    )
    assert collect("sqs", session=aws) == []


# -- SNS ------------------------------------------------------------------------


def test_topic_and_subscriptions_are_records_without_secrets(aws):
    sns = aws.client("sns")
    arn = sns.create_topic(Name="alerts", Tags=[{"Key": "team", "Value": "ops"}])[
        "TopicArn"
    ]
    sns.subscribe(
        TopicArn=arn,
        Protocol="https",
        Endpoint="https://bot:pw@hooks.example.com/services/T0/B0/secret?x=1",
    )
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com")

    records = collect("sns", session=aws)

    topic = of_type(records, "AWS::SNS::Topic")[arn]
    assert topic.name == "alerts"
    assert topic.tags == {"team": "ops"}
    assert topic.config["Policy"]["Statement"]
    assert not {"SubscriptionsConfirmed", "Policy"} & set(topic.config["Attributes"])
    subscriptions = of_type(records, "AWS::SNS::Subscription")
    endpoints = sorted(s.config["Endpoint"] for s in subscriptions.values())
    assert endpoints == ["https://hooks.example.com", "ops@example.com"]
    assert "secret" not in json.dumps([s.name for s in subscriptions.values()])
    assert_stable("sns", aws)


def test_pending_subscriptions_get_distinct_stable_ids(aws):
    arn = aws.client("sns").create_topic(Name="alerts")["TopicArn"]

    def pending(endpoint: str) -> dict:
        return {
            "SubscriptionArn": "PendingConfirmation",
            "Owner": "123456789012",
            "Protocol": "https",
            "Endpoint": endpoint,
            "TopicArn": arn,
        }

    answer(
        aws,
        "sns",
        "ListSubscriptionsByTopic",
        lambda params: {
            "Subscriptions": [
                pending("https://a.example.com/x"),
                pending("https://a.example.com/y"),
            ]
        },
    )
    first = of_type(collect("sns", session=aws), "AWS::SNS::Subscription")
    second = of_type(collect("sns", session=aws), "AWS::SNS::Subscription")
    assert len(first) == 2 and first.keys() == second.keys()
    assert all(r.config["PendingConfirmation"] and not r.arn for r in first.values())


def test_topics_are_paged(aws):
    sns = aws.client("sns")
    arns = [sns.create_topic(Name=n)["TopicArn"] for n in ("t1", "t2")]
    answer(
        aws,
        "sns",
        "ListTopics",
        two_pages("Topics", [{"TopicArn": arns[0]}], [{"TopicArn": arns[1]}]),
    )
    topics = of_type(collect("sns", session=aws), "AWS::SNS::Topic")
    assert sorted(topics) == sorted(arns)


def test_denied_subscription_listing_fails_the_unit(aws):
    aws.client("sns").create_topic(Name="alerts")
    deny(aws, "sns", "ListSubscriptionsByTopic")
    with pytest.raises(ClientError):
        collect("sns", session=aws)


# -- Step Functions -------------------------------------------------------------


def test_state_machine_record_without_definition(aws):
    arn = aws.client("stepfunctions").create_state_machine(
        name="orders",
        definition=DEFINITION,
        roleArn=ROLE,
        tags=[{"key": "team", "value": "shop"}],
    )["stateMachineArn"]

    machine = by_id(collect("stepfunctions", session=aws))[arn]

    assert machine.name == "orders"
    assert machine.tags == {"team": "shop"}
    assert machine.config["StateMachine"]["loggingConfiguration"] == {"level": "OFF"}
    assert "definition" not in machine.config["StateMachine"]
    assert_stable("stepfunctions", aws)


def test_state_machines_are_paged(aws):
    sfn = aws.client("stepfunctions")
    listed = []
    for name in ("one", "two"):
        arn = sfn.create_state_machine(name=name, definition=DEFINITION, roleArn=ROLE)[
            "stateMachineArn"
        ]
        listed.append(
            {
                "stateMachineArn": arn,
                "name": name,
                "type": "STANDARD",
                "creationDate": datetime(2025, 1, 1, tzinfo=UTC),
            }
        )
    calls = answer(
        aws,
        "sfn",
        "ListStateMachines",
        two_pages("stateMachines", listed[:1], listed[1:], token="nextToken"),
    )
    assert len(collect("stepfunctions", session=aws)) == 2
    assert len(calls) == 2


# -- SES ------------------------------------------------------------------------


def test_identities_are_read_in_batches_of_100(aws):
    ses = aws.client("ses")
    for number in range(100):
        ses.verify_email_identity(EmailAddress=f"user{number}@example.com")
    ses.verify_domain_identity(Domain="example.com")
    calls = answer(
        aws,
        "ses",
        "GetIdentityDkimAttributes",
        lambda params: {
            "DkimAttributes": {
                name: {"DkimEnabled": False, "DkimVerificationStatus": "NotStarted"}
                for name in params["Identities"]
            }
        },
    )

    records = by_id(collect("ses", session=aws))

    assert len(records) == 101
    assert [len(c["Identities"]) for c in calls] == [100, 1]
    domain = records["example.com"]
    assert domain.config["IdentityType"] == "Domain"
    assert domain.arn == "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    assert domain.config["DkimAttributes"]["DkimEnabled"] is False
    assert records["user7@example.com"].config["IdentityType"] == "EmailAddress"


def test_identities_are_paged(aws):
    ses = aws.client("ses")
    for domain in ("a.example.com", "b.example.com"):
        ses.verify_domain_identity(Domain=domain)
    calls = answer(
        aws,
        "ses",
        "ListIdentities",
        two_pages("Identities", ["a.example.com"], ["b.example.com"]),
    )
    assert sorted(by_id(collect("ses", session=aws))) == [
        "a.example.com",
        "b.example.com",
    ]
    assert [c.get("MaxItems") for c in calls] == [1000, 1000]


def test_failed_batch_is_recorded_on_each_identity(aws):
    ses = aws.client("ses")
    ses.verify_domain_identity(Domain="example.com")
    ses.verify_email_identity(EmailAddress="a@example.com")
    deny(aws, "ses", "GetIdentityMailFromDomainAttributes")
    for record in collect("ses", session=aws):
        assert set(record.config["_errors"]) == {"MailFromDomainAttributes"}
        assert record.config["VerificationAttributes"]["VerificationStatus"]


# -- Kinesis --------------------------------------------------------------------


def test_stream_record_drops_shard_counts(aws):
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    kinesis.add_tags_to_stream(StreamName="clicks", Tags={"team": "web"})

    stream = by_id(collect("kinesis", session=aws))["clicks"]

    summary = stream.config["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 24
    assert not {"OpenShardCount", "ConsumerCount", "StreamStatus"} & set(summary)
    assert stream.arn == summary["StreamARN"]
    assert stream.tags == {"team": "web"}
    kinesis.update_shard_count(
        StreamName="clicks", TargetShardCount=4, ScalingType="UNIFORM_SCALING"
    )
    assert by_id(collect("kinesis", session=aws))["clicks"].config == stream.config


def test_streams_and_tags_are_paged(aws):
    kinesis = aws.client("kinesis")
    for name in ("a", "b"):
        kinesis.create_stream(StreamName=name, ShardCount=1)
    answer(
        aws,
        "kinesis",
        "ListStreams",
        two_pages("StreamNames", ["a"], ["b"], HasMoreStreams=True),
    )
    tag_calls = answer(
        aws,
        "kinesis",
        "ListTagsForStream",
        lambda params: (
            {"Tags": [{"Key": "z", "Value": "2"}], "HasMoreTags": False}
            if params.get("ExclusiveStartTagKey") == "m"
            else {"Tags": [{"Key": "m", "Value": "1"}], "HasMoreTags": True}
        ),
    )
    records = by_id(collect("kinesis", session=aws))
    assert sorted(records) == ["a", "b"]
    assert records["a"].tags == {"m": "1", "z": "2"}
    assert len(tag_calls) == 4


# -- EMR ------------------------------------------------------------------------


def run_cluster(aws, **kwargs) -> str:
    return aws.client("emr").run_job_flow(
        Name="etl",
        ReleaseLabel="emr-7.1.0",
        Instances={
            "InstanceGroups": [
                {
                    "InstanceRole": "MASTER",
                    "InstanceType": "m5.xlarge",
                    "InstanceCount": 1,
                }
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": "team", "Value": "data"}],
        **kwargs,
    )["JobFlowId"]


def test_emr_region_setting_cluster_and_configuration(aws):
    emr = aws.client("emr")
    emr.create_security_configuration(
        Name="encrypted",
        SecurityConfiguration=json.dumps({"EncryptionConfiguration": {}}),
    )
    cluster_id = run_cluster(aws, SecurityConfiguration="encrypted")
    calls = answer(aws, "emr", "ListInstances", lambda params: {"Instances": []})

    records = collect("emr", session=aws)

    region = of_type(records, "AWS::EMR::BlockPublicAccessConfiguration")
    assert region["us-east-1"].config == {"BlockPublicAccessConfiguration": {}}
    cluster = of_type(records, "AWS::EMR::Cluster")[cluster_id]
    assert cluster.tags == {"team": "data"}
    assert not {"Status", "NormalizedInstanceHours"} & set(cluster.config["Cluster"])
    assert cluster.config["PrimaryInstances"] == []
    assert calls[0]["InstanceGroupTypes"] == ["MASTER"]
    assert "RUNNING" in calls[0]["InstanceStates"]
    configuration = of_type(records, "AWS::EMR::SecurityConfiguration")["encrypted"]
    assert configuration.config["SecurityConfiguration"] == {
        "EncryptionConfiguration": {}
    }


def test_emr_config_is_stable_while_steps_run(aws):
    cluster_id = run_cluster(aws)
    first = by_id(collect("emr", session=aws))[cluster_id].config
    aws.client("emr").add_job_flow_steps(
        JobFlowId=cluster_id,
        Steps=[{"Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar"}}],
    )
    assert by_id(collect("emr", session=aws))[cluster_id].config == first


def test_instance_fleet_primary_is_listed_by_fleet_type(aws):
    cluster_id = run_cluster(aws)
    described = aws.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]
    described["InstanceCollectionType"] = "INSTANCE_FLEET"
    described.pop("KerberosAttributes", None)  # AWS omits it when unused
    answer(aws, "emr", "DescribeCluster", lambda params: {"Cluster": described})
    calls = answer(aws, "emr", "ListInstances", lambda params: {"Instances": []})
    collect("emr", session=aws)
    assert calls[0]["InstanceFleetType"] == "MASTER"
    assert "InstanceGroupTypes" not in calls[0]


def test_cluster_secrets_are_not_stored(aws):
    cluster_id = run_cluster(aws)
    described = aws.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]
    described["KerberosAttributes"] = {
        "Realm": "EC2.INTERNAL",
        "KdcAdminPassword": "kdc-secret",
        "ADDomainJoinUser": "joiner",
        "ADDomainJoinPassword": "join-secret",
    }
    described["Configurations"] = [
        {
            "Classification": "hive-site",
            "Properties": {"javax.jdo.option.ConnectionPassword": "db-secret"},
        }
    ]
    answer(aws, "emr", "DescribeCluster", lambda params: {"Cluster": described})

    cluster = by_id(collect("emr", session=aws))[cluster_id].config["Cluster"]

    assert "secret" not in json.dumps(cluster)
    assert cluster["KerberosAttributes"] == {
        "Realm": "EC2.INTERNAL",
        "ADDomainJoinUser": "joiner",
    }


def test_clusters_are_paged_and_only_active_ones_asked_for(aws):
    first, second = run_cluster(aws), run_cluster(aws)
    listed = {c["Id"]: c for c in aws.client("emr").list_clusters()["Clusters"]}
    calls = answer(
        aws,
        "emr",
        "ListClusters",
        two_pages("Clusters", [listed[first]], [listed[second]], token="Marker"),
    )
    clusters = of_type(collect("emr", session=aws), "AWS::EMR::Cluster")
    assert sorted(clusters) == sorted([first, second])
    assert "TERMINATED" not in calls[0]["ClusterStates"]


def test_undescribed_cluster_and_unlisted_configurations_fail_the_unit(aws):
    run_cluster(aws)
    deny(aws, "emr", "DescribeCluster")
    deny(aws, "emr", "ListSecurityConfigurations")
    with pytest.raises(ClientError):
        collect("emr", session=aws)


# -- Data Pipeline --------------------------------------------------------------


def test_pipeline_keeps_roles_and_log_uri_but_no_secrets(aws):
    client = aws.client("datapipeline")
    pipeline_id = client.create_pipeline(name="nightly", uniqueId="n1")["pipelineId"]
    client.put_pipeline_definition(
        pipelineId=pipeline_id,
        pipelineObjects=[
            {
                "id": "Default",
                "name": "Default",
                "fields": [
                    {"key": "role", "stringValue": "DataPipelineDefaultRole"},
                    {"key": "pipelineLogUri", "stringValue": "s3://logs/nightly/"},
                ],
            },
            {
                "id": "Database",
                "name": "Database",
                "fields": [
                    {"key": "type", "stringValue": "RdsDatabase"},
                    {"key": "username", "stringValue": "etl"},
                    {"key": "*password", "stringValue": "hunter2"},
                ],
            },
        ],
    )

    pipeline = by_id(collect("datapipeline", session=aws))[pipeline_id]

    assert pipeline.arn.endswith(f":pipeline/{pipeline_id}")
    assert pipeline.config["PipelineObjects"] == [
        {
            "id": "Default",
            "name": "Default",
            "role": "DataPipelineDefaultRole",
            "pipelineLogUri": "s3://logs/nightly/",
        },
        {"id": "Database", "name": "Database", "type": "RdsDatabase"},
    ]
    assert "hunter2" not in json.dumps(pipeline.config)
    assert pipeline.config["Roles"] == {"DataPipelineDefaultRole": {"Exists": False}}
    assert_stable("datapipeline", aws)


def test_each_role_is_read_once_per_unit(aws):
    client = aws.client("datapipeline")
    for number in range(3):
        pipeline_id = client.create_pipeline(name=f"p{number}", uniqueId=str(number))[
            "pipelineId"
        ]
        client.put_pipeline_definition(
            pipelineId=pipeline_id,
            pipelineObjects=[
                {
                    "id": "Default",
                    "name": "Default",
                    "fields": [{"key": "role", "stringValue": "SharedRole"}],
                }
            ],
        )
    calls: list = []
    aws.events.register(
        "before-call.iam.ListAttachedRolePolicies",
        lambda **kwargs: calls.append(1),
    )
    assert len(collect("datapipeline", session=aws)) == 3
    assert len(calls) == 1


def test_pipelines_are_paged(aws):
    client = aws.client("datapipeline")
    ids = [client.create_pipeline(name=n, uniqueId=n)["pipelineId"] for n in "ab"]
    answer(
        aws,
        "data-pipeline",
        "ListPipelines",
        two_pages(
            "pipelineIdList",
            [{"id": ids[0], "name": "a"}],
            [{"id": ids[1], "name": "b"}],
            token="marker",
            hasMoreResults=True,
        ),
    )
    assert sorted(by_id(collect("datapipeline", session=aws))) == sorted(ids)


# -- WorkSpaces -----------------------------------------------------------------


def workspace(workspace_id: str, state: str = "AVAILABLE") -> dict:
    return {
        "WorkspaceId": workspace_id,
        "DirectoryId": "d-1234567890",
        "UserName": "alice",
        "State": state,
        "BundleId": "wsb-0a1b2c3d4",
        "UserVolumeEncryptionEnabled": True,
        "RootVolumeEncryptionEnabled": True,
        "WorkspaceProperties": {"RunningMode": "AUTO_STOP"},
    }


def test_workspaces_are_paged_and_state_is_not_stored(aws):
    calls = answer(
        aws,
        "workspaces",
        "DescribeWorkspaces",
        two_pages(
            "Workspaces",
            [workspace("ws-0aaaaaaa1", "STOPPED")],
            [workspace("ws-0aaaaaaa2")],
        ),
    )
    answer(aws, "workspaces", "DescribeTags", lambda params: {"TagList": []})

    records = by_id(collect("workspaces", session=aws))

    assert sorted(records) == ["ws-0aaaaaaa1", "ws-0aaaaaaa2"]
    assert [c.get("Limit") for c in calls] == [25, 25]
    stopped = records["ws-0aaaaaaa1"]
    assert "State" not in stopped.config
    assert stopped.name == "alice (ws-0aaaaaaa1)"
    assert stopped.arn.endswith(":workspace/ws-0aaaaaaa1")


def test_denied_workspace_tags_are_recorded(aws):
    answer(
        aws,
        "workspaces",
        "DescribeWorkspaces",
        lambda params: {"Workspaces": [workspace("ws-0aaaaaaa1")]},
    )
    deny(aws, "workspaces", "DescribeTags")
    record = by_id(collect("workspaces", session=aws))["ws-0aaaaaaa1"]
    assert set(record.config["_errors"]) == {"Tags"}


# -- OpenSearch -----------------------------------------------------------------


def test_domains_are_described_five_at_a_time(aws):
    client = aws.client("opensearch")
    for number in range(6):
        client.create_domain(DomainName=f"search-{number}")
    client.add_tags(
        ARN=client.describe_domain(DomainName="search-0")["DomainStatus"]["ARN"],
        TagList=[{"Key": "team", "Value": "search"}],
    )
    calls: list = []
    aws.events.register(
        "before-parameter-build.opensearch.DescribeDomains",
        lambda params, **kwargs: calls.append(params["DomainNames"]),
    )

    records = by_id(collect("opensearch", session=aws))

    assert len(records) == 6
    assert [len(names) for names in calls] == [5, 1]
    domain = records["search-0"]
    assert domain.tags == {"team": "search"}
    assert domain.arn == "arn:aws:es:us-east-1:123456789012:domain/search-0"
    assert not {"Processing", "UpgradeProcessing"} & set(domain.config["DomainStatus"])
    assert_stable("opensearch", aws)


def test_domain_being_deleted_is_skipped(aws):
    client = aws.client("opensearch")
    client.create_domain(DomainName="going")
    status = client.describe_domains(DomainNames=["going"])["DomainStatusList"][0]
    answer(
        aws,
        "opensearch",
        "DescribeDomains",
        lambda params: {"DomainStatusList": [{**status, "Deleted": True}]},
    )
    assert collect("opensearch", session=aws) == []


def test_denied_describe_is_recorded_on_every_domain_of_the_batch(aws):
    client = aws.client("opensearch")
    for name in ("one", "two"):
        client.create_domain(DomainName=f"search-{name}")
    deny(aws, "opensearch", "DescribeDomains")
    records = collect("opensearch", session=aws)
    assert len(records) == 2
    assert all(r.config["DomainStatus"] is None for r in records)
    assert all("DomainStatus" in r.config["_errors"] for r in records)
