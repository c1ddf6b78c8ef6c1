"""Amazon SNS: topics (attributes, policy, tags) and their subscriptions.

Subscriptions are resources of their own, listed per topic. A failed listing
propagates (the unit is recorded as failed) rather than being skipped: a
topic whose subscriptions went unlisted would otherwise read as having lost
them all. HTTP(S) endpoints are stored as scheme, host and port only:
webhook URLs carry credentials in their user-info, path (Slack, Teams) or
query string, and secrets never reach the database.
"""

import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"

# The topic vanished between the listing and the sub-call.
TOPIC_GONE = ("NotFound", "NotFoundException")

# Subscription counters move with every subscribe/confirm/unsubscribe by
# anyone; they are not the topic's configuration.
VOLATILE_ATTRIBUTES = (
    "SubscriptionsPending",
    "SubscriptionsConfirmed",
    "SubscriptionsDeleted",
)

# What ListSubscriptionsByTopic returns instead of an ARN until the endpoint
# confirms the subscription.
PENDING = "PendingConfirmation"
URL_PROTOCOLS = ("http", "https")


@register
class SNSCollector(Collector):
    service = "sns"
    resource_types = (TOPIC, SUBSCRIPTION)

    def collect(self) -> Iterator[ResourceRecord]:
        sns = self.client("sns")
        for topic in self.paginate(sns, "list_topics", "Topics"):
            topic_arn = topic["TopicArn"]
            record = self._topic(sns, topic_arn)
            if record is None:
                continue  # deleted after the listing
            yield record
            subscriptions = self.paginate(
                sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn
            )
            for subscription in subscriptions:
                yield self._subscription(subscription, topic_arn)

    def _topic(self, sns: BaseClient, topic_arn: str) -> ResourceRecord | None:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "Attributes",
            sns.get_topic_attributes,
            absent=TOPIC_GONE,
            TopicArn=topic_arn,
        )
        if response is None and "Attributes" not in errors:
            return None
        attributes = policy = None
        if response is not None:
            attributes = {
                k: v
                for k, v in response.get("Attributes", {}).items()
                if k not in VOLATILE_ATTRIBUTES
            }
            policy = _parse_policy(attributes.pop("Policy", None), errors)
        tags = self.optional(
            errors,
            "Tags",
            sns.list_tags_for_resource,
            absent=TOPIC_GONE,
            ResourceArn=topic_arn,
        )
        config: dict[str, Any] = {
            "TopicArn": topic_arn,
            "Attributes": to_jsonable(attributes),
            # Parsed, so a policy re-serialised with other spacing is no change.
            "Policy": policy,
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=TOPIC,
            resource_id=topic_arn,
            config=config,
            arn=topic_arn,
            name=topic_arn.rsplit(":", 1)[-1],
            tags={t["Key"]: t.get("Value", "") for t in (tags or {}).get("Tags", [])},
        )

    def _subscription(self, subscription: dict, topic_arn: str) -> ResourceRecord:
        protocol = subscription.get("Protocol", "")
        raw_endpoint = subscription.get("Endpoint", "")
        endpoint = _safe_endpoint(protocol, raw_endpoint)
        arn = subscription.get("SubscriptionArn", "")
        pending = arn == PENDING or not arn.startswith("arn:")
        if pending:
            # Every unconfirmed subscription has the same placeholder ARN; name
            # it by what it delivers to (hashed: the full URL may hold a secret).
            target = f"{protocol} {raw_endpoint}".encode()
            digest = hashlib.sha256(target).hexdigest()
            resource_id = f"{topic_arn}:pending:{digest[:16]}"
        else:
            resource_id = arn
        topic_name = topic_arn.rsplit(":", 1)[-1]
        return ResourceRecord(
            resource_type=SUBSCRIPTION,
            resource_id=resource_id,
            config={
                "SubscriptionArn": arn,
                "TopicArn": topic_arn,
                "Protocol": protocol,
                "Endpoint": endpoint,
                "Owner": subscription.get("Owner", ""),
                "PendingConfirmation": pending,
            },
            arn="" if pending else arn,
            name=f"{protocol} subscription to {topic_name}: {endpoint}",
        )


def _safe_endpoint(protocol: str, endpoint: str) -> str:
    """An HTTP(S) endpoint reduced to scheme, host and port (no secrets)."""
    if protocol not in URL_PROTOCOLS:
        return endpoint
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{protocol}://(unparseable endpoint)"
    return f"{parts.scheme}://{host}{port}"


def _parse_policy(text: str | None, errors: dict[str, str]) -> dict | None:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        errors["Policy"] = f"other: topic policy is not valid JSON ({exc})"
        return None
