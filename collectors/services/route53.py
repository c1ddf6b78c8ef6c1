"""Amazon Route 53: hosted zones, failover record sets, and registered domains.

Two global collectors, because the two APIs are separate IAM namespaces
(``route53:`` and ``route53domains:``) and a scanner denied one should still
collect the other:

- ``route53``: every hosted zone, with its query logging configurations and,
  for public zones, its DNSSEC status; and every failover record set (the
  only record sets a control reads: emitting every record of every zone would
  swamp the inventory).
- ``route53domains``: every domain registered through Route 53, with the
  privacy and lock settings of its registration. Contact details (names,
  addresses, phone numbers) are personal data and are not stored.
"""

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from accounts.aws_errors import error_code
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

HOSTED_ZONE = "AWS::Route53::HostedZone"
RECORD_SET = "AWS::Route53::RecordSet"
DOMAIN = "AWS::Route53Domains::Domain"

NO_SUCH_ZONE = "NoSuchHostedZone"
ZONE_PREFIX = "/hostedzone/"
# Changes with every record added or removed: the records are resources of
# their own, and the zone's configuration has not changed.
VOLATILE_ZONE_FIELDS = ("ResourceRecordSetCount",)
# Registration details never stored: contacts are personal data, and the
# update date moves without a setting changing (renewals, registry syncs).
DOMAIN_DETAIL_SKIPPED = (
    "AdminContact",
    "RegistrantContact",
    "TechContact",
    "BillingContact",
    "UpdatedDate",
)


def zone_id(raw: str) -> str:
    """``/hostedzone/Z123`` → ``Z123`` (Route 53 answers with either form)."""
    return raw.removeprefix(ZONE_PREFIX)


@register
class Route53Collector(Collector):
    service = "route53"
    is_global = True
    resource_types = (HOSTED_ZONE, RECORD_SET)
    #: Page size of the zone and record set listings (AWS allows 100 / 300).
    page_size = 100

    def collect(self) -> Iterator[ResourceRecord]:
        route53 = self.client("route53")
        shared_errors: dict[str, str] = {}
        logging = self._query_logging_configs(route53, shared_errors)
        zones = self.paginate(
            route53,
            "list_hosted_zones",
            "HostedZones",
            PaginationConfig={"PageSize": self.page_size},
        )
        for zone in zones:
            yield from self._zone(route53, zone, logging, shared_errors)

    def _query_logging_configs(
        self, route53: BaseClient, errors: dict[str, str]
    ) -> dict[str, list[dict]]:
        """Every query logging configuration, by zone id.

        Listed once without the HostedZoneId filter and matched up here: one
        call instead of one per zone (and some simulators reject the filter).
        """

        def drain() -> dict:
            configs = self.paginate(
                route53, "list_query_logging_configs", "QueryLoggingConfigs"
            )
            return {"items": list(configs)}

        response = self.optional(errors, "QueryLoggingConfigs", drain)
        by_zone: dict[str, list[dict]] = defaultdict(list)
        for config in (response or {}).get("items", []):
            by_zone[zone_id(config.get("HostedZoneId", ""))].append(to_jsonable(config))
        return by_zone

    def _zone(
        self,
        route53: BaseClient,
        zone: dict,
        logging: dict[str, list[dict]],
        shared_errors: dict[str, str],
    ) -> Iterator[ResourceRecord]:
        identifier = zone_id(zone["Id"])
        try:
            # Listed before the zone is recorded: a zone deleted since the
            # listing answers NoSuchHostedZone and is skipped whole.
            failover = [
                record
                for record in self.paginate(
                    route53,
                    "list_resource_record_sets",
                    "ResourceRecordSets",
                    HostedZoneId=identifier,
                    PaginationConfig={"PageSize": self.page_size},
                )
                if record.get("Failover")
            ]
        except ClientError as exc:
            if error_code(exc) == NO_SUCH_ZONE:
                return
            raise

        private = bool((zone.get("Config") or {}).get("PrivateZone"))
        errors: dict[str, str] = {}
        config: dict[str, Any] = to_jsonable(
            {k: v for k, v in zone.items() if k not in VOLATILE_ZONE_FIELDS}
        )
        config["Id"] = identifier
        if not private:
            # Query logging and DNSSEC signing exist for public zones only.
            if "QueryLoggingConfigs" in shared_errors:
                errors["QueryLoggingConfigs"] = shared_errors["QueryLoggingConfigs"]
            config["QueryLoggingConfigs"] = logging.get(identifier, [])
            config["DNSSEC"] = self._dnssec(route53, errors, identifier)
        tagging = self.optional(
            errors,
            "Tags",
            route53.list_tags_for_resource,
            ResourceType="hostedzone",
            ResourceId=identifier,
        )
        tags = {
            t["Key"]: t.get("Value", "")
            for t in ((tagging or {}).get("ResourceTagSet") or {}).get("Tags", [])
        }
        if errors:
            config[ERRORS_KEY] = errors
        partition = self.session.get_partition_for_region(self.client_region)
        yield ResourceRecord(
            resource_type=HOSTED_ZONE,
            resource_id=identifier,
            config=config,
            arn=f"arn:{partition}:route53:::hostedzone/{identifier}",
            name=zone.get("Name", ""),
            tags=tags,
        )
        for record in failover:
            yield _record_set(zone, identifier, record)

    def _dnssec(
        self, route53: BaseClient, errors: dict[str, str], identifier: str
    ) -> dict | None:
        response = self.optional(
            errors, "DNSSEC", route53.get_dnssec, HostedZoneId=identifier
        )
        if response is None:
            return None
        # Key names and states only: their timestamps and status messages
        # move without the signing configuration changing.
        return {
            "Status": {"ServeSignature": response["Status"].get("ServeSignature")},
            "KeySigningKeys": [
                {key: k.get(key) for key in ("Name", "Status", "KmsArn")}
                for k in response.get("KeySigningKeys", [])
            ],
        }


def _record_set(zone: dict, identifier: str, record: dict) -> ResourceRecord:
    name, kind = record.get("Name", ""), record.get("Type", "")
    set_identifier = record.get("SetIdentifier", "")
    config = to_jsonable(record)
    config["HostedZoneId"] = identifier
    config["HostedZoneName"] = zone.get("Name", "")
    return ResourceRecord(
        resource_type=RECORD_SET,
        resource_id=f"{identifier}/{name}/{kind}/{set_identifier}",
        config=config,
        name=f"{name} {kind} ({set_identifier})",
    )


@register
class Route53DomainsCollector(Collector):
    service = "route53domains"
    is_global = True
    resource_types = (DOMAIN,)
    #: ListDomains page size (the maximum AWS allows).
    page_size = 100

    def collect(self) -> Iterator[ResourceRecord]:
        # Route 53 Domains answers in us-east-1 only.
        domains = self.client("route53domains", region="us-east-1")
        listed_domains = self.paginate(
            domains,
            "list_domains",
            "Domains",
            PaginationConfig={"PageSize": self.page_size},
        )
        for listed in listed_domains:
            yield self._domain(domains, listed)

    def _domain(self, domains: BaseClient, listed: dict) -> ResourceRecord:
        name = listed["DomainName"]
        errors: dict[str, str] = {}
        detail = self.optional(
            errors, "DomainDetail", domains.get_domain_detail, DomainName=name
        )
        config: dict[str, Any] = to_jsonable(listed)
        config["DomainDetail"] = (
            None
            if detail is None
            else to_jsonable(
                {
                    k: (sorted(v) if k == "StatusList" else v)
                    for k, v in detail.items()
                    if k not in DOMAIN_DETAIL_SKIPPED
                }
            )
        )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=DOMAIN,
            resource_id=name,
            config=config,
            name=name,
        )
