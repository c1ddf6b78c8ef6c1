"""The account itself: its security contact and its AWS Organizations membership.

One ``AWS::::Account`` record per account (resource id = the account id),
emitted even when neither is configured so the controls can FAIL:
``SecurityContact`` is None when no security alternate contact exists
(ResourceNotFoundException), ``Organization`` is None when the account belongs
to no organization (AWSOrganizationsNotInUseException). Any other failure is
recorded under the same key in ``_errors``.
"""

from collections.abc import Iterator
from typing import Any

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

ACCOUNT = "AWS::::Account"

CONTACT_FIELDS = ("Name", "Title", "EmailAddress", "PhoneNumber")
# AvailablePolicyTypes and the management account's email say nothing about
# membership and change on their own; the organization's identity is enough.
ORGANIZATION_FIELDS = ("Id", "Arn", "FeatureSet", "MasterAccountId", "MasterAccountArn")


@register
class AccountCollector(Collector):
    service = "account"
    is_global = True
    resource_types = (ACCOUNT,)

    def collect(self) -> Iterator[ResourceRecord]:
        errors: dict[str, str] = {}
        contact = self.optional(
            errors,
            "SecurityContact",
            self.client("account").get_alternate_contact,
            absent=("ResourceNotFoundException",),
            AlternateContactType="SECURITY",
        )
        organization = self.optional(
            errors,
            "Organization",
            self.client("organizations").describe_organization,
            absent=("AWSOrganizationsNotInUseException",),
        )
        config: dict[str, Any] = {
            "SecurityContact": _pick(contact, "AlternateContact", CONTACT_FIELDS),
            "Organization": _pick(organization, "Organization", ORGANIZATION_FIELDS),
        }
        if errors:
            config[ERRORS_KEY] = errors
        partition = self.session.get_partition_for_region(self.client_region)
        yield ResourceRecord(
            resource_type=ACCOUNT,
            resource_id=self.account_id,
            config=config,
            arn=f"arn:{partition}:iam::{self.account_id}:root",
            name=f"AWS account {self.account_id}",
        )


def _pick(response: dict | None, key: str, fields: tuple[str, ...]) -> dict | None:
    if response is None:
        return None
    inner = response.get(key) or {}
    return to_jsonable({k: inner[k] for k in fields if k in inner})
