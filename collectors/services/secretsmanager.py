"""AWS Secrets Manager: the secrets of each region, from one paginated listing.

``list_secrets`` already carries everything the controls read (rotation
settings and dates), so there is no per-secret call and no secret value is
ever requested. Each secret is an ``AWS::SecretsManager::Secret`` record keyed
by its ARN (a name can be reused after a deletion; the ARN suffix cannot).

Snapshot stability: the fields that move without a configuration change are
dropped: when the secret was last read or changed, the next scheduled rotation
and the version ids that every rotation replaces. LastRotatedDate stays, as
the rotation controls need it; it changes only when a rotation happens.
"""

from collections.abc import Iterator

from collectors.base import Collector, ResourceRecord, register, to_jsonable

SECRET = "AWS::SecretsManager::Secret"

VOLATILE_FIELDS = (
    "LastAccessedDate",
    "LastChangedDate",
    "NextRotationDate",
    "SecretVersionsToStages",
    "Tags",  # kept on the record itself
)


@register
class SecretsManagerCollector(Collector):
    service = "secretsmanager"
    resource_types = (SECRET,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("secretsmanager")
        for secret in self.paginate(client, "list_secrets", "SecretList"):
            config = {
                k: v for k, v in to_jsonable(secret).items() if k not in VOLATILE_FIELDS
            }
            tags = {t["Key"]: t.get("Value", "") for t in secret.get("Tags") or ()}
            yield ResourceRecord(
                resource_type=SECRET,
                resource_id=secret["ARN"],
                config=config,
                arn=secret["ARN"],
                name=secret.get("Name", ""),
                tags=tags,
            )
