"""Fill Account rows from organizations:ListAccounts and ListParents."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.aws import DEFAULT_REGION, discovery_session, make_client
from accounts.models import Account, Organization

log = logging.getLogger(__name__)


@dataclass
class DiscoveryResult:
    created: list[Account]
    updated: list[Account]
    missing: list[Account]

    @property
    def accounts(self) -> list[Account]:
        return self.created + self.updated


def _ou_path(client, account_id: str, names: dict[str, str]) -> str:
    """'Root/Workloads/Prod' from walking ListParents up to the root."""
    parts: list[str] = []
    child = account_id
    for _ in range(10):  # AWS allows at most five OU levels below the root
        parents = []
        for page in client.get_paginator("list_parents").paginate(ChildId=child):
            parents.extend(page["Parents"])
        if not parents:
            break
        parent = parents[0]
        if parent["Type"] == "ROOT":
            parts.append("Root")
            break
        if parent["Id"] not in names:
            ou = client.describe_organizational_unit(OrganizationalUnitId=parent["Id"])
            names[parent["Id"]] = ou["OrganizationalUnit"]["Name"]
        parts.append(names[parent["Id"]])
        child = parent["Id"]
    return "/".join(reversed(parts))


def discover_accounts(organization: Organization) -> DiscoveryResult:
    session = discovery_session(organization, f"parapet-discovery-{organization.pk}")
    client = make_client(session, "organizations", DEFAULT_REGION)
    found: list[dict] = []
    for page in client.get_paginator("list_accounts").paginate():
        found.extend(page["Accounts"])
    ou_names: dict[str, str] = {}
    now = timezone.now()
    created, updated = [], []
    with transaction.atomic():
        for item in found:
            tags = {}
            for page in client.get_paginator("list_tags_for_resource").paginate(
                ResourceId=item["Id"]
            ):
                tags.update({t["Key"]: t["Value"] for t in page["Tags"]})
            status = item.get("Status", "ACTIVE")
            if status not in Account.Status.values:
                status = Account.Status.ACTIVE
            account, was_created = Account.objects.update_or_create(
                organization=organization,
                account_id=item["Id"],
                defaults={
                    "name": item.get("Name", ""),
                    "email": item.get("Email", ""),
                    "status": status,
                    "ou_path": _ou_path(client, item["Id"], ou_names),
                    "tags": tags,
                    "discovered_at": now,
                },
            )
            (created if was_created else updated).append(account)
        seen = {a["Id"] for a in found}
        missing = list(organization.accounts.exclude(account_id__in=seen))
    log.info(
        "discovered %d accounts in %s (%d new)", len(found), organization, len(created)
    )
    return DiscoveryResult(created=created, updated=updated, missing=missing)
