"""AWS KMS: the keys of each region, with rotation status, key policy and tags.

Every key ``list_keys`` returns becomes an ``AWS::KMS::Key`` record, AWS
managed keys included so the inventory is complete. Only customer managed
keys are asked for their key policy, tags and rotation status: AWS writes the
policies of the keys it manages and rotates them itself, so the controls
judge those keys NOT_APPLICABLE without reading more.

Snapshot stability: ``CurrentKeyMaterialId`` (new with every rotation) and the
rotation dates are left out, so a rotating key is not a configuration change.
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

KEY = "AWS::KMS::Key"

# The key vanished between list_keys and a per-key call.
KEY_GONE = ("NotFoundException",)
# Key states in which the key can no longer be used; its policy is moot.
DELETION_STATES = ("PendingDeletion", "PendingReplicaDeletion")
VOLATILE_METADATA = ("CurrentKeyMaterialId",)
ROTATION_FIELDS = ("KeyRotationEnabled", "RotationPeriodInDays")


def rotation_applies(metadata: dict) -> bool:
    """Whether KMS can rotate the key automatically and the customer decides.

    Automatic rotation exists only for symmetric encryption keys whose key
    material KMS generated (not imported, not in a custom key store).
    """
    return (
        metadata.get("KeyManager") == "CUSTOMER"
        and metadata.get("KeySpec", metadata.get("CustomerMasterKeySpec"))
        == "SYMMETRIC_DEFAULT"
        and metadata.get("Origin") == "AWS_KMS"
        and metadata.get("KeyState") == "Enabled"
    )


@register
class KMSCollector(Collector):
    service = "kms"
    resource_types = (KEY,)

    def collect(self) -> Iterator[ResourceRecord]:
        kms = self.client("kms")
        alias_errors: dict[str, str] = {}
        aliases = self._aliases(kms, alias_errors)
        for listed in self.paginate(kms, "list_keys", "Keys"):
            record = self._key(kms, listed["KeyId"], aliases, alias_errors)
            if record is not None:
                yield record

    def _aliases(self, kms: BaseClient, errors: dict[str, str]) -> dict[str, list]:
        """Alias names by target key id (one listing for the whole region)."""

        def drain() -> dict:
            return {"Aliases": list(self.paginate(kms, "list_aliases", "Aliases"))}

        response = self.optional(errors, "Aliases", drain)
        by_key: dict[str, list] = {}
        for alias in (response or {}).get("Aliases", []):
            if alias.get("TargetKeyId"):
                by_key.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
        return by_key

    def _key(
        self,
        kms: BaseClient,
        key_id: str,
        aliases: dict[str, list],
        alias_errors: dict[str, str],
    ) -> ResourceRecord | None:
        errors = dict(alias_errors)
        described = self.optional(
            errors, "KeyMetadata", kms.describe_key, absent=KEY_GONE, KeyId=key_id
        )
        if described is None and "KeyMetadata" not in errors:
            return None  # deleted between the listing and now
        metadata = {
            k: v
            for k, v in to_jsonable((described or {}).get("KeyMetadata", {})).items()
            if k not in VOLATILE_METADATA
        }
        config: dict[str, Any] = {
            "KeyMetadata": metadata or None,
            "Aliases": sorted(aliases.get(key_id, [])),
        }
        tags: dict[str, str] = {}
        if metadata.get("KeyManager") == "CUSTOMER":
            tags = self._customer_key_details(kms, key_id, metadata, config, errors)
        if errors:
            config[ERRORS_KEY] = errors
        name = (config["Aliases"] or [""])[0] or metadata.get("Description") or key_id
        return ResourceRecord(
            resource_type=KEY,
            resource_id=key_id,
            config=config,
            arn=metadata.get("Arn", ""),
            name=name,
            tags=tags,
        )

    def _customer_key_details(
        self,
        kms: BaseClient,
        key_id: str,
        metadata: dict,
        config: dict[str, Any],
        errors: dict[str, str],
    ) -> dict[str, str]:
        """Fill the policy, tags and rotation of a customer key; return its tags."""
        if metadata.get("KeyState") not in DELETION_STATES:
            response = self.optional(
                errors,
                "KeyPolicy",
                kms.get_key_policy,
                absent=KEY_GONE,
                KeyId=key_id,
                PolicyName="default",
            )
            config["KeyPolicy"] = _parse_policy(response, errors)

        def all_tags() -> dict:
            return {
                "Tags": list(
                    self.paginate(kms, "list_resource_tags", "Tags", KeyId=key_id)
                )
            }

        listed = self.optional(errors, "Tags", all_tags, absent=KEY_GONE)
        # Tags live on the record (as for every service); a failed listing
        # stays in _errors so a control that needs them reports ERROR.
        tags = {
            t["TagKey"]: t.get("TagValue", "") for t in (listed or {}).get("Tags", [])
        }

        if rotation_applies(metadata):
            status = self.optional(
                errors,
                "KeyRotation",
                kms.get_key_rotation_status,
                absent=KEY_GONE,
                KeyId=key_id,
            )
            config["KeyRotation"] = (
                None
                if status is None
                else {k: status[k] for k in ROTATION_FIELDS if k in status}
            )
        return tags


def _parse_policy(response: dict | None, errors: dict[str, str]) -> dict | None:
    if response is None:
        return None
    try:
        return json.loads(response["Policy"])
    except (KeyError, TypeError, ValueError) as exc:
        errors["KeyPolicy"] = f"other: key policy is not valid JSON ({exc})"
        return None
