"""The apps demo seed, scanned by the real collectors on a moto server.

One server serves the module. Each profile is seeded into a freshly reset
server and collected once; the well-run "security" profile must pass this
group's controls and the poorly run "sandbox" profile must fail them.
"""

import os

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from demo.seed import _Account
from demo.services import apps
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint
from findings.controls.base import Status
from findings.testing import collect, evaluate

pytestmark = pytest.mark.e2e

ACCOUNT_ID = "123456789012"  # moto's default account
REGIONS = ("us-east-1", "eu-west-1")
SERVICES = (
    "sqs",
    "sns",
    "stepfunctions",
    "ses",
    "kinesis",
    "emr",
    "datapipeline",
    "workspaces",
    "opensearch",
)


@pytest.fixture(scope="module")
def endpoint():
    saved = dict(os.environ)
    server, url = start_moto_server()
    try:
        with use_endpoint(url):
            yield url
    finally:
        reset_moto_server(url)
        server.stop()
        # start_moto_server sets moto's switches too: leave nothing behind.
        os.environ.clear()
        os.environ.update(saved)


def seeded(endpoint: str, profile: str) -> dict:
    """Seed ``profile`` into a fresh server; every region's records by service."""
    reset_moto_server(endpoint)
    account = _Account.management(endpoint, REGIONS, ACCOUNT_ID)
    account.name = profile  # bucket names and the like follow the profile
    for region in REGIONS:
        apps.seed(account, profile, region)
    return {
        (service, region): collect(service, region=region)
        for service in SERVICES
        for region in REGIONS
    }


@pytest.fixture(scope="module")
def security(endpoint) -> dict:
    return seeded(endpoint, "security")


@pytest.fixture(scope="module")
def sandbox(endpoint, security) -> dict:  # after security: one server at a time
    return seeded(endpoint, "sandbox")


def statuses(records: dict, control_id: str, region: str = "us-east-1") -> set:
    service = control_id.split(".")[0]
    found = evaluate(control_id, records[(service, region)], regions=REGIONS)
    assert found, f"{control_id}: nothing seeded to evaluate in {region}"
    return {result.status for result in found.values()}


GOOD_CONTROLS = (
    "sqs.queue.sse",
    "sqs.queue.no-public-policy",
    "sns.topic.kms",
    "sns.topic.no-public-policy",
    "sns.subscription.https-only",
    "stepfunctions.state-machine.logging",
    "ses.identity.verified",
    "kinesis.stream.sse",
    "kinesis.stream.retention-7d",
    "emr.cluster.primary-no-public-ip",
    "emr.cluster.security-configuration",
    "emr.security-configuration.encryption",
    "datapipeline.pipeline.logging",
    "datapipeline.pipeline.roles-not-admin",
    "workspaces.user-volume-encrypted",
    "workspaces.root-volume-encrypted",
    "opensearch.domain.encrypted",
    "opensearch.domain.in-vpc",
    "opensearch.domain.https-tls12",
)
BAD_CONTROLS = (
    "sqs.queue.sse",
    "sqs.queue.no-public-policy",
    "sns.topic.kms",
    "sns.topic.no-public-policy",
    "stepfunctions.state-machine.logging",
    "kinesis.stream.sse",
    "emr.cluster.security-configuration",
    "datapipeline.pipeline.logging",
    "datapipeline.pipeline.roles-not-admin",
    "workspaces.root-volume-encrypted",
    "opensearch.domain.encrypted",
    "opensearch.domain.in-vpc",
    "opensearch.domain.https-tls12",
)


@pytest.mark.parametrize("control_id", GOOD_CONTROLS)
def test_security_profile_passes(security, control_id):
    assert statuses(security, control_id) <= {Status.PASS, Status.NOT_APPLICABLE}


def test_security_profile_ses_domain_is_signed_and_aligned(security):
    for control_id in ("ses.domain.dkim", "ses.domain.custom-mail-from"):
        assert Status.PASS in statuses(security, control_id)


@pytest.mark.parametrize("region", REGIONS)
def test_security_profile_blocks_emr_public_access_in_every_region(security, region):
    assert statuses(security, "emr.block-public-access", region) == {Status.PASS}


def test_resources_live_in_the_first_region_only(security):
    for service in ("sqs", "sns", "kinesis", "opensearch"):
        assert security[(service, "eu-west-1")] == []


@pytest.mark.parametrize("control_id", BAD_CONTROLS)
def test_sandbox_profile_fails(sandbox, control_id):
    assert Status.FAIL in statuses(sandbox, control_id)


@pytest.mark.parametrize("region", REGIONS)
def test_sandbox_profile_leaves_emr_public_access_open(sandbox, region):
    assert statuses(sandbox, "emr.block-public-access", region) == {Status.FAIL}


def test_cloudsearch_is_not_seeded_and_its_unit_fails(endpoint):
    # The simulator has no CloudSearch: the unit fails, never "no domains".
    with pytest.raises((ClientError, ResponseParserError)):
        collect("cloudsearch")
