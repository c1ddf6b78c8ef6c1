"""Amazon WorkSpaces: each WorkSpace with its volume encryption and tags.

A WorkSpace's state moves between AVAILABLE and STOPPED with every auto-stop,
and its modification states and error fields with every maintenance run;
none of them is configuration, so they are not stored.
"""

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

WORKSPACE = "AWS::WorkSpaces::Workspace"

VOLATILE_FIELDS = ("State", "ModificationStates", "ErrorMessage", "ErrorCode")
# DescribeWorkspaces returns at most 25 WorkSpaces a page.
PAGE_SIZE = 25

# The WorkSpace was removed between the listing and the sub-call.
WORKSPACE_GONE = ("ResourceNotFoundException",)


@register
class WorkSpacesCollector(Collector):
    service = "workspaces"
    resource_types = (WORKSPACE,)

    def collect(self) -> Iterator[ResourceRecord]:
        if not self.offered_here("workspaces"):
            return
        client = self.client("workspaces")
        workspaces = self.paginate(
            client,
            "describe_workspaces",
            "Workspaces",
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
        for workspace in workspaces:
            yield self._workspace(client, workspace)

    def _workspace(self, client: BaseClient, workspace: dict) -> ResourceRecord:
        workspace_id = workspace["WorkspaceId"]
        errors: dict[str, str] = {}
        tags = self.optional(
            errors,
            "Tags",
            client.describe_tags,
            absent=WORKSPACE_GONE,
            ResourceId=workspace_id,
        )
        config: dict[str, Any] = to_jsonable(
            {k: v for k, v in workspace.items() if k not in VOLATILE_FIELDS}
        )
        if errors:
            config[ERRORS_KEY] = errors
        user = workspace.get("UserName", "")
        partition = self.partition() or "aws"
        return ResourceRecord(
            resource_type=WORKSPACE,
            resource_id=workspace_id,
            config=config,
            arn=(
                f"arn:{partition}:workspaces:{self.client_region}:"
                f"{self.account_id}:workspace/{workspace_id}"
            ),
            name=f"{user} ({workspace_id})" if user else workspace_id,
            tags={
                t["Key"]: t.get("Value", "") for t in (tags or {}).get("TagList", [])
            },
        )
