"""CloudWatch and CloudWatch Logs: log groups, alarms and the CIS alarm chain.

Two collectors live here because the data has two shapes:

- ``cloudwatch`` (per region): every log group (``AWS::Logs::LogGroup``) and
  every metric and composite alarm (``AWS::CloudWatch::Alarm``).
- ``cloudwatch-cis`` (once per account): one ``AWS::CloudWatch::CISAlarmCoverage``
  record holding the chain CIS 4.x checks for the account's multi-region
  trails: each trail's CloudWatch Logs group, that group's metric filters, the
  alarms on the filters' metrics and the subscriptions of the alarms' SNS
  topics. A multi-region trail delivers every region's events to one log
  group, so whether root usage (say) raises an alarm is one fact per account;
  one record gives one finding per control per account rather than the same
  verdict repeated in every region. The record is emitted even when there is
  no such trail, so the controls can FAIL.
"""

from collections.abc import Callable, Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

LOG_GROUP = "AWS::Logs::LogGroup"
ALARM = "AWS::CloudWatch::Alarm"
CIS_ALARM_COVERAGE = "AWS::CloudWatch::CISAlarmCoverage"

# storedBytes grows with every log event: stored, it would rewrite the
# snapshot of every busy log group on every scan.
VOLATILE_LOG_GROUP_FIELDS = ("storedBytes",)
# An alarm's state moves with the metric, not with its configuration.
VOLATILE_ALARM_FIELDS = (
    "StateValue",
    "StateReason",
    "StateReasonData",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
)
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
# Trail fields that say which log group receives a multi-region trail's events.
TRAIL_FIELDS = (
    "TrailARN",
    "Name",
    "HomeRegion",
    "IsMultiRegionTrail",
    "IsOrganizationTrail",
    "CloudWatchLogsLogGroupArn",
)


@register
class CloudWatchCollector(Collector):
    service = "cloudwatch"
    resource_types = (LOG_GROUP, ALARM)

    def collect(self) -> Iterator[ResourceRecord]:
        for group in self.paginate(
            self.client("logs"), "describe_log_groups", "logGroups"
        ):
            yield _log_group_record(group)
        cloudwatch = self.client("cloudwatch")
        # One listing for both kinds: the paginator's result keys are two.
        pages = cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmTypes=ALARM_TYPES
        )
        for page in pages:
            for alarm in page.get("MetricAlarms", []):
                yield self._alarm_record(cloudwatch, alarm, "MetricAlarm")
            for alarm in page.get("CompositeAlarms", []):
                yield self._alarm_record(cloudwatch, alarm, "CompositeAlarm")

    def _alarm_record(
        self, cloudwatch: BaseClient, alarm: dict, alarm_type: str
    ) -> ResourceRecord:
        arn = alarm["AlarmArn"]
        errors: dict[str, str] = {}
        config = {
            k: v
            for k, v in to_jsonable(alarm).items()
            if k not in VOLATILE_ALARM_FIELDS
        }
        config["AlarmType"] = alarm_type
        response = self.optional(
            errors,
            "Tags",
            cloudwatch.list_tags_for_resource,
            absent=("ResourceNotFound", "ResourceNotFoundException"),
            ResourceARN=arn,
        )
        tags = {t["Key"]: t.get("Value", "") for t in (response or {}).get("Tags", [])}
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=ALARM,
            resource_id=arn,
            arn=arn,
            name=alarm.get("AlarmName", ""),
            tags=tags,
            config=config,
        )


def _log_group_record(group: dict) -> ResourceRecord:
    # Tags are not read: an account can hold tens of thousands of log groups
    # (one per Lambda function), and a tag call for each would dominate the
    # scan while no control needs them.
    config = {
        k: v
        for k, v in to_jsonable(group).items()
        if k not in VOLATILE_LOG_GROUP_FIELDS
    }
    arn = group.get("logGroupArn") or _strip_wildcard(group.get("arn", ""))
    return ResourceRecord(
        resource_type=LOG_GROUP,
        resource_id=arn or group["logGroupName"],
        arn=arn,
        name=group["logGroupName"],
        config=config,
    )


@register
class CISAlarmCoverageCollector(Collector):
    service = "cloudwatch-cis"
    is_global = True
    resource_types = (CIS_ALARM_COVERAGE,)

    def collect(self) -> Iterator[ResourceRecord]:
        # Any region lists every multi-region trail (shadows included), so the
        # unit's default region sees them all, organization trails too.
        trails = [
            {k: trail[k] for k in TRAIL_FIELDS if k in trail}
            for trail in self.paginate(
                self.client("cloudtrail"),
                "describe_trails",
                "trailList",
                includeShadowTrails=True,
            )
            if trail.get("IsMultiRegionTrail")
        ]
        errors: dict[str, str] = {}
        log_groups = {
            arn: self._log_group(arn, errors)
            for arn in sorted(
                {
                    t["CloudWatchLogsLogGroupArn"]
                    for t in trails
                    if t.get("CloudWatchLogsLogGroupArn")
                }
            )
        }
        alarms = self._alarms(log_groups, errors)
        topics = sorted(
            {
                action
                for region_alarms in alarms.values()
                for alarm in region_alarms
                for action in alarm.get("AlarmActions", [])
                if _arn_service(action) == "sns"
            }
        )
        config: dict[str, Any] = {
            "Trails": sorted(to_jsonable(trails), key=lambda t: t.get("TrailARN", "")),
            "LogGroups": log_groups,
            "Alarms": alarms,
            "TopicSubscriptions": {t: self._subscriptions(t, errors) for t in topics},
        }
        if errors:
            config[ERRORS_KEY] = errors
        yield ResourceRecord(
            resource_type=CIS_ALARM_COVERAGE,
            resource_id=self.account_id,
            name="CIS CloudWatch alarms (account)",
            config=config,
        )

    def _log_group(self, arn: str, errors: dict[str, str]) -> dict:
        parts = arn.split(":")
        region, owner = parts[3], parts[4]
        name = _strip_wildcard(arn).split(":log-group:", 1)[-1]
        group: dict[str, Any] = {
            "LogGroupName": name,
            "Region": region,
            "AccountId": owner,
            "Exists": None,
            "MetricFilters": None,
        }
        if owner != self.account_id:
            # An organization trail's group lives in the management account;
            # only that account can read its filters (and is evaluated there).
            return group
        response = self.optional(
            errors,
            f"LogGroups:{arn}",
            self._listing(
                self.client("logs", region=region),
                "describe_metric_filters",
                "metricFilters",
            ),
            absent=("ResourceNotFoundException",),
            logGroupName=name,
        )
        if response is None:
            if f"LogGroups:{arn}" not in errors:
                group["Exists"] = False
            return group
        group["Exists"] = True
        group["MetricFilters"] = sorted(
            (
                {
                    "filterName": f.get("filterName", ""),
                    "filterPattern": f.get("filterPattern", ""),
                    "metricTransformations": to_jsonable(
                        f.get("metricTransformations", [])
                    ),
                }
                for f in response["metricFilters"]
            ),
            key=lambda f: f["filterName"],
        )
        return group

    def _alarms(self, log_groups: dict, errors: dict[str, str]) -> dict[str, list]:
        """Per region, the metric alarms watching a metric the filters emit."""
        metrics_by_region: dict[str, set[tuple[str, str]]] = {}
        for group in log_groups.values():
            for metric_filter in group.get("MetricFilters") or []:
                for metric in metric_filter["metricTransformations"]:
                    metrics_by_region.setdefault(group["Region"], set()).add(
                        (metric.get("metricNamespace"), metric.get("metricName"))
                    )
        alarms: dict[str, list] = {}
        for region, metrics in sorted(metrics_by_region.items()):
            response = self.optional(
                errors,
                f"Alarms:{region}",
                self._listing(
                    self.client("cloudwatch", region=region),
                    "describe_alarms",
                    "MetricAlarms",
                ),
                AlarmTypes=["MetricAlarm"],
            )
            if response is None:
                alarms[region] = []
                continue
            alarms[region] = sorted(
                (
                    _alarm_summary(alarm)
                    for alarm in response["MetricAlarms"]
                    if _alarm_metrics(alarm) & metrics
                ),
                key=lambda a: a["AlarmArn"],
            )
        return alarms

    def _subscriptions(self, topic: str, errors: dict[str, str]) -> list | None:
        """Protocol and confirmation of each subscription; None: no such topic.

        Endpoints are not kept: an HTTPS endpoint can carry a webhook token.
        """
        response = self.optional(
            errors,
            f"TopicSubscriptions:{topic}",
            self._listing(
                self.client("sns", region=topic.split(":")[3]),
                "list_subscriptions_by_topic",
                "Subscriptions",
            ),
            absent=("NotFound", "NotFoundException"),
            TopicArn=topic,
        )
        if response is None:
            return None
        return sorted(
            (
                {
                    "Protocol": s.get("Protocol", ""),
                    # An unconfirmed subscription's ARN is "PendingConfirmation".
                    "Confirmed": s.get("SubscriptionArn", "").startswith("arn:"),
                }
                for s in response["Subscriptions"]
            ),
            key=lambda s: (s["Protocol"], s["Confirmed"]),
        )

    def _listing(
        self, client: BaseClient, operation: str, key: str
    ) -> Callable[..., dict]:
        """A paginated listing as one call, for ``self.optional``."""

        def call(**kwargs: Any) -> dict:
            return {key: list(self.paginate(client, operation, key, **kwargs))}

        return call


def _strip_wildcard(arn: str) -> str:
    # describe_log_groups and trails name a group's ARN with a trailing ":*".
    return arn[:-2] if arn.endswith(":*") else arn


def _arn_service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 and parts[0] == "arn" else ""


def _alarm_metrics(alarm: dict) -> set[tuple[str, str]]:
    """(namespace, name) of every metric the alarm evaluates, math included."""
    metrics = set()
    if alarm.get("MetricName"):
        metrics.add((alarm.get("Namespace"), alarm["MetricName"]))
    for query in alarm.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric") or {}
        if metric.get("MetricName"):
            metrics.add((metric.get("Namespace"), metric["MetricName"]))
    return metrics


def _alarm_summary(alarm: dict) -> dict:
    return {
        "AlarmName": alarm.get("AlarmName", ""),
        "AlarmArn": alarm.get("AlarmArn", ""),
        "ActionsEnabled": bool(alarm.get("ActionsEnabled")),
        "AlarmActions": sorted(alarm.get("AlarmActions", [])),
        "Metrics": sorted(
            [
                {"Namespace": ns, "MetricName": name}
                for ns, name in _alarm_metrics(alarm)
            ],
            key=lambda m: (m["Namespace"] or "", m["MetricName"]),
        ),
    }
