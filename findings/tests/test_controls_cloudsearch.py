"""CloudSearch controls, on AWS-shaped answers served by botocore's Stubber.

moto does not simulate CloudSearch at all. The real collector runs against a
stubbed client instead: Stubber checks every request's parameters and every
response against the CloudSearch API model, so the shapes are AWS's own.
"""

import json
from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

from collectors.base import COLLECTORS, ResourceRecord
from findings.controls.base import Status
from findings.testing import ACCOUNT_ID, evaluate

REGION = "us-east-1"
DOMAIN = "catalog"
NOW = datetime(2026, 1, 15, tzinfo=UTC)
CHANGED = datetime(2025, 6, 1, tzinfo=UTC)
TLS_1_2 = "Policy-Min-TLS-1-2-2019-07"
TLS_1_0 = "Policy-Min-TLS-1-0-2019-07"


def option_status() -> dict:
    return {
        "CreationDate": CHANGED,
        "UpdateDate": CHANGED,
        "UpdateVersion": 12,
        "State": "Active",
        "PendingDeletion": False,
    }


def domain_status(name: str = DOMAIN, **extra) -> dict:
    return {
        "DomainId": f"{ACCOUNT_ID}/{name}",
        "DomainName": name,
        "ARN": f"arn:aws:cloudsearch:{REGION}:{ACCOUNT_ID}:domain/{name}",
        "Created": True,
        "Deleted": False,
        "DocService": {
            "Endpoint": f"doc-{name}-abc123.{REGION}.cloudsearch.amazonaws.com"
        },
        "SearchService": {
            "Endpoint": f"search-{name}-abc123.{REGION}.cloudsearch.amazonaws.com"
        },
        "RequiresIndexDocuments": False,
        "Processing": False,
        "SearchInstanceType": "search.small",
        "SearchPartitionCount": 1,
        "SearchInstanceCount": 1,
        **extra,
    }


def endpoint_options(enforce: bool, policy: str = TLS_1_2) -> dict:
    return {
        "DomainEndpointOptions": {
            "Options": {"EnforceHTTPS": enforce, "TLSSecurityPolicy": policy},
            "Status": option_status(),
        }
    }


def access_policies(*statements: dict) -> dict:
    document = (
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        if statements
        else ""
    )
    return {"AccessPolicies": {"Options": document, "Status": option_status()}}


def search_statement(condition: dict | None = None) -> dict:
    statement = {
        "Sid": "search_only",
        "Effect": "Allow",
        "Principal": {"AWS": ["*"]},
        "Action": ["cloudsearch:search", "cloudsearch:suggest"],
    }
    if condition:
        statement["Condition"] = condition
    return statement


def collect_stubbed(
    session,
    *,
    endpoint: dict | str = "",
    policies: dict | str = "",
    domains: list[dict] | None = None,
) -> list[ResourceRecord]:
    """Run the real collector with CloudSearch answered by a Stubber.

    ``endpoint`` and ``policies`` are a response, or an error code to raise.
    """
    collector = COLLECTORS["cloudsearch"](session, ACCOUNT_ID, REGION, NOW)
    client = collector.client("cloudsearch")
    stubber = Stubber(client)
    statuses = domains if domains is not None else [domain_status()]
    stubber.add_response("describe_domains", {"DomainStatusList": statuses}, {})
    for status in statuses:
        if status["Deleted"]:
            continue
        name = {"DomainName": status["DomainName"]}
        for method, answer in (
            ("describe_domain_endpoint_options", endpoint or endpoint_options(True)),
            ("describe_service_access_policies", policies or access_policies()),
        ):
            if isinstance(answer, str):
                stubber.add_client_error(method, answer, http_status_code=403)
            else:
                stubber.add_response(method, answer, name)
    with stubber:
        records = list(collector.collect())
    stubber.assert_no_pending_responses()
    return records


def check(session, control_id: str, **answers) -> object:
    return evaluate(control_id, collect_stubbed(session, **answers))[DOMAIN]


def test_no_domains_means_no_findings(aws):
    records = collect_stubbed(aws, domains=[])
    assert evaluate("cloudsearch.domain.https-enforced", records) == {}
    assert evaluate("cloudsearch.domain.no-public-access-policy", records) == {}


# -- cloudsearch.domain.https-enforced ------------------------------------------


def test_https_with_tls12_passes(aws):
    result = check(aws, "cloudsearch.domain.https-enforced")
    assert result.status == Status.PASS
    assert result.reason == f"HTTPS is enforced with {TLS_1_2}"


def test_https_not_enforced_fails(aws):
    result = check(
        aws,
        "cloudsearch.domain.https-enforced",
        endpoint=endpoint_options(False, TLS_1_0),
    )
    assert result.status == Status.FAIL
    assert result.reason == f"HTTPS is not enforced (TLS policy {TLS_1_0})"


def test_https_with_tls10_policy_fails(aws):
    result = check(
        aws,
        "cloudsearch.domain.https-enforced",
        endpoint=endpoint_options(True, TLS_1_0),
    )
    assert result.status == Status.FAIL
    assert result.reason == f"HTTPS is enforced but the TLS policy is {TLS_1_0}"


def test_endpoint_options_denied_is_error(aws):
    result = check(aws, "cloudsearch.domain.https-enforced", endpoint="AccessDenied")
    assert result.status == Status.ERROR


# -- cloudsearch.domain.no-public-access-policy ---------------------------------


def test_no_access_policy_passes(aws):
    result = check(aws, "cloudsearch.domain.no-public-access-policy")
    assert result.status == Status.PASS
    assert "no access policy" in result.reason


@pytest.mark.parametrize(
    "condition",
    [
        {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.7/32"]}},
        {"StringEquals": {"aws:SourceVpc": "vpc-0abc1234"}},
    ],
)
def test_everyone_from_known_networks_passes(aws, condition):
    result = check(
        aws,
        "cloudsearch.domain.no-public-access-policy",
        policies=access_policies(search_statement(condition)),
    )
    assert result.status == Status.PASS


@pytest.mark.parametrize(
    "condition",
    [None, {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}],
)
def test_open_to_everyone_fails(aws, condition):
    result = check(
        aws,
        "cloudsearch.domain.no-public-access-policy",
        policies=access_policies(search_statement(condition)),
    )
    assert result.status == Status.FAIL
    assert result.reason == (
        'access policy statement "search_only" allows everyone on '
        "cloudsearch:search, cloudsearch:suggest with no aws:SourceIp or "
        "aws:SourceVpc condition"
    )


def test_access_policies_denied_is_error(aws):
    result = check(
        aws, "cloudsearch.domain.no-public-access-policy", policies="AccessDenied"
    )
    assert result.status == Status.ERROR
