"""OpenSearch controls, evaluated on what the real collector reads from moto.

moto describes a VPC domain by its subnets only; AWS also names the VPC, so
that answer is served too, through a hook checked against the output shape.
"""

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

CONTROLS = (
    "opensearch.domain.encrypted",
    "opensearch.domain.in-vpc",
    "opensearch.domain.https-tls12",
)


def make_domain(aws, name: str = "search", **options) -> None:
    aws.client("opensearch").create_domain(
        DomainName=name, EngineVersion="OpenSearch_2.13", **options
    )


def check(aws, control_id: str, domain: str = "search"):
    return evaluate(control_id, collect("opensearch", session=aws))[domain]


def test_no_domains_means_no_findings(aws):
    records = collect("opensearch", session=aws)
    for control_id in CONTROLS:
        assert evaluate(control_id, records) == {}


@pytest.mark.parametrize("control_id", CONTROLS)
def test_describe_denied_is_error(aws, control_id):
    make_domain(aws)
    deny(aws, "opensearch", "DescribeDomains")
    assert check(aws, control_id).status == Status.ERROR


# -- opensearch.domain.encrypted ------------------------------------------------


def test_encrypted_domain_passes(aws):
    make_domain(
        aws,
        EncryptionAtRestOptions={"Enabled": True},
        NodeToNodeEncryptionOptions={"Enabled": True},
    )
    result = check(aws, "opensearch.domain.encrypted")
    assert result.status == Status.PASS


def test_unencrypted_domain_fails(aws):
    make_domain(aws)
    result = check(aws, "opensearch.domain.encrypted")
    assert result.status == Status.FAIL
    assert result.reason == "encryption at rest and node-to-node is off"


def test_node_to_node_off_fails(aws):
    make_domain(aws, EncryptionAtRestOptions={"Enabled": True})
    result = check(aws, "opensearch.domain.encrypted")
    assert result.status == Status.FAIL
    assert result.reason == "encryption node-to-node is off"


# -- opensearch.domain.in-vpc ---------------------------------------------------


def test_vpc_domain_passes(aws):
    # moto does not look the subnet up.
    make_domain(aws, VPCOptions={"SubnetIds": ["subnet-0private1"]})
    result = check(aws, "opensearch.domain.in-vpc")
    assert result.status == Status.PASS
    assert result.reason == "VPC-only domain in subnet subnet-0private1"


def test_vpc_domain_as_aws_describes_it_passes(aws):
    make_domain(aws)
    status = aws.client("opensearch").describe_domains(DomainNames=["search"])[
        "DomainStatusList"
    ][0]
    status["VPCOptions"] = {
        "VPCId": "vpc-0abc1234",
        "SubnetIds": ["subnet-0abc1234"],
        "AvailabilityZones": ["us-east-1a"],
        "SecurityGroupIds": ["sg-0abc1234"],
    }
    parsed = {"DomainStatusList": [status]}

    def handler(model, **kwargs):
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws.events.register("before-call.opensearch.DescribeDomains", handler)
    result = check(aws, "opensearch.domain.in-vpc")
    assert result.status == Status.PASS
    assert result.reason == "VPC-only domain in vpc-0abc1234"


def test_public_domain_fails(aws):
    make_domain(aws)
    result = check(aws, "opensearch.domain.in-vpc")
    assert result.status == Status.FAIL
    assert "public endpoint" in result.reason


# -- opensearch.domain.https-tls12 ----------------------------------------------


@pytest.mark.parametrize(
    "policy", ["Policy-Min-TLS-1-2-2019-07", "Policy-Min-TLS-1-2-PFS-2023-10"]
)
def test_https_with_tls12_passes(aws, policy):
    make_domain(
        aws,
        DomainEndpointOptions={"EnforceHTTPS": True, "TLSSecurityPolicy": policy},
    )
    result = check(aws, "opensearch.domain.https-tls12")
    assert result.status == Status.PASS
    assert result.reason == f"HTTPS is required with {policy}"


def test_https_not_required_fails(aws):
    make_domain(aws)
    result = check(aws, "opensearch.domain.https-tls12")
    assert result.status == Status.FAIL
    assert result.reason.startswith("HTTPS is not required")


def test_tls10_policy_fails(aws):
    make_domain(
        aws,
        DomainEndpointOptions={
            "EnforceHTTPS": True,
            "TLSSecurityPolicy": "Policy-Min-TLS-1-0-2019-07",
        },
    )
    result = check(aws, "opensearch.domain.https-tls12")
    assert result.status == Status.FAIL
    assert "allows TLS before 1.2" in result.reason
