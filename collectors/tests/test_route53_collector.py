"""The Route 53 and Route 53 Domains collectors against moto."""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from collectors.models import GLOBAL_REGION
from collectors.services.route53 import Route53Collector, Route53DomainsCollector
from findings.testing import ACCOUNT_ID, collect, deny

ZONE = "AWS::Route53::HostedZone"
RECORD_SET = "AWS::Route53::RecordSet"
DOMAIN = "AWS::Route53Domains::Domain"
CONTACT = {
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "ContactType": "PERSON",
    "AddressLine1": "1 Analytical Way",
    "City": "London",
    "CountryCode": "GB",
    "ZipCode": "N1 1AA",
    "PhoneNumber": "+44.2071234567",
    "Email": "ada@example.com",
}


def respond(session, service: str, operation: str, parsed: dict) -> None:
    """Answer ``service.operation`` with an AWS-shaped response."""

    def handler(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.{service}.{operation}", handler)


def make_zone(aws, name: str = "example.com", private: bool = False) -> str:
    kwargs = {}
    if private:
        kwargs = {
            "HostedZoneConfig": {"PrivateZone": True},
            "VPC": {"VPCRegion": "us-east-1", "VPCId": "vpc-0a1b2c3d"},
        }
    zone = aws.client("route53").create_hosted_zone(
        Name=name, CallerReference=name, **kwargs
    )["HostedZone"]
    return zone["Id"].removeprefix("/hostedzone/")


def log_queries(aws, zone: str, name: str = "example.com") -> str:
    group = f"/aws/route53/{name}"
    aws.client("logs").create_log_group(logGroupName=group)
    # Route 53 takes the log group ARN as describe_log_groups spells it (":*").
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{group}:*"
    aws.client("route53").create_query_logging_config(
        HostedZoneId=zone, CloudWatchLogsLogGroupArn=arn
    )
    return arn


def failover_records(aws, zone: str, domain: str = "example.com") -> None:
    aws.client("route53").change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"app.{domain}",
                        "Type": "A",
                        "SetIdentifier": role.lower(),
                        "Failover": role,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": address}],
                    },
                }
                for role, address in (
                    ("PRIMARY", "192.0.2.1"),
                    ("SECONDARY", "192.0.2.2"),
                )
            ]
            + [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"www.{domain}",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.3"}],
                    },
                }
            ],
        },
    )


def by_id(records) -> dict:
    return {r.resource_id: r for r in records}


# -- hosted zones ----------------------------------------------------------------------


def test_public_zone_with_logging_dnssec_and_failover_records(aws):
    zone = make_zone(aws)
    group = log_queries(aws, zone)
    failover_records(aws, zone)
    aws.client("route53").change_tags_for_resource(
        ResourceType="hostedzone",
        ResourceId=zone,
        AddTags=[{"Key": "team", "Value": "dns"}],
    )

    records = by_id(collect("route53", session=aws))

    public = records[zone]
    assert public.resource_type == ZONE
    assert public.region == GLOBAL_REGION
    assert public.arn == f"arn:aws:route53:::hostedzone/{zone}"
    assert public.name == "example.com."
    assert public.tags == {"team": "dns"}
    config = public.config
    assert config["Id"] == zone
    assert "ResourceRecordSetCount" not in config
    assert [c["CloudWatchLogsLogGroupArn"] for c in config["QueryLoggingConfigs"]] == [
        group
    ]
    assert config["DNSSEC"] == {
        "Status": {"ServeSignature": "NOT_SIGNING"},
        "KeySigningKeys": [],
    }
    assert "_errors" not in config

    primary = records[f"{zone}/app.example.com./A/primary"]
    assert primary.resource_type == RECORD_SET
    assert primary.name == "app.example.com. A (primary)"
    assert primary.config["Failover"] == "PRIMARY"
    assert primary.config["HostedZoneName"] == "example.com."
    # Only failover record sets become resources.
    assert sorted(
        r.resource_id for r in records.values() if r.resource_type == RECORD_SET
    ) == [
        f"{zone}/app.example.com./A/primary",
        f"{zone}/app.example.com./A/secondary",
    ]


def test_private_zone_is_not_asked_for_logging_or_dnssec(aws):
    zone = make_zone(aws, "internal.example", private=True)
    deny(aws, "route53", "GetDNSSEC")

    config = by_id(collect("route53", session=aws))[zone].config

    assert "QueryLoggingConfigs" not in config
    assert "DNSSEC" not in config
    assert "_errors" not in config


def test_aws_shaped_dnssec_keys_keep_only_stable_fields(aws):
    zone = make_zone(aws)
    respond(
        aws,
        "route53",
        "GetDNSSEC",
        {
            "Status": {"ServeSignature": "SIGNING"},
            "KeySigningKeys": [
                {
                    "Name": "main-ksk",
                    "KmsArn": "arn:aws:kms:us-east-1:123456789012:key/1",
                    "Status": "ACTIVE",
                    "StatusMessage": "",
                    "CreatedDate": "2025-01-01T00:00:00Z",
                    "LastModifiedDate": "2025-06-01T00:00:00Z",
                }
            ],
        },
    )

    config = by_id(collect("route53", session=aws))[zone].config

    assert config["DNSSEC"] == {
        "Status": {"ServeSignature": "SIGNING"},
        "KeySigningKeys": [
            {
                "Name": "main-ksk",
                "Status": "ACTIVE",
                "KmsArn": "arn:aws:kms:us-east-1:123456789012:key/1",
            }
        ],
    }


def test_denied_sub_calls_are_recorded_on_public_zones(aws):
    zone = make_zone(aws)
    for operation in ("ListQueryLoggingConfigs", "GetDNSSEC", "ListTagsForResource"):
        deny(aws, "route53", operation)

    config = by_id(collect("route53", session=aws))[zone].config

    assert set(config["_errors"]) == {"QueryLoggingConfigs", "DNSSEC", "Tags"}
    assert config["_errors"]["DNSSEC"].startswith("access_denied")
    assert config["DNSSEC"] is None


def test_zone_deleted_after_listing_is_skipped(aws):
    make_zone(aws)
    deny(aws, "route53", "ListResourceRecordSets", code="NoSuchHostedZone")

    assert collect("route53", session=aws) == []


def test_zones_and_record_sets_follow_their_markers(aws, monkeypatch):
    zones = [make_zone(aws, f"z{index}.example.com") for index in range(3)]
    failover_records(aws, zones[0], "z0.example.com")
    monkeypatch.setattr(Route53Collector, "page_size", 2)
    requests: list[tuple[str, dict]] = []

    def remember(params, model, **kwargs):
        requests.append((model.name, dict(params)))

    aws.events.register("before-parameter-build.route-53", remember)

    records = collect("route53", session=aws)

    assert sorted(r.resource_id for r in records if r.resource_type == ZONE) == sorted(
        zones
    )
    assert len([r for r in records if r.resource_type == RECORD_SET]) == 2
    zone_pages = [p for name, p in requests if name == "ListHostedZones"]
    assert len(zone_pages) == 2 and "Marker" in zone_pages[1]
    # NS, SOA, 2 failover and 1 simple record in pages of 2: 3 requests.
    record_pages = [
        p
        for name, p in requests
        if name == "ListResourceRecordSets" and p["HostedZoneId"] == zones[0]
    ]
    assert len(record_pages) == 3


@pytest.mark.parametrize("operation", ["ListHostedZones", "ListResourceRecordSets"])
def test_denied_zone_or_record_listing_raises(aws, operation):
    make_zone(aws)
    deny(aws, "route53", operation)

    with pytest.raises(ClientError) as exc:
        collect("route53", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_zone_config_is_stable_when_records_change(aws):
    zone = make_zone(aws)
    first = by_id(collect("route53", session=aws))[zone].config
    failover_records(aws, zone)
    second = by_id(collect("route53", session=aws))[zone].config

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


# -- registered domains ----------------------------------------------------------------


def register(aws, name: str = "example-edge.com", private: bool = True) -> None:
    aws.client("route53domains").register_domain(
        DomainName=name,
        DurationInYears=2,  # moto rejects exactly one year as too short
        AdminContact=CONTACT,
        RegistrantContact=CONTACT,
        TechContact=CONTACT,
        PrivacyProtectAdminContact=private,
        PrivacyProtectRegistrantContact=private,
        PrivacyProtectTechContact=private,
    )


def test_domain_detail_without_contacts(aws):
    register(aws)

    (domain,) = collect("route53domains", session=aws)

    assert domain.resource_type == DOMAIN
    assert domain.resource_id == domain.name == "example-edge.com"
    detail = domain.config["DomainDetail"]
    assert detail["AdminPrivacy"] is True
    assert detail["StatusList"] == ["SUCCEEDED"]
    assert "Ada" not in json.dumps(domain.config)
    for contact in ("AdminContact", "RegistrantContact", "TechContact"):
        assert contact not in detail


def test_denied_domain_detail_is_recorded(aws):
    register(aws)
    deny(aws, "route53domains", "GetDomainDetail")

    (domain,) = collect("route53domains", session=aws)

    assert domain.config["DomainDetail"] is None
    assert domain.config["_errors"]["DomainDetail"].startswith("access_denied")


def test_domains_follow_their_markers(aws, monkeypatch):
    for index in range(3):
        register(aws, f"example-{index}.com")
    monkeypatch.setattr(Route53DomainsCollector, "page_size", 2)

    names = sorted(r.resource_id for r in collect("route53domains", session=aws))

    assert names == ["example-0.com", "example-1.com", "example-2.com"]


def test_denied_domain_listing_raises(aws):
    deny(aws, "route53domains", "ListDomains")

    with pytest.raises(ClientError):
        collect("route53domains", session=aws)
