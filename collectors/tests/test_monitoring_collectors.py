"""The monitoring collectors (CloudWatch, GuardDuty, Security Hub, EventBridge,
Config aggregators) against moto.

Where moto lacks a call (GuardDuty findings, Security Hub standards, composite
alarms) or leaves out what AWS returns (pending SNS subscriptions, more than
one page), a botocore ``before-call`` handler answers that one operation with
a response shaped as AWS documents it.
"""

import json
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from collectors.base import ERRORS_KEY
from findings.testing import ACCOUNT_ID, collect, deny

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LOG_GROUP = "/aws/cloudtrail/main"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*"
ROOT_PATTERN = (
    '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
    '&& $.eventType != "AwsServiceEvent" }'
)


def answer(session, service_id: str, operation: str, respond) -> list[dict]:
    """Answer ``operation`` with ``respond(request_args)``; returns the requests.

    ``service_id`` is botocore's event name for the service (cloudwatch-logs,
    eventbridge, ...). Query-protocol requests carry their arguments as a
    dict, JSON ones as a JSON body.
    """
    requests: list[dict] = []

    def handler(params, **kwargs):
        body = params.get("body") or {}
        args = body if isinstance(body, dict) else json.loads(body or b"{}")
        requests.append(args)
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(args)

    session.events.register(f"before-call.{service_id}.{operation}", handler)
    return requests


def by_type(records, resource_type):
    return [r for r in records if r.resource_type == resource_type]


def put_alarm(session, name, metric="RootUsage", namespace="CIS", **kwargs):
    session.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        MetricName=metric,
        Namespace=namespace,
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        **kwargs,
    )


# -- cloudwatch: log groups and alarms ------------------------------------------


def test_log_groups_and_alarms_are_collected_without_volatile_fields(aws):
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/app/api")
    logs.put_retention_policy(logGroupName="/app/api", retentionInDays=30)
    put_alarm(
        aws,
        "api-errors",
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:ops"],
        Tags=[{"Key": "team", "Value": "api"}],
    )

    records = collect("cloudwatch", session=aws, now=NOW)

    (group,) = by_type(records, "AWS::Logs::LogGroup")
    assert (
        group.resource_id == f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/app/api"
    )
    assert group.name == "/app/api"
    assert group.config["retentionInDays"] == 30
    assert "storedBytes" not in group.config
    (alarm,) = by_type(records, "AWS::CloudWatch::Alarm")
    assert alarm.resource_id == alarm.arn
    assert alarm.name == "api-errors"
    assert alarm.tags == {"team": "api"}
    assert alarm.config["AlarmType"] == "MetricAlarm"
    assert alarm.config["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:ops"]
    assert "StateValue" not in alarm.config
    assert ERRORS_KEY not in alarm.config


def test_alarm_record_does_not_change_when_the_alarm_fires(aws):
    put_alarm(aws, "api-errors")
    first = collect("cloudwatch", session=aws, now=NOW)
    aws.client("cloudwatch").set_alarm_state(
        AlarmName="api-errors", StateValue="ALARM", StateReason="threshold crossed"
    )

    assert collect("cloudwatch", session=aws, now=NOW) == first


def test_alarms_of_both_kinds_are_read_across_pages(aws):
    composite = {
        "AlarmName": "service-down",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:service-down",
        "ActionsEnabled": True,
        "AlarmActions": [],
        "AlarmRule": 'ALARM("api-errors") AND ALARM("db-errors")',
        "StateValue": "OK",
        "StateUpdatedTimestamp": NOW,
    }
    metric = {
        "AlarmName": "api-errors",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:api-errors",
        "ActionsEnabled": True,
        "AlarmActions": [],
        "MetricName": "Errors",
        "Namespace": "App",
    }

    def pages(args):
        if args.get("NextToken") != "page-2":
            return {
                "MetricAlarms": [metric],
                "CompositeAlarms": [],
                "NextToken": "page-2",
            }
        return {"MetricAlarms": [], "CompositeAlarms": [composite]}

    requests = answer(aws, "cloudwatch", "DescribeAlarms", pages)

    alarms = by_type(collect("cloudwatch", session=aws), "AWS::CloudWatch::Alarm")

    assert [(a.name, a.config["AlarmType"]) for a in alarms] == [
        ("api-errors", "MetricAlarm"),
        ("service-down", "CompositeAlarm"),
    ]
    assert "StateValue" not in alarms[1].config
    assert requests[0]["AlarmTypes"] == ["MetricAlarm", "CompositeAlarm"]


def test_log_groups_are_read_across_pages(aws):
    def pages(args):
        if args.get("nextToken") != "page-2":
            return {
                "logGroups": [
                    {
                        "logGroupName": "/a",
                        "arn": "arn:aws:logs:us-east-1:1:log-group:/a:*",
                    }
                ],
                "nextToken": "page-2",
            }
        return {
            "logGroups": [
                {
                    "logGroupName": "/b",
                    "logGroupArn": "arn:aws:logs:us-east-1:1:log-group:/b",
                }
            ]
        }

    answer(aws, "cloudwatch-logs", "DescribeLogGroups", pages)

    groups = by_type(collect("cloudwatch", session=aws), "AWS::Logs::LogGroup")

    assert [g.resource_id for g in groups] == [
        "arn:aws:logs:us-east-1:1:log-group:/a",
        "arn:aws:logs:us-east-1:1:log-group:/b",
    ]


def test_denied_log_group_listing_fails_the_unit(aws):
    deny(aws, "cloudwatch-logs", "DescribeLogGroups")

    with pytest.raises(ClientError):
        collect("cloudwatch", session=aws)


def test_denied_alarm_tags_are_recorded(aws):
    put_alarm(aws, "api-errors")
    deny(aws, "cloudwatch", "ListTagsForResource")

    (alarm,) = by_type(collect("cloudwatch", session=aws), "AWS::CloudWatch::Alarm")

    assert "AccessDenied" in alarm.config[ERRORS_KEY]["Tags"]


# -- cloudwatch-cis: the CIS alarm chain ------------------------------------------


def make_trail(session, *, log_group=True):
    session.client("s3").create_bucket(Bucket="audit-logs")
    kwargs = {}
    if log_group:
        session.client("logs").create_log_group(logGroupName=LOG_GROUP)
        kwargs = {
            "CloudWatchLogsLogGroupArn": LOG_GROUP_ARN,
            "CloudWatchLogsRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/trail-to-logs",
        }
    cloudtrail = session.client("cloudtrail")
    cloudtrail.create_trail(
        Name="main", S3BucketName="audit-logs", IsMultiRegionTrail=True, **kwargs
    )
    cloudtrail.start_logging(Name="main")


def make_chain(session, email=True) -> str:
    """Filter on the trail's group, an alarm on its metric, a subscribed topic."""
    session.client("logs").put_metric_filter(
        logGroupName=LOG_GROUP,
        filterName="root-usage",
        filterPattern=ROOT_PATTERN,
        metricTransformations=[
            {"metricName": "RootUsage", "metricNamespace": "CIS", "metricValue": "1"}
        ],
    )
    sns = session.client("sns")
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    if email:
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="sec@example.com")
    put_alarm(session, "root-usage", AlarmActions=[topic])
    put_alarm(session, "cpu-high", metric="CPUUtilization", namespace="AWS/EC2")
    return topic


def coverage(session):
    (record,) = collect("cloudwatch-cis", session=session, now=NOW)
    assert record.resource_type == "AWS::CloudWatch::CISAlarmCoverage"
    assert record.resource_id == ACCOUNT_ID
    return record


def test_account_without_trails_still_has_a_coverage_record(aws):
    record = coverage(aws)

    assert record.region == "global"
    assert record.config == {
        "Trails": [],
        "LogGroups": {},
        "Alarms": {},
        "TopicSubscriptions": {},
    }


def test_coverage_follows_trail_to_filter_alarm_and_subscription(aws):
    make_trail(aws)
    topic = make_chain(aws)

    config = coverage(aws).config

    (trail,) = config["Trails"]
    assert trail["CloudWatchLogsLogGroupArn"] == LOG_GROUP_ARN
    group = config["LogGroups"][LOG_GROUP_ARN]
    assert (group["LogGroupName"], group["Region"], group["Exists"]) == (
        LOG_GROUP,
        "us-east-1",
        True,
    )
    (metric_filter,) = group["MetricFilters"]
    assert metric_filter["filterPattern"] == ROOT_PATTERN
    # Only alarms on the filters' metrics are kept.
    (alarm,) = config["Alarms"]["us-east-1"]
    assert alarm["AlarmName"] == "root-usage"
    assert alarm["Metrics"] == [{"Namespace": "CIS", "MetricName": "RootUsage"}]
    assert alarm["AlarmActions"] == [topic]
    # Protocols and confirmation only: an endpoint can carry a webhook token.
    assert config["TopicSubscriptions"] == {
        topic: [{"Protocol": "email", "Confirmed": True}]
    }
    assert ERRORS_KEY not in config


def test_pending_subscription_is_not_confirmed(aws):
    make_trail(aws)
    topic = make_chain(aws, email=False)
    answer(
        aws,
        "sns",
        "ListSubscriptionsByTopic",
        lambda args: {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Owner": ACCOUNT_ID,
                    "Protocol": "email",
                    "Endpoint": "sec@example.com",
                    "TopicArn": topic,
                }
            ]
        },
    )

    config = coverage(aws).config

    assert config["TopicSubscriptions"][topic] == [
        {"Protocol": "email", "Confirmed": False}
    ]


def test_metric_filters_are_read_across_pages(aws):
    make_trail(aws)

    def pages(args):
        first = args.get("nextToken") != "page-2"
        name = "a" if first else "b"
        page = {
            "metricFilters": [
                {
                    "filterName": name,
                    "filterPattern": "{ $.x = 1 }",
                    "metricTransformations": [],
                }
            ]
        }
        return {**page, "nextToken": "page-2"} if first else page

    answer(aws, "cloudwatch-logs", "DescribeMetricFilters", pages)

    group = coverage(aws).config["LogGroups"][LOG_GROUP_ARN]

    assert [f["filterName"] for f in group["MetricFilters"]] == ["a", "b"]


def test_organization_trail_log_group_in_another_account_is_not_read(aws):
    foreign = "arn:aws:logs:us-east-1:999999999999:log-group:org-trail:*"
    answer(
        aws,
        "cloudtrail",
        "DescribeTrails",
        lambda args: {
            "trailList": [
                {
                    "Name": "org-trail",
                    "TrailARN": (
                        "arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail"
                    ),
                    "HomeRegion": "us-east-1",
                    "IsMultiRegionTrail": True,
                    "IsOrganizationTrail": True,
                    "CloudWatchLogsLogGroupArn": foreign,
                },
                {"Name": "local", "TrailARN": "arn:x", "IsMultiRegionTrail": False},
            ]
        },
    )
    reads = answer(aws, "cloudwatch-logs", "DescribeMetricFilters", lambda a: {})

    config = coverage(aws).config

    assert [t["Name"] for t in config["Trails"]] == ["org-trail"]
    assert config["LogGroups"][foreign] == {
        "LogGroupName": "org-trail",
        "Region": "us-east-1",
        "AccountId": "999999999999",
        "Exists": None,
        "MetricFilters": None,
    }
    assert reads == []


def test_missing_log_group_is_recorded_as_absent(aws):
    make_trail(aws)
    deny(aws, "cloudwatch-logs", "DescribeMetricFilters", "ResourceNotFoundException")

    group = coverage(aws).config["LogGroups"][LOG_GROUP_ARN]

    assert group["Exists"] is False
    assert group["MetricFilters"] is None


@pytest.mark.parametrize(
    ("service_id", "operation", "key"),
    [
        ("cloudwatch-logs", "DescribeMetricFilters", f"LogGroups:{LOG_GROUP_ARN}"),
        ("cloudwatch", "DescribeAlarms", "Alarms:us-east-1"),
        ("sns", "ListSubscriptionsByTopic", "TopicSubscriptions:{topic}"),
    ],
)
def test_denied_sub_calls_of_the_chain_are_recorded(aws, service_id, operation, key):
    make_trail(aws)
    topic = make_chain(aws)
    deny(aws, service_id, operation)

    config = coverage(aws).config

    assert "AccessDenied" in config[ERRORS_KEY][key.format(topic=topic)]


def test_denied_trail_listing_fails_the_cis_unit(aws):
    deny(aws, "cloudtrail", "DescribeTrails")

    with pytest.raises(ClientError):
        collect("cloudwatch-cis", session=aws)


# -- guardduty -------------------------------------------------------------------


def finding(finding_id, severity, finding_type="UnauthorizedAccess:EC2/SSHBruteForce"):
    """A GuardDuty finding as get_findings returns it (abridged)."""
    return {
        "AccountId": ACCOUNT_ID,
        "Arn": (
            f"arn:aws:guardduty:us-east-1:{ACCOUNT_ID}:detector/d/finding/{finding_id}"
        ),
        "CreatedAt": "2026-03-01T10:00:00.000Z",
        "Id": finding_id,
        "Partition": "aws",
        "Region": "us-east-1",
        "Resource": {"ResourceType": "Instance"},
        "SchemaVersion": "2.0",
        "Service": {
            "Archived": False,
            "Count": 41,
            "EventLastSeen": "2026-03-02T11:00:00Z",
        },
        "Severity": severity,
        "Title": f"Finding {finding_id}",
        "Type": finding_type,
        "UpdatedAt": "2026-03-02T11:00:00.000Z",
    }


def test_region_without_detector_still_yields_a_record(aws):
    (record,) = collect("guardduty", "eu-west-1", session=aws)

    assert (record.resource_type, record.resource_id) == (
        "AWS::GuardDuty::Detector",
        "eu-west-1",
    )
    assert record.config == {
        "DetectorId": None,
        "Detector": None,
        "HighSeverityFindings": None,
    }


def test_detector_and_its_open_high_findings_across_pages(aws):
    detector_id = aws.client("guardduty").create_detector(
        Enable=True, Tags={"team": "security"}
    )["DetectorId"]

    def ids(args):
        if args.get("nextToken") != "page-2":
            return {"FindingIds": ["f1", "f2"], "NextToken": "page-2"}
        return {"FindingIds": ["f3"]}

    listed = answer(aws, "guardduty", "ListFindings", ids)
    fetched = answer(
        aws,
        "guardduty",
        "GetFindings",
        lambda args: {
            "Findings": [finding("f2", 7.5), finding("f1", 8.0), finding("f3", 8.0)]
        },
    )

    (record,) = collect("guardduty", session=aws)

    assert record.config["DetectorId"] == detector_id
    assert record.arn.endswith(f":detector/{detector_id}")
    assert record.tags == {"team": "security"}
    assert record.config["Detector"]["Status"] == "ENABLED"
    assert "UpdatedAt" not in record.config["Detector"]
    findings = record.config["HighSeverityFindings"]
    assert findings["Count"] == 3
    assert [f["Id"] for f in findings["Findings"]] == ["f1", "f3", "f2"]
    assert findings["Findings"][0] == {
        "Id": "f1",
        "Type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "Severity": 8.0,
        "Title": "Finding f1",
        "ResourceType": "Instance",
    }
    criterion = listed[0]["findingCriteria"]["criterion"]
    assert criterion["severity"] == {"greaterThanOrEqual": 7}
    assert criterion["service.archived"] == {"equals": ["false"]}
    assert fetched[0]["findingIds"] == ["f1", "f2", "f3"]


def test_no_open_high_findings_skips_get_findings(aws):
    aws.client("guardduty").create_detector(Enable=True)
    answer(aws, "guardduty", "ListFindings", lambda args: {"FindingIds": []})
    fetched = answer(aws, "guardduty", "GetFindings", lambda args: {"Findings": []})

    (record,) = collect("guardduty", session=aws)

    assert record.config["HighSeverityFindings"] == {"Count": 0, "Findings": []}
    assert fetched == []


def test_findings_moto_cannot_list_are_an_error_not_an_empty_list(aws):
    aws.client("guardduty").create_detector(Enable=True)

    (record,) = collect("guardduty", session=aws)

    assert record.config["HighSeverityFindings"] is None
    assert "ListFindings" in record.config[ERRORS_KEY]["HighSeverityFindings"]


def test_denied_detector_listing_fails_the_unit(aws):
    deny(aws, "guardduty", "ListDetectors")

    with pytest.raises(ClientError):
        collect("guardduty", session=aws)


def test_denied_get_detector_is_recorded(aws):
    aws.client("guardduty").create_detector(Enable=True)
    deny(aws, "guardduty", "GetDetector")
    answer(aws, "guardduty", "ListFindings", lambda args: {"FindingIds": []})

    (record,) = collect("guardduty", session=aws)

    assert record.config["Detector"] is None
    assert "AccessDenied" in record.config[ERRORS_KEY]["Detector"]


# -- securityhub ------------------------------------------------------------------

FSBP_ARN = (
    "arn:aws:securityhub:us-east-1::standards/"
    "aws-foundational-security-best-practices/v/1.0.0"
)
CIS_ARN = (
    "arn:aws:securityhub:us-east-1::standards/cis-aws-foundations-benchmark/v/3.0.0"
)


def subscription(arn, status="READY"):
    return {
        "StandardsSubscriptionArn": arn.replace(
            "::standards", f":{ACCOUNT_ID}:subscription"
        ),
        "StandardsArn": arn,
        "StandardsInput": {},
        "StandardsStatus": status,
    }


def test_region_without_security_hub_yields_a_record(aws):
    (record,) = collect("securityhub", session=aws)

    assert (record.resource_type, record.resource_id) == (
        "AWS::SecurityHub::Hub",
        "us-east-1",
    )
    assert record.config == {"Hub": None, "StandardsSubscriptions": None}


def test_hub_with_enabled_standards_across_pages(aws):
    aws.client("securityhub").enable_security_hub(EnableDefaultStandards=False)

    def pages(args):
        if args.get("NextToken") != "page-2":
            return {
                "StandardsSubscriptions": [subscription(FSBP_ARN)],
                "NextToken": "page-2",
            }
        return {"StandardsSubscriptions": [subscription(CIS_ARN, "PENDING")]}

    answer(aws, "securityhub", "GetEnabledStandards", pages)

    (record,) = collect("securityhub", session=aws)

    assert record.arn == f"arn:aws:securityhub:us-east-1:{ACCOUNT_ID}:hub/default"
    assert [
        (s["StandardsArn"], s["StandardsStatus"])
        for s in record.config["StandardsSubscriptions"]
    ] == [(FSBP_ARN, "READY"), (CIS_ARN, "PENDING")]


def test_standards_moto_cannot_list_are_an_error(aws):
    aws.client("securityhub").enable_security_hub()

    (record,) = collect("securityhub", session=aws)

    assert record.config["StandardsSubscriptions"] is None
    assert "GetEnabledStandards" in record.config[ERRORS_KEY]["StandardsSubscriptions"]


def test_denied_describe_hub_fails_the_unit(aws):
    deny(aws, "securityhub", "DescribeHub", "AccessDeniedException")

    with pytest.raises(ClientError):
        collect("securityhub", session=aws)


# -- events ---------------------------------------------------------------------------


def test_default_bus_with_rules_and_targets(aws):
    events = aws.client("events")
    pattern = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}
    events.put_rule(Name="findings", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="findings",
        Targets=[
            {
                "Id": "pager",
                "Arn": "arn:aws:sns:us-east-1:123456789012:oncall",
                "Input": '{"token": "not kept"}',
            }
        ],
    )
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")

    (bus,) = collect("events", session=aws)

    assert bus.resource_type == "AWS::Events::EventBus"
    assert bus.resource_id == f"arn:aws:events:us-east-1:{ACCOUNT_ID}:event-bus/default"
    findings, nightly = bus.config["Rules"]
    assert findings["EventPattern"] == pattern
    assert findings["Targets"] == [
        {"Id": "pager", "Arn": "arn:aws:sns:us-east-1:123456789012:oncall"}
    ]
    assert nightly["ScheduleExpression"] == "rate(1 day)"
    assert nightly["Targets"] == []


def test_region_without_rules_still_has_its_default_bus(aws):
    (bus,) = collect("events", "ap-southeast-2", session=aws)

    assert bus.config == {"Name": "default", "Rules": []}


def test_rules_are_read_across_pages(aws):
    def pages(args):
        if args.get("NextToken") != "page-2":
            return {"Rules": [{"Name": "a", "State": "ENABLED"}], "NextToken": "page-2"}
        return {"Rules": [{"Name": "b", "State": "DISABLED"}]}

    answer(aws, "eventbridge", "ListRules", pages)
    answer(aws, "eventbridge", "ListTargetsByRule", lambda args: {"Targets": []})

    (bus,) = collect("events", session=aws)

    assert [r["Name"] for r in bus.config["Rules"]] == ["a", "b"]


def test_denied_targets_are_recorded_per_rule(aws):
    aws.client("events").put_rule(
        Name="findings", EventPattern='{"source": ["aws.securityhub"]}'
    )
    deny(aws, "eventbridge", "ListTargetsByRule")

    (bus,) = collect("events", session=aws)

    assert bus.config["Rules"][0]["Targets"] is None
    assert "AccessDenied" in bus.config[ERRORS_KEY]["Targets:findings"]


def test_denied_rule_listing_fails_the_unit(aws):
    deny(aws, "eventbridge", "ListRules")

    with pytest.raises(ClientError):
        collect("events", session=aws)


# -- config aggregators ---------------------------------------------------------------


def test_aggregators_and_the_organization_are_recorded(aws):
    organization = aws.client("organizations").create_organization(FeatureSet="ALL")
    aws.client("config").put_configuration_aggregator(
        ConfigurationAggregatorName="organization",
        OrganizationAggregationSource={
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/aggregator",
            "AllAwsRegions": True,
        },
    )

    (record,) = collect("config-aggregator", session=aws)

    assert (record.resource_type, record.resource_id) == (
        "AWS::Config::ConfigurationAggregator",
        "us-east-1",
    )
    (aggregator,) = record.config["ConfigurationAggregators"]
    assert aggregator["OrganizationAggregationSource"]["AllAwsRegions"] is True
    assert record.config["Organization"] == {
        "Id": organization["Organization"]["Id"],
        "MasterAccountId": ACCOUNT_ID,
    }


def test_account_outside_an_organization(aws):
    (record,) = collect("config-aggregator", "eu-west-1", session=aws)

    assert record.config == {"ConfigurationAggregators": [], "Organization": None}


def test_denied_organization_lookup_is_recorded(aws):
    deny(aws, "organizations", "DescribeOrganization", "AccessDeniedException")

    (record,) = collect("config-aggregator", session=aws)

    assert "AccessDenied" in record.config[ERRORS_KEY]["Organization"]


def test_denied_aggregator_listing_fails_the_unit(aws):
    deny(aws, "config-service", "DescribeConfigurationAggregators")

    with pytest.raises(ClientError):
        collect("config-aggregator", session=aws)
