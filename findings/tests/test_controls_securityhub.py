"""Security Hub controls, and the organization Config aggregator control that
shares their section (AWS Config security checks), on moto.

moto implements the hub but not ``get_enabled_standards``: the standards are
answered in AWS's shape by a botocore ``before-call`` handler, and moto's own
answer (not implemented) is checked to give ERROR, not PASS.
"""

import json

import pytest
from botocore.awsrequest import AWSResponse

from findings.controls.base import Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

ENABLED = "securityhub.enabled"
STANDARDS = "securityhub.standards-enabled"
AGGREGATOR = "config.aggregator.organization"
FSBP = (
    "arn:aws:securityhub:us-east-1::standards/"
    "aws-foundational-security-best-practices/v/1.0.0"
)
CIS_12 = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0"
CIS_30 = (
    "arn:aws:securityhub:us-east-1::standards/cis-aws-foundations-benchmark/v/3.0.0"
)
PCI = "arn:aws:securityhub:us-east-1::standards/pci-dss/v/3.2.1"


def answer(session, service_id, operation, respond):
    def handler(params, **kwargs):
        args = json.loads(params.get("body") or b"{}")
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(args)

    session.events.register(f"before-call.{service_id}.{operation}", handler)


def standards(session, *subscribed):
    """get_enabled_standards as AWS answers it: (ARN, status) pairs."""
    answer(
        session,
        "securityhub",
        "GetEnabledStandards",
        lambda args: {
            "StandardsSubscriptions": [
                {
                    "StandardsSubscriptionArn": f"{arn}/subscription",
                    "StandardsArn": arn,
                    "StandardsInput": {},
                    "StandardsStatus": status,
                }
                for arn, status in subscribed
            ]
        },
    )


def check(control_id, session, region="us-east-1"):
    records = collect("securityhub", region, session=session)
    return evaluate(control_id, records, regions=(region,))[region]


# -- securityhub.enabled --------------------------------------------------------------


def test_enabled_hub_passes(aws):
    aws.client("securityhub").enable_security_hub()

    result = check(ENABLED, aws)

    assert result.status == Status.PASS
    assert f"arn:aws:securityhub:us-east-1:{ACCOUNT_ID}:hub/default" in result.reason


def test_region_without_hub_fails(aws):
    aws.client("securityhub").enable_security_hub()  # us-east-1 only

    result = check(ENABLED, aws, region="eu-west-1")

    assert result.status == Status.FAIL
    assert result.reason.startswith("Security Hub is not enabled in eu-west-1")


# -- securityhub.standards-enabled ---------------------------------------------------


@pytest.mark.parametrize("cis", [CIS_12, CIS_30])
def test_fsbp_and_cis_ready_pass(aws, cis):
    aws.client("securityhub").enable_security_hub()
    standards(aws, (FSBP, "READY"), (cis, "READY"), (PCI, "READY"))

    result = check(STANDARDS, aws)

    assert result.status == Status.PASS
    assert result.reason == (
        "Security Hub in us-east-1 runs AWS Foundational Security Best Practices "
        "and CIS (READY)"
    )


def test_missing_or_unready_standards_fail(aws):
    aws.client("securityhub").enable_security_hub()
    standards(aws, (CIS_30, "INCOMPLETE"), (PCI, "READY"))

    result = check(STANDARDS, aws)

    assert result.status == Status.FAIL
    assert result.reason == (
        "Security Hub in us-east-1: AWS Foundational Security Best Practices is not "
        "enabled; CIS is enabled but not ready (INCOMPLETE)"
    )


def test_standards_without_hub_are_not_applicable(aws):
    result = check(STANDARDS, aws)

    assert result.status == Status.NOT_APPLICABLE


def test_standards_moto_cannot_list_are_an_error(aws):
    aws.client("securityhub").enable_security_hub()

    result = check(STANDARDS, aws)

    assert result.status == Status.ERROR
    assert "GetEnabledStandards" in result.reason


def test_denied_standards_are_an_error(aws):
    aws.client("securityhub").enable_security_hub()
    deny(aws, "securityhub", "GetEnabledStandards", "AccessDeniedException")

    assert check(STANDARDS, aws).status == Status.ERROR


# -- config.aggregator.organization ----------------------------------------------------


def organization(session):
    session.client("organizations").create_organization(FeatureSet="ALL")


def aggregator(session, region="us-east-1", **source):
    source = source or {"AllAwsRegions": True}
    session.client("config", region_name=region).put_configuration_aggregator(
        ConfigurationAggregatorName="organization",
        OrganizationAggregationSource={
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/aggregator",
            **source,
        },
    )


def aggregation(session, regions=("us-east-1", "eu-west-1"), collected=None, **kwargs):
    records = []
    for region in collected or regions:
        records += collect("config-aggregator", region, session=session)
    return evaluate(AGGREGATOR, records, regions=regions, **kwargs)


def test_organization_aggregator_of_all_regions_passes_in_every_region(aws):
    organization(aws)
    aggregator(aws)

    results = aggregation(aws)

    assert {r.status for r in results.values()} == {Status.PASS}
    assert results["eu-west-1"].reason == (
        "organization aggregator organization in us-east-1 aggregates all AWS regions"
    )


def test_management_account_without_aggregator_fails(aws):
    organization(aws)

    results = aggregation(aws)

    assert {r.status for r in results.values()} == {Status.FAIL}
    assert "no organization aggregator in any scanned region" in (
        results["us-east-1"].reason
    )


def test_aggregator_of_some_regions_fails(aws):
    organization(aws)
    aggregator(aws, "eu-west-1", AwsRegions=["eu-west-1"], AllAwsRegions=False)

    result = aggregation(aws)["us-east-1"]

    assert result.status == Status.FAIL
    assert result.reason == (
        "organization aggregator organization in eu-west-1 covers only eu-west-1 "
        "(AllAwsRegions=false)"
    )


def test_member_account_is_not_applicable(aws):
    organization(aws)
    answer(
        aws,
        "organizations",
        "DescribeOrganization",
        lambda args: {
            "Organization": {"Id": "o-exampleorgid", "MasterAccountId": "999999999999"}
        },
    )

    result = aggregation(aws)["us-east-1"]

    assert result.status == Status.NOT_APPLICABLE
    assert "management account 999999999999" in result.reason


def test_account_outside_an_organization_is_not_applicable(aws):
    result = aggregation(aws)["us-east-1"]

    assert result.status == Status.NOT_APPLICABLE
    assert "not in an AWS Organization" in result.reason


def test_unreadable_organization_is_an_error(aws):
    organization(aws)
    deny(aws, "organizations", "DescribeOrganization", "AccessDeniedException")

    assert aggregation(aws)["us-east-1"].status == Status.ERROR


def test_region_not_collected_is_an_error(aws):
    organization(aws)

    results = aggregation(
        aws,
        collected=("us-east-1",),
        uncollected={("AWS::Config::ConfigurationAggregator", "eu-west-1"): "denied"},
    )

    # The aggregator may live in the region that could not be read.
    assert results["us-east-1"].status == Status.ERROR
