"""CloudWatch controls on configurations built in moto.

The fifteen CIS alarm controls are evaluated on one moto account set up once
for the module: a logging multi-region trail delivering to a log group, then
scanned before and after the CIS metric filters and alarms exist, and with
the metric filter listing denied. Edge cases of the alarm chain use the
root-usage alarm on a fresh moto account each.

Where moto cannot build what AWS returns (a pending SNS subscription, an
organization trail owned by another account, composite alarms), the one
operation is answered in AWS's shape by a botocore ``before-call`` handler.
"""

import copy
import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from findings.controls import REGISTRY, cloudwatch
from findings.controls.base import StaticContext, Status
from findings.controls.cloudwatch import (
    CIS_ALARM_COVERAGE,
    CIS_ALARMS,
    PatternError,
    missing_terms,
)
from findings.testing import ACCOUNT_ID, collect, deny, evaluate, view

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LOG_GROUP = "/aws/cloudtrail/main"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*"
ROOT = next(s for s in CIS_ALARMS if s.key == "root-usage")
SPEC_IDS = [s.key for s in CIS_ALARMS]


def answer(session, service_id, operation, respond):
    def handler(params, **kwargs):
        body = params.get("body") or {}
        args = body if isinstance(body, dict) else json.loads(body or b"{}")
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(args)

    session.events.register(f"before-call.{service_id}.{operation}", handler)


def make_trail(session, *, log_group=True, logging=True, multi_region=True):
    session.client("s3").create_bucket(Bucket="audit-logs")
    extra = {}
    if log_group:
        session.client("logs").create_log_group(logGroupName=LOG_GROUP)
        extra = {
            "CloudWatchLogsLogGroupArn": LOG_GROUP_ARN,
            "CloudWatchLogsRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/trail-to-logs",
        }
    cloudtrail = session.client("cloudtrail")
    cloudtrail.create_trail(
        Name="main", S3BucketName="audit-logs", IsMultiRegionTrail=multi_region, **extra
    )
    if logging:
        cloudtrail.start_logging(Name="main")


def make_topic(session, *, subscribed=True) -> str:
    sns = session.client("sns")
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    if subscribed:
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="sec@example.com")
    return topic


def make_alarm(session, spec, *, pattern=None, actions=(), **alarm):
    metric = spec.key
    session.client("logs").put_metric_filter(
        logGroupName=LOG_GROUP,
        filterName=f"cis-{spec.key}",
        filterPattern=pattern or spec.pattern,
        metricTransformations=[
            {"metricName": metric, "metricNamespace": "CIS", "metricValue": "1"}
        ],
    )
    if alarm.pop("skip_alarm", False):
        return
    metric_args = (
        {} if "Metrics" in alarm else {"MetricName": metric, "Namespace": "CIS"}
    )
    session.client("cloudwatch").put_metric_alarm(
        AlarmName=f"cis-{spec.key}",
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=list(actions),
        **({"Statistic": "Sum", "Period": 300} if metric_args else {}),
        **metric_args,
        **alarm,
    )


def scan(session):
    return collect("cloudtrail", session=session, now=NOW) + collect(
        "cloudwatch-cis", session=session, now=NOW
    )


def check(control_id, records, **kwargs):
    kwargs.setdefault("now", NOW)
    return evaluate(control_id, records, **kwargs)[ACCOUNT_ID]


@pytest.fixture(scope="module")
def cis_scans():
    """One moto account, scanned before and after the CIS alarms exist."""
    with mock_aws():
        forget_credentials()
        session = new_session(region_name="us-east-1")
        make_trail(session)
        topic = make_topic(session)
        scans = {"bare": scan(session)}
        for spec in CIS_ALARMS:
            make_alarm(session, spec, actions=[topic])
        scans["full"] = scan(session)
        denied = new_session(region_name="us-east-1")
        deny(denied, "cloudwatch-logs", "DescribeMetricFilters")
        scans["denied"] = scan(denied)
    # Records are plain data: the mock ends here, so the function-scoped moto
    # of the other tests starts empty.
    forget_credentials()
    return scans


# -- every CIS alarm control ----------------------------------------------------------


@pytest.mark.parametrize("spec", CIS_ALARMS, ids=SPEC_IDS)
def test_cis_metric_filter_with_notifying_alarm_passes(cis_scans, spec):
    result = check(spec.id, cis_scans["full"])

    assert result.status == Status.PASS, result.reason
    assert f"filter cis-{spec.key} feeds CIS/{spec.key}" in result.reason
    assert "SNS topic security-alerts (1 confirmed subscription(s): email)" in (
        result.reason
    )


@pytest.mark.parametrize("spec", CIS_ALARMS, ids=SPEC_IDS)
def test_cis_alarm_missing_fails(cis_scans, spec):
    result = check(spec.id, cis_scans["bare"])

    assert result.status == Status.FAIL
    assert f"no metric filter matching the CIS {spec.cis} pattern" in result.reason
    assert LOG_GROUP in result.reason


@pytest.mark.parametrize("spec", CIS_ALARMS, ids=SPEC_IDS)
def test_cis_alarm_with_unreadable_metric_filters_is_an_error(cis_scans, spec):
    result = check(spec.id, cis_scans["denied"])

    assert result.status == Status.ERROR
    assert "AccessDenied" in result.reason


def organization_trail_scan(session):
    """A member account's view of the management account's organization trail."""
    arn = "arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail"
    trail = {
        "Name": "org-trail",
        "TrailARN": arn,
        "HomeRegion": "us-east-1",
        "S3BucketName": "org-audit",
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": True,
        "CloudWatchLogsLogGroupArn": (
            "arn:aws:logs:us-east-1:999999999999:log-group:org-trail:*"
        ),
    }
    answer(session, "cloudtrail", "DescribeTrails", lambda a: {"trailList": [trail]})
    answer(session, "cloudtrail", "GetTrailStatus", lambda a: {"IsLogging": True})
    answer(
        session,
        "cloudtrail",
        "GetEventSelectors",
        lambda a: {
            "TrailARN": arn,
            "EventSelectors": [
                {"ReadWriteType": "All", "IncludeManagementEvents": True}
            ],
        },
    )
    answer(session, "cloudtrail", "ListTags", lambda a: {"ResourceTagList": []})
    return scan(session)


@pytest.mark.parametrize("spec", CIS_ALARMS, ids=SPEC_IDS)
def test_cis_alarm_of_an_organization_trail_is_not_applicable(spec):
    with mock_aws():
        forget_credentials()
        records = organization_trail_scan(new_session(region_name="us-east-1"))
    forget_credentials()

    result = check(spec.id, records)

    assert result.status == Status.NOT_APPLICABLE
    assert "account 999999999999" in result.reason


def test_cis_controls_carry_the_reference_metadata():
    root = REGISTRY["cloudwatch.cis-alarm.root-usage"]
    assert (root.title, root.severity, root.cis_v3, root.cis_v4) == (
        "Alarm on root user usage",
        "high",
        "4.3",
        "4.3",
    )
    assert root.security_hub == ("CloudWatch.1*",)
    assert root.section == "account-security/security-logs/cloudwatch"
    assert REGISTRY["cloudwatch.cis-alarm.organizations-changes"].security_hub == ()
    assert "--filter-pattern '{ $.userIdentity.type" in root.remediation_cli


# -- filter patterns: meaning, not text ------------------------------------------


def spec(key):
    return next(s for s in CIS_ALARMS if s.key == key)


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        # CIS v1.x form, without the exclusions later versions added.
        (
            "unauthorized-api-calls",
            '{ ($.errorCode = "*UnauthorizedOperation") || '
            '($.errorCode = "AccessDenied*") }',
        ),
        # The exclusions applied to both alternatives, as AWS's docs group them.
        (
            "unauthorized-api-calls",
            '{(($.errorCode="*UnauthorizedOperation")||($.errorCode="AccessDenied*"))'
            ' && (($.sourceIPAddress!="delivery.logs.amazonaws.com")'
            ' && ($.eventName!="HeadBucket"))}',
        ),
        # Reordered, quoted, spread over lines, with the eventSource.
        (
            "cloudtrail-changes",
            '{\n  ($.eventSource = "cloudtrail.amazonaws.com") && (\n'
            '  ($.eventName = "StopLogging") || ($.eventName = "DeleteTrail") ||\n'
            '  ($.eventName = "UpdateTrail") || ($.eventName = "CreateTrail") ||\n'
            '  ($.eventName = "StartLogging"))\n}',
        ),
        # CIS v4 narrows to successful IAM user sign-ins.
        (
            "console-signin-without-mfa",
            '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != '
            '"Yes") && ($.userIdentity.type = "IAMUser") && '
            '($.responseElements.ConsoleLogin = "Success") }',
        ),
        # Extra events only raise more alarms.
        (
            "cmk-disable-or-deletion",
            "{ ($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion) "
            "|| ($.eventName = DeleteAlias) }",
        ),
        # ClassicLink no longer exists; its events need not be listed.
        (
            "vpc-changes",
            "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || "
            "($.eventName = ModifyVpcAttribute) || "
            "($.eventName = AcceptVpcPeeringConnection) || "
            "($.eventName = CreateVpcPeeringConnection) || "
            "($.eventName = DeleteVpcPeeringConnection) || "
            "($.eventName = RejectVpcPeeringConnection) }",
        ),
        (
            "root-usage",
            "{$.eventType!=AwsServiceEvent&&$.userIdentity.invokedBy NOT EXISTS"
            '&&$.userIdentity.type="Root"}',
        ),
    ],
)
def test_equivalent_patterns_match(key, pattern):
    assert missing_terms(spec(key), pattern) == []


@pytest.mark.parametrize(
    ("key", "pattern", "missing"),
    [
        (
            "cloudtrail-changes",
            "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || "
            "($.eventName = DeleteTrail) || ($.eventName = StartLogging) }",
            ["eventName = StopLogging"],
        ),
        # An extra condition lets root activity from one IP through unalarmed.
        (
            "root-usage",
            '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
            '&& $.eventType != "AwsServiceEvent" && $.sourceIPAddress = "10.0.0.1" }',
            [
                "eventType != AwsServiceEvent and userIdentity.invokedBy NOT EXISTS "
                "and userIdentity.type = Root"
            ],
        ),
        # Everything from KMS is not the two key events CIS names.
        (
            "cmk-disable-or-deletion",
            "{ $.eventSource = kms.amazonaws.com }",
            ["eventName = DisableKey", "eventName = ScheduleKeyDeletion"],
        ),
        (
            "console-signin-without-mfa",
            '{ $.eventName = "ConsoleLogin" }',
            ["additionalEventData.MFAUsed != Yes and eventName = ConsoleLogin"],
        ),
    ],
)
def test_patterns_that_let_required_events_through_do_not_match(key, pattern, missing):
    assert missing_terms(spec(key), pattern) == missing


@pytest.mark.parametrize(
    "pattern", ["ERROR", "[ip, user, ...]", "{ $.eventName = CreateTrail", "{ }"]
)
def test_non_json_patterns_are_not_read(pattern):
    with pytest.raises(PatternError):
        missing_terms(ROOT, pattern)


# -- edge cases of the chain, on the root-usage alarm --------------------------------


def root_chain(session, **alarm):
    make_trail(session)
    topic = make_topic(session)
    make_alarm(session, ROOT, actions=[topic], **alarm)
    return topic


def test_alarm_on_metric_math_passes(aws):
    root_chain(
        aws,
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {"Namespace": "CIS", "MetricName": "root-usage"},
                    "Period": 300,
                    "Stat": "Sum",
                },
            }
        ],
    )

    assert check(ROOT.id, scan(aws)).status == Status.PASS


def test_close_filter_is_named_in_the_reason(aws):
    make_trail(aws)
    make_alarm(aws, ROOT, pattern='{ $.userIdentity.type = "Root" }', skip_alarm=True)

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "no metric filter matching the CIS 4.3 pattern for root user" in (
        result.reason
    )


def test_filter_without_alarm_fails(aws):
    make_trail(aws)
    make_alarm(aws, ROOT, skip_alarm=True)

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "filter cis-root-usage feeds CIS/root-usage, but no alarm watches" in (
        result.reason
    )


def test_alarm_with_actions_disabled_fails(aws):
    root_chain(aws, ActionsEnabled=False)

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "alarm cis-root-usage on CIS/root-usage has its actions disabled" in (
        result.reason
    )


def test_alarm_without_sns_action_fails(aws):
    make_trail(aws)
    make_alarm(aws, ROOT, actions=["arn:aws:automate:us-east-1:ec2:stop"])

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "has no SNS topic among its alarm actions" in result.reason


def test_topic_without_confirmed_subscription_fails(aws):
    topic = root_chain(aws)
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

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "no confirmed subscription (1 pending confirmation)" in result.reason


def test_deleted_topic_fails(aws):
    topic = root_chain(aws)
    aws.client("sns").delete_topic(TopicArn=topic)

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert f"notifies topic {topic}, which does not exist" in result.reason


def test_unreadable_subscriptions_are_an_error(aws):
    root_chain(aws)
    deny(aws, "sns", "ListSubscriptionsByTopic", "AuthorizationError")

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.ERROR
    assert "AuthorizationError" in result.reason


def test_no_multi_region_trail_fails(aws):
    make_trail(aws, multi_region=False)

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert result.reason.startswith("no multi-region trail")


def test_trail_not_logging_fails(aws):
    make_trail(aws, logging=False)
    topic = make_topic(aws)
    make_alarm(aws, ROOT, actions=[topic])

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "multi-region trail main is not logging" in result.reason


def test_trail_without_cloudwatch_logs_fails(aws):
    make_trail(aws, log_group=False)

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "does not deliver to CloudWatch Logs" in result.reason


def test_trail_logging_write_events_only_fails(aws):
    root_chain(aws)
    aws.client("cloudtrail").put_event_selectors(
        TrailName="main",
        EventSelectors=[
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}
        ],
    )

    result = check(ROOT.id, scan(aws))

    assert result.status == Status.FAIL
    assert "logs only WriteOnly management events" in result.reason


def test_trails_not_collected_is_an_error(aws):
    root_chain(aws)
    records = collect("cloudwatch-cis", session=aws, now=NOW)

    result = check(
        ROOT.id,
        records,
        uncollected={("AWS::CloudTrail::Trail", "us-east-1"): "access denied"},
    )

    assert result.status == Status.ERROR


# -- logs.log-group.retention-1y -------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "status", "words"),
    [
        (None, Status.PASS, "never expires"),
        (400, Status.PASS, "keeps events for 400 days"),
        (365, Status.PASS, "keeps events for 365 days"),
        (90, Status.FAIL, "only 90 days"),
    ],
)
def test_log_group_retention(aws, days, status, words):
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/app/api")
    if days:
        logs.put_retention_policy(logGroupName="/app/api", retentionInDays=days)

    (result,) = evaluate(
        "logs.log-group.retention-1y", collect("cloudwatch", session=aws)
    ).values()

    assert result.status == status
    assert words in result.reason


# -- cloudwatch.alarm.has-actions -----------------------------------------------------


def alarm_results(session):
    return {
        arn.rsplit(":", 1)[-1]: result
        for arn, result in evaluate(
            "cloudwatch.alarm.has-actions", collect("cloudwatch", session=session)
        ).items()
    }


def test_alarm_actions(aws):
    topic = make_topic(aws)
    for name, extra in [
        ("notifies", {"AlarmActions": [topic]}),
        ("silent", {}),
        ("muted", {"AlarmActions": [topic], "ActionsEnabled": False}),
    ]:
        aws.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="App",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            **extra,
        )

    results = alarm_results(aws)

    assert results["notifies"].status == Status.PASS
    assert "notifies security-alerts" in results["notifies"].reason
    assert results["silent"].status == Status.FAIL
    assert "has no alarm actions" in results["silent"].reason
    assert results["muted"].status == Status.FAIL
    assert "actions disabled" in results["muted"].reason


def test_composite_alarm_actions(aws):
    def composite(name, actions):
        return {
            "AlarmName": name,
            "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:{name}",
            "ActionsEnabled": True,
            "AlarmActions": actions,
            "AlarmRule": 'ALARM("a") OR ALARM("b")',
        }

    answer(
        aws,
        "cloudwatch",
        "DescribeAlarms",
        lambda args: {
            "MetricAlarms": [],
            "CompositeAlarms": [
                composite("service-down", ["arn:aws:sns:us-east-1:1:oncall"]),
                composite("nobody-told", []),
            ],
        },
    )

    results = alarm_results(aws)

    assert results["service-down"].status == Status.PASS
    assert results["nobody-told"].status == Status.FAIL
    assert results["nobody-told"].reason.startswith("composite alarm nobody-told")


# -- parsing once per account ------------------------------------------------------


def test_the_fifteen_alarm_controls_parse_each_filter_once(cis_scans, monkeypatch):
    """One account's evaluation parses each metric filter pattern once, not
    once per CIS alarm control; an unreadable pattern is skipped by all."""
    records = copy.deepcopy(cis_scans["full"])
    coverage = next(r for r in records if r.resource_type == CIS_ALARM_COVERAGE)
    filters = coverage.config["LogGroups"][LOG_GROUP_ARN]["MetricFilters"]
    filters.append({"filterName": "plain-text", "filterPattern": "ERROR Exception"})
    parsed = []
    real_parse = cloudwatch.parse_pattern
    monkeypatch.setattr(
        cloudwatch,
        "parse_pattern",
        lambda text: parsed.append(text) or real_parse(text),
    )
    by_type = defaultdict(list)
    for record in records:
        by_type[record.resource_type].append(view(record))
    ctx = StaticContext(ACCOUNT_ID, NOW, ["us-east-1"], by_type=dict(by_type))

    results = [REGISTRY[spec.id].evaluate(view(coverage), ctx) for spec in CIS_ALARMS]

    assert [r.status for r in results] == [Status.PASS] * len(CIS_ALARMS)
    assert sorted(parsed) == sorted(f["filterPattern"] for f in filters)
