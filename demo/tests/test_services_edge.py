"""The edge demo seed, scanned by the real collectors and controls.

One moto server serves the module; each test resets it and seeds one profile
into moto's default account, then runs the edge collectors against it the way
a scan does. No database is needed.
"""

import os

import pytest

from demo.seed import _Account
from demo.services import edge
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint
from findings.controls.base import Status
from findings.testing import collect, evaluate

pytestmark = pytest.mark.e2e

ACCOUNT_ID = "123456789012"
SERVICES = ("elb", "autoscaling", "route53", "route53domains", "cloudfront")
EDGE_CONTROLS = (
    "elb.alb.http-redirects-to-https",
    "elb.clb.tls-listeners",
    "elb.listener.tls-policy",
    "elb.access-logs",
    "elb.deletion-protection",
    "elb.alb.drop-invalid-headers",
    "elb.multi-az",
    "elb.alb.waf-attached",
    "asg.multi-az",
    "asg.uses-launch-template",
    "asg.imdsv2-required",
    "asg.no-public-ip",
    "route53.zone.query-logging",
    "route53.zone.dnssec-signing",
    "route53domains.transfer-lock",
    "route53domains.privacy-protection",
    "route53.failover-health-checks",
    "cloudfront.viewer-https-only",
    "cloudfront.tls-min-version",
    "cloudfront.waf-attached",
    "cloudfront.logging-enabled",
    "cloudfront.s3-origin-access-control",
    "cloudfront.custom-origin-tls",
    "cloudfront.s3-origin-exists",
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


@pytest.fixture(scope="module")
def clients(endpoint):
    # One account object for the module: its boto3 clients (models parsed
    # once) outlive the server resets between tests.
    return _Account.management(endpoint, ("us-east-1", "eu-west-1"), ACCOUNT_ID)


@pytest.fixture
def account(endpoint, clients):
    reset_moto_server(endpoint)
    return clients


def scan(account, profile: str) -> dict[str, dict[str, Status]]:
    """Seed ``profile`` in every region, collect, evaluate: id -> resource -> status."""
    for region in account.regions:
        edge.seed(account, profile, region)
    records = [record for service in SERVICES for record in collect(service)]
    return {
        control_id: {
            resource: result.status
            for resource, result in evaluate(control_id, records).items()
        }
        for control_id in EDGE_CONTROLS
    }


def test_security_profile_passes_every_edge_control(account):
    results = scan(account, "security")

    for control_id, statuses in results.items():
        assert set(statuses.values()) <= {Status.PASS, Status.NOT_APPLICABLE}, (
            control_id,
            statuses,
        )
    # The profile has something to pass in every service.
    for control_id in (
        "elb.alb.waf-attached",
        "elb.listener.tls-policy",
        "asg.imdsv2-required",
        "route53.failover-health-checks",
        "cloudfront.tls-min-version",
        "cloudfront.custom-origin-tls",
    ):
        assert Status.PASS in results[control_id].values(), control_id


def test_dev_profile_fails_edge_controls(account):
    results = scan(account, "dev")

    for control_id in (
        "elb.multi-az",
        "elb.listener.tls-policy",
        "asg.multi-az",
        "asg.imdsv2-required",
        "asg.no-public-ip",
        "route53.zone.query-logging",
        "route53domains.privacy-protection",
        "route53.failover-health-checks",
        "cloudfront.viewer-https-only",
        "cloudfront.s3-origin-access-control",
        "cloudfront.custom-origin-tls",
        "cloudfront.s3-origin-exists",
    ):
        assert Status.FAIL in results[control_id].values(), control_id


@pytest.mark.parametrize("profile", ["prod", "sandbox", "management"])
def test_other_profiles_seed_and_mix_results(account, profile):
    results = scan(account, profile)

    statuses = {s for by_resource in results.values() for s in by_resource.values()}
    assert Status.FAIL in statuses
    if profile != "sandbox":
        assert Status.PASS in statuses


def test_only_the_first_region_is_seeded(account):
    edge.seed(account, "security", "eu-west-1")

    for service in SERVICES:
        assert collect(service, region="eu-west-1") == [], service
