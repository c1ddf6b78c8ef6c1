"""Amazon SES: email-address and domain identities with their DNS-backed settings.

Identities are listed in pages and their verification, DKIM and custom MAIL
FROM attributes are read in batches of up to 100 (the API's limit), so an
account with thousands of identities costs a few dozen calls. A failed batch
is recorded on every identity of that batch.
"""

from collections.abc import Iterator
from itertools import islice
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

IDENTITY = "AWS::SES::EmailIdentity"

# GetIdentity*Attributes accept at most 100 identities per request.
ATTRIBUTE_BATCH = 100
LIST_PAGE_SIZE = 1000

# (config key, operation, response key): one batched call per attribute kind.
ATTRIBUTE_CALLS = (
    (
        "VerificationAttributes",
        "get_identity_verification_attributes",
        "VerificationAttributes",
    ),
    ("DkimAttributes", "get_identity_dkim_attributes", "DkimAttributes"),
    (
        "MailFromDomainAttributes",
        "get_identity_mail_from_domain_attributes",
        "MailFromDomainAttributes",
    ),
)


@register
class SESCollector(Collector):
    service = "ses"
    resource_types = (IDENTITY,)

    def collect(self) -> Iterator[ResourceRecord]:
        if not self.offered_here("ses"):
            return
        ses = self.client("ses")
        identities = self.paginate(
            ses,
            "list_identities",
            "Identities",
            PaginationConfig={"PageSize": LIST_PAGE_SIZE},
        )
        iterator = iter(identities)
        while batch := list(islice(iterator, ATTRIBUTE_BATCH)):
            yield from self._batch(ses, batch)

    def _batch(self, ses: BaseClient, names: list[str]) -> Iterator[ResourceRecord]:
        errors: dict[str, str] = {}
        attributes: dict[str, dict] = {}
        for key, operation, response_key in ATTRIBUTE_CALLS:
            response = self.optional(
                errors, key, getattr(ses, operation), Identities=names
            )
            attributes[key] = (response or {}).get(response_key) or {}
        partition = self.partition() or "aws"
        for name in names:
            is_domain = "@" not in name
            config: dict[str, Any] = {
                "Identity": name,
                "IdentityType": "Domain" if is_domain else "EmailAddress",
            }
            for key, _operation, _response_key in ATTRIBUTE_CALLS:
                # None when AWS returned nothing for this identity (deleted
                # after the listing) or the call failed (see _errors).
                config[key] = to_jsonable(attributes[key].get(name))
            if errors:
                config[ERRORS_KEY] = dict(errors)
            yield ResourceRecord(
                resource_type=IDENTITY,
                resource_id=name,
                config=config,
                arn=(
                    f"arn:{partition}:ses:{self.client_region}:{self.account_id}:"
                    f"identity/{name}"
                ),
                name=name,
            )
