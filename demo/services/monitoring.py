"""Demo monitoring: CloudWatch alarms and logs, GuardDuty, Security Hub and
EventBridge routing per profile.

GuardDuty, Security Hub and finding routing are judged per region, so they
are seeded in every region the profile covers; log groups, alarms and the CIS
alarm chain go to the account's first region. The CIS metric filters are put
on the CloudWatch Logs group of the account's multi-region trail (the
CloudTrail seed creates it for the "secure" trails of security and
management). Profiles:

- security: everything passes: all fifteen CIS alarms notify a subscribed
  topic, GuardDuty and Security Hub run and route findings in every region.
- management: five CIS alarms (root, IAM, CloudTrail, sign-in, Organizations),
  the rest missing; GuardDuty, Security Hub and routing in the first region
  only; a log group kept for 30 days.
- prod: GuardDuty and Security Hub everywhere, routing in the first region
  only, one alarm that notifies nobody, one short-lived log group.
- dev: a suspended GuardDuty detector, a disabled routing rule, an alarm
  with its actions disabled, a week of logs.
- sandbox: nothing enabled, an alarm without actions, a day of logs.

The simulator cannot answer GuardDuty's findings or Security Hub's enabled
standards, so those two controls show ERROR in the demo whatever the profile.
"""

import json
from typing import Any

from findings.controls.cloudwatch import CIS_ALARMS

MANAGEMENT_CIS = frozenset(
    {
        "root-usage",
        "iam-policy-changes",
        "cloudtrail-changes",
        "console-signin-without-mfa",
        "organizations-changes",
    }
)
# (log group, retention in days or None for never expire) per profile.
LOG_GROUPS = {
    "security": [("/app/security-tooling", 400)],
    "management": [("/org/automation", 30)],
    "prod": [("/app/orders", 365), ("/app/orders-debug", 14)],
    "dev": [("/app/dev-api", 7)],
    "sandbox": [("/sandbox/scratch", 1)],
}
# Which regions get GuardDuty, Security Hub and routing: "all" or "first".
GUARDDUTY = {"security": "all", "prod": "all", "management": "first", "dev": "first"}
SECURITY_HUB = {"security": "all", "prod": "all", "management": "first"}
ROUTING = {"security": "all", "prod": "first", "management": "first", "dev": "first"}
FINDING_SOURCES = {"source": ["aws.guardduty", "aws.securityhub"]}


def seed(account: Any, profile: str, region: str) -> None:
    first = region == account.regions[0]
    if _covers(GUARDDUTY, profile, first):
        # dev's detector exists but is suspended.
        account.client("guardduty", region).create_detector(Enable=profile != "dev")
    if _covers(SECURITY_HUB, profile, first):
        account.client("securityhub", region).enable_security_hub(
            EnableDefaultStandards=True
        )
    if _covers(ROUTING, profile, first):
        _route_findings(account, region, enabled=profile != "dev")
    if not first:
        return
    logs = account.client("logs", region)
    for name, days in LOG_GROUPS.get(profile, []):
        logs.create_log_group(logGroupName=name)
        if days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    _alarms(account, profile, region)
    if profile in ("security", "management"):
        _cis_alarms(account, profile, region)


def _covers(plan: dict[str, str], profile: str, first: bool) -> bool:
    return plan.get(profile) == "all" or (plan.get(profile) == "first" and first)


def _topic(account: Any, region: str, name: str) -> str:
    sns = account.client("sns", region)
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint=f"security+{account.id}@example.com"
    )
    return topic


def _route_findings(account: Any, region: str, *, enabled: bool) -> None:
    events = account.client("events", region)
    events.put_rule(
        Name="security-findings-to-oncall",
        EventPattern=json.dumps(FINDING_SOURCES),
        State="ENABLED" if enabled else "DISABLED",
    )
    events.put_targets(
        Rule="security-findings-to-oncall",
        Targets=[{"Id": "oncall", "Arn": _topic(account, region, "security-findings")}],
    )


def _alarm(account: Any, region: str, name: str, metric: str, **kwargs: Any) -> None:
    account.client("cloudwatch", region).put_metric_alarm(
        AlarmName=name,
        MetricName=metric,
        Namespace=kwargs.pop("Namespace", "App"),
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        **kwargs,
    )


def _alarms(account: Any, profile: str, region: str) -> None:
    if profile in ("security", "prod", "management"):
        topic = _topic(account, region, "ops-alerts")
        _alarm(
            account, region, f"{profile}-5xx-errors", "5xxErrors", AlarmActions=[topic]
        )
    if profile == "prod":
        _alarm(account, region, "nightly-batch-failures", "BatchFailures")
    if profile == "dev":
        topic = _topic(account, region, "dev-alerts")
        _alarm(
            account,
            region,
            "dev-api-errors",
            "Errors",
            AlarmActions=[topic],
            ActionsEnabled=False,
        )
    if profile == "sandbox":
        _alarm(account, region, "test-alarm", "Errors")


def _trail_log_group(account: Any, region: str) -> str | None:
    """The log group (name) of the account's multi-region trail, if any."""
    trails = account.client("cloudtrail", region).describe_trails()["trailList"]
    for trail in trails:
        arn = trail.get("CloudWatchLogsLogGroupArn", "")
        if trail.get("IsMultiRegionTrail") and arn.split(":")[3:4] == [region]:
            return arn.removesuffix(":*").split(":log-group:", 1)[1]
    return None


def _cis_alarms(account: Any, profile: str, region: str) -> None:
    group = _trail_log_group(account, region)
    if group is None:
        return
    topic = _topic(account, region, "security-alerts")
    logs = account.client("logs", region)
    for spec in CIS_ALARMS:
        if profile == "management" and spec.key not in MANAGEMENT_CIS:
            continue
        metric = spec.metric or spec.key
        logs.put_metric_filter(
            logGroupName=group,
            filterName=f"cis-{spec.key}",
            filterPattern=spec.pattern,
            metricTransformations=[
                {
                    "metricName": metric,
                    "metricNamespace": "CISBenchmark",
                    "metricValue": "1",
                }
            ],
        )
        _alarm(
            account,
            region,
            f"cis-{spec.key}",
            metric,
            Namespace="CISBenchmark",
            AlarmActions=[topic],
        )
