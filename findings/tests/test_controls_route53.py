"""Route 53 controls, evaluated on what the real collectors read from moto.

moto never signs a zone (GetDNSSEC always answers NOT_SIGNING) and never sets
clientTransferProhibited (a registered domain's StatusList is ["SUCCEEDED"]),
so the passing side of those two controls is served the AWS-documented
answer through a botocore hook.
"""

import pytest
from botocore.awsrequest import AWSResponse

from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

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

CATALOG = [
    # id, severity, resource type, Security Hub
    ("route53.zone.query-logging", Severity.MEDIUM, ZONE, ("Route53.2",)),
    ("route53.zone.dnssec-signing", Severity.MEDIUM, ZONE, ()),
    ("route53domains.transfer-lock", Severity.HIGH, DOMAIN, ()),
    ("route53domains.privacy-protection", Severity.LOW, DOMAIN, ()),
    ("route53.failover-health-checks", Severity.MEDIUM, RECORD_SET, ()),
]


@pytest.mark.parametrize(("control_id", "severity", "rtype", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, rtype, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/networking/route53"
    assert ctl.severity == severity
    assert ctl.resource_type == rtype
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale and ctl.remediation
    assert ctl.remediation_cli.startswith("aws route53")


def test_no_zones_or_domains_means_no_findings(aws):
    records = collect("route53", session=aws) + collect("route53domains", session=aws)
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, records) == {}


# -- helpers ---------------------------------------------------------------------------


def respond(session, service: str, operation: str, parsed: dict) -> None:
    """Answer ``service.operation`` with an AWS-shaped response."""

    def handler(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.{service}.{operation}", handler)


def make_zone(aws, private: bool = False) -> str:
    kwargs = {}
    if private:
        kwargs = {
            "HostedZoneConfig": {"PrivateZone": True},
            "VPC": {"VPCRegion": "us-east-1", "VPCId": "vpc-0a1b2c3d"},
        }
    zone = aws.client("route53").create_hosted_zone(
        Name="example.com", CallerReference="example", **kwargs
    )["HostedZone"]
    return zone["Id"].removeprefix("/hostedzone/")


def zone_result(aws, control_id: str, zone: str):
    return evaluate(control_id, collect("route53", session=aws))[zone]


def domain_result(aws, control_id: str):
    records = collect("route53domains", session=aws)
    return evaluate(control_id, records)["example-edge.com"]


def register(aws, private: bool = True, registrant: bool | None = None) -> None:
    aws.client("route53domains").register_domain(
        DomainName="example-edge.com",
        DurationInYears=2,  # moto rejects exactly one year as too short
        AdminContact=CONTACT,
        RegistrantContact=CONTACT,
        TechContact=CONTACT,
        PrivacyProtectAdminContact=private,
        PrivacyProtectRegistrantContact=private if registrant is None else registrant,
        PrivacyProtectTechContact=private,
    )


def domain_detail(**fields) -> dict:
    """GetDomainDetail as AWS documents it (contacts left out)."""
    return {
        "DomainName": "example-edge.com",
        "Nameservers": [{"Name": "ns-1.awsdns-01.org", "GlueIps": []}],
        "AutoRenew": True,
        "AdminPrivacy": True,
        "RegistrantPrivacy": True,
        "TechPrivacy": True,
        "RegistrarName": "Amazon Registrar, Inc.",
        "StatusList": ["clientTransferProhibited", "clientUpdateProhibited"],
        **fields,
    }


# -- route53.zone.query-logging --------------------------------------------------------


def test_public_zone_with_query_logging_passes(aws):
    zone = make_zone(aws)
    group = "/aws/route53/example.com"
    aws.client("logs").create_log_group(logGroupName=group)
    aws.client("route53").create_query_logging_config(
        HostedZoneId=zone,
        CloudWatchLogsLogGroupArn=(
            f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{group}:*"
        ),
    )
    result = zone_result(aws, "route53.zone.query-logging", zone)
    assert result.status == Status.PASS
    assert result.reason == f"DNS queries are logged to log group {group}"


def test_public_zone_without_query_logging_fails(aws):
    zone = make_zone(aws)
    result = zone_result(aws, "route53.zone.query-logging", zone)
    assert result.status == Status.FAIL


def test_private_zone_is_not_applicable_to_zone_controls(aws):
    zone = make_zone(aws, private=True)
    records = collect("route53", session=aws)
    for control_id in ("route53.zone.query-logging", "route53.zone.dnssec-signing"):
        assert evaluate(control_id, records)[zone].status == Status.NOT_APPLICABLE


def test_denied_query_logging_listing_is_an_error(aws):
    zone = make_zone(aws)
    deny(aws, "route53", "ListQueryLoggingConfigs")
    result = zone_result(aws, "route53.zone.query-logging", zone)
    assert result.status == Status.ERROR


# -- route53.zone.dnssec-signing -------------------------------------------------------


def test_signed_zone_passes(aws):
    zone = make_zone(aws)
    respond(
        aws,
        "route53",
        "GetDNSSEC",
        {
            "Status": {"ServeSignature": "SIGNING"},
            "KeySigningKeys": [{"Name": "main-ksk", "Status": "ACTIVE"}],
        },
    )
    result = zone_result(aws, "route53.zone.dnssec-signing", zone)
    assert result.status == Status.PASS


def test_unsigned_zone_fails(aws):
    zone = make_zone(aws)
    result = zone_result(aws, "route53.zone.dnssec-signing", zone)
    assert result.status == Status.FAIL
    assert result.reason == "DNSSEC ServeSignature is NOT_SIGNING"


def test_denied_dnssec_is_an_error(aws):
    zone = make_zone(aws)
    deny(aws, "route53", "GetDNSSEC")
    assert zone_result(aws, "route53.zone.dnssec-signing", zone).status == (
        Status.ERROR
    )


# -- route53.failover-health-checks ----------------------------------------------------


def test_failover_records(aws):
    zone = make_zone(aws)
    route53 = aws.client("route53")
    check = route53.create_health_check(
        CallerReference="primary",
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": "app.example.com",
            "Port": 443,
            "ResourcePath": "/health",
        },
    )["HealthCheck"]["Id"]

    def record(name: str, role: str, identifier: str, **extra) -> dict:
        return {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": name,
                "Type": "A",
                "SetIdentifier": identifier,
                "Failover": role,
                "TTL": 60,
                "ResourceRecords": [{"Value": "192.0.2.1"}],
                **extra,
            },
        }

    def alias(name: str, evaluate: bool) -> dict:
        return {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": name,
                "Type": "A",
                "SetIdentifier": "primary",
                "Failover": "PRIMARY",
                "AliasTarget": {
                    "HostedZoneId": "Z35SXDOTRQ7X7K",
                    "DNSName": "web-1.us-east-1.elb.amazonaws.com",
                    "EvaluateTargetHealth": evaluate,
                },
            },
        }

    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                record("app.example.com", "PRIMARY", "app-1", HealthCheckId=check),
                record("app.example.com", "SECONDARY", "app-2"),
                record("api.example.com", "PRIMARY", "api-1"),
                alias("www.example.com", evaluate=True),
                alias("old.example.com", evaluate=False),
            ]
        },
    )

    results = evaluate(
        "route53.failover-health-checks", collect("route53", session=aws)
    )

    app = results[f"{zone}/app.example.com./A/app-1"]
    assert app.status == Status.PASS
    assert app.reason == f"PRIMARY record is health-checked by {check}"
    api = results[f"{zone}/api.example.com./A/api-1"]
    assert api.status == Status.FAIL
    assert "never fails over" in api.reason
    secondary = results[f"{zone}/app.example.com./A/app-2"]
    assert secondary.status == Status.NOT_APPLICABLE
    evaluated = results[f"{zone}/www.example.com./A/primary"]
    assert evaluated.status == Status.PASS
    assert "evaluates the health of web-1.us-east-1.elb" in evaluated.reason
    unevaluated = results[f"{zone}/old.example.com./A/primary"]
    assert unevaluated.status == Status.FAIL


# -- route53domains.transfer-lock ------------------------------------------------------


def test_locked_domain_passes(aws):
    register(aws)
    respond(aws, "route53domains", "GetDomainDetail", domain_detail())
    result = domain_result(aws, "route53domains.transfer-lock")
    assert result.status == Status.PASS
    assert result.reason == "status includes clientTransferProhibited"


def test_unlocked_domain_fails(aws):
    register(aws)  # moto reports StatusList ["SUCCEEDED"]: no lock
    result = domain_result(aws, "route53domains.transfer-lock")
    assert result.status == Status.FAIL
    assert result.reason == (
        "clientTransferProhibited is not set (statuses: SUCCEEDED)"
    )


def test_unlocked_aws_shaped_domain_fails(aws):
    register(aws)
    respond(
        aws,
        "route53domains",
        "GetDomainDetail",
        domain_detail(StatusList=["clientUpdateProhibited"]),
    )
    assert domain_result(aws, "route53domains.transfer-lock").status == Status.FAIL


def test_denied_domain_detail_is_an_error_for_both_domain_controls(aws):
    register(aws)
    deny(aws, "route53domains", "GetDomainDetail")
    records = collect("route53domains", session=aws)
    for control_id in (
        "route53domains.transfer-lock",
        "route53domains.privacy-protection",
    ):
        result = evaluate(control_id, records)["example-edge.com"]
        assert result.status == Status.ERROR


# -- route53domains.privacy-protection -------------------------------------------------


def test_private_domain_passes(aws):
    register(aws, private=True)
    result = domain_result(aws, "route53domains.privacy-protection")
    assert result.status == Status.PASS


def test_public_registrant_fails(aws):
    register(aws, private=True, registrant=False)
    result = domain_result(aws, "route53domains.privacy-protection")
    assert result.status == Status.FAIL
    assert result.reason == "contact details are public: RegistrantPrivacy off"
