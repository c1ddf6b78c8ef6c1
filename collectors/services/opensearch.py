"""Amazon OpenSearch Service: domains (OpenSearch and legacy Elasticsearch).

Domains are described five at a time (DescribeDomains' limit); a failed batch
is recorded on each of its domains. The status fields that change while AWS
works on a domain (Processing, software-update availability, the state of a
change in flight) are not configuration and are not stored.
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

DOMAIN = "AWS::OpenSearchService::Domain"

DESCRIBE_BATCH = 5
VOLATILE_FIELDS = (
    "Processing",
    "UpgradeProcessing",
    "ServiceSoftwareOptions",
    "DomainProcessingStatus",
    "ModifyingProperties",
)

# The domain was deleted between the listing and the sub-call.
DOMAIN_GONE = ("ResourceNotFoundException",)


@register
class OpenSearchCollector(Collector):
    service = "opensearch"
    resource_types = (DOMAIN,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("opensearch")
        # One unpaginated answer with every domain of the region.
        names = sorted(
            d["DomainName"] for d in client.list_domain_names().get("DomainNames", [])
        )
        for start in range(0, len(names), DESCRIBE_BATCH):
            yield from self._batch(client, names[start : start + DESCRIBE_BATCH])

    def _batch(self, client: BaseClient, names: list[str]) -> Iterator[ResourceRecord]:
        shared_errors: dict[str, str] = {}
        response = self.optional(
            shared_errors, "DomainStatus", client.describe_domains, DomainNames=names
        )
        described = {
            status["DomainName"]: status
            for status in (response or {}).get("DomainStatusList", [])
        }
        for name in names:
            status = described.get(name)
            if status is None and response is not None:
                continue  # deleted after the listing
            if status is not None and status.get("Deleted"):
                continue  # deletion in progress: no longer the customer's
            yield self._domain(client, name, status, dict(shared_errors))

    def _domain(
        self,
        client: BaseClient,
        name: str,
        status: dict | None,
        errors: dict[str, str],
    ) -> ResourceRecord:
        arn = (status or {}).get("ARN") or self._arn(name)
        tags = self.optional(
            errors, "Tags", client.list_tags, absent=DOMAIN_GONE, ARN=arn
        )
        domain = None
        if status is not None:
            domain = {k: v for k, v in status.items() if k not in VOLATILE_FIELDS}
            # The access policy arrives as a JSON string; parsed, a policy
            # re-serialised with other spacing is no change.
            domain["AccessPolicies"] = _parse_policy(
                domain.get("AccessPolicies"), errors
            )
        config: dict[str, Any] = {
            "DomainName": name,
            "DomainStatus": to_jsonable(domain),
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=DOMAIN,
            resource_id=name,
            config=config,
            arn=arn,
            name=name,
            tags={
                t["Key"]: t.get("Value", "") for t in (tags or {}).get("TagList", [])
            },
        )

    def _arn(self, name: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        return (
            f"arn:{partition}:es:{self.client_region}:{self.account_id}:domain/{name}"
        )


def _parse_policy(text: Any, errors: dict[str, str]) -> dict | None:
    if not text:
        return None
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        errors["AccessPolicies"] = f"other: access policy is not valid JSON ({exc})"
        return None
