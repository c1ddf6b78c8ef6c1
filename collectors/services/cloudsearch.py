"""Amazon CloudSearch: search domains, their endpoint options and access policies.

DescribeDomains without names returns every domain of the region in one
answer. The instance type and counts that CloudSearch scales on its own, and
the processing flags, are not configuration and are not stored.

CloudSearch is closed to new customers and runs in ten regions; elsewhere
there is no endpoint to ask and nothing to collect.
"""

import json
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

DOMAIN = "AWS::CloudSearch::Domain"

VOLATILE_FIELDS = (
    "Processing",
    "RequiresIndexDocuments",
    "SearchInstanceType",
    "SearchInstanceCount",
    "SearchPartitionCount",
)

# The domain was deleted between the listing and the sub-call.
DOMAIN_GONE = ("ResourceNotFound",)


@register
class CloudSearchCollector(Collector):
    service = "cloudsearch"
    resource_types = (DOMAIN,)

    def collect(self) -> Iterator[ResourceRecord]:
        if not self.offered_here("cloudsearch"):
            return
        client = self.client("cloudsearch")
        domains = client.describe_domains().get("DomainStatusList", [])
        for status in sorted(domains, key=lambda d: d["DomainName"]):
            if status.get("Deleted"):
                continue  # deletion in progress: no longer the customer's
            record = self._domain(client, status)
            if record is not None:
                yield record

    def _domain(self, client: BaseClient, status: dict) -> ResourceRecord | None:
        name = status["DomainName"]
        errors: dict[str, str] = {}
        endpoint = self.optional(
            errors,
            "DomainEndpointOptions",
            client.describe_domain_endpoint_options,
            absent=DOMAIN_GONE,
            DomainName=name,
        )
        policies = self.optional(
            errors,
            "AccessPolicies",
            client.describe_service_access_policies,
            absent=DOMAIN_GONE,
            DomainName=name,
        )
        if not errors and (endpoint is None or policies is None):
            return None  # deleted after the listing
        config: dict[str, Any] = to_jsonable(
            {k: v for k, v in status.items() if k not in VOLATILE_FIELDS}
        )
        config["DomainEndpointOptions"] = _options(endpoint, "DomainEndpointOptions")
        config["AccessPolicies"] = _parse_policy(
            _options(policies, "AccessPolicies"), errors
        )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=DOMAIN,
            resource_id=name,
            config=config,
            arn=status.get("ARN", ""),
            name=name,
        )


def _options(response: dict | None, key: str) -> Any:
    """The ``Options`` of an option-status answer.

    The accompanying ``Status`` (creation and update dates, update version,
    processing state) describes the change history, not the setting.
    """
    if response is None:
        return None
    return to_jsonable((response.get(key) or {}).get("Options"))


def _parse_policy(text: Any, errors: dict[str, str]) -> dict | None:
    if not text:
        return None  # no access policy: only the domain's account may search
    try:
        return json.loads(text)
    except ValueError as exc:
        errors["AccessPolicies"] = f"other: access policy is not valid JSON ({exc})"
        return None
