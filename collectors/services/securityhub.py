"""AWS Security Hub: the hub of each region and its enabled standards.

One ``AWS::SecurityHub::Hub`` record per region (resource id = the region),
emitted whether or not Security Hub is enabled there: ``describe_hub``
answers ``InvalidAccessException`` for an account that is not subscribed in
the region, which is stored as ``Hub: None`` so the control can FAIL. Any
other error of ``describe_hub`` fails the unit.
"""

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from accounts.aws_errors import error_code
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

HUB = "AWS::SecurityHub::Hub"

# What Security Hub answers in a region where the account never enabled it.
NOT_SUBSCRIBED = "InvalidAccessException"


@register
class SecurityHubCollector(Collector):
    service = "securityhub"
    resource_types = (HUB,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("securityhub")
        try:
            hub: dict | None = to_jsonable(client.describe_hub())
        except ClientError as exc:
            if error_code(exc) != NOT_SUBSCRIBED:
                raise
            hub = None
        errors: dict[str, str] = {}
        standards = None
        if hub is not None:

            def enabled_standards(**kwargs: Any) -> dict:
                pages = self.paginate(
                    client, "get_enabled_standards", "StandardsSubscriptions"
                )
                return {"StandardsSubscriptions": list(pages)}

            response = self.optional(
                errors, "StandardsSubscriptions", enabled_standards
            )
            if response is not None:
                standards = sorted(
                    to_jsonable(response["StandardsSubscriptions"]),
                    key=lambda s: s.get("StandardsArn", ""),
                )
        config: dict[str, Any] = {"Hub": hub, "StandardsSubscriptions": standards}
        if errors:
            config[ERRORS_KEY] = errors
        yield ResourceRecord(
            resource_type=HUB,
            resource_id=self.region,
            arn=(hub or {}).get("HubArn", ""),
            name=f"Security Hub in {self.region}",
            config=config,
        )
