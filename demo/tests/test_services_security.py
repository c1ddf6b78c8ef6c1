"""The security-services demo seed, scanned by the real collectors through a
moto server.

The well-run "security" profile and the careless "dev" profile are seeded one
after the other into moto's default account (the server is reset between
them: both create keys, secrets and vaults). Security must pass, dev must
fail, and what the simulator cannot answer must never pass.
"""

import os

import pytest
from botocore.exceptions import ClientError

from accounts.aws import forget_credentials, new_session
from demo.seed import _Account
from demo.services import security
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint
from findings.controls.base import Status
from findings.testing import collect, evaluate

pytestmark = pytest.mark.e2e

REGIONS = ("us-east-1",)
ACCOUNT_ID = "123456789012"  # moto's default account
SERVICES = ("kms", "secretsmanager", "acm", "backup", "account", "support")


def scan_profile(url: str, profile: str) -> list:
    reset_moto_server(url)
    forget_credentials()
    account = _Account.management(url, REGIONS, ACCOUNT_ID)
    for region in REGIONS:
        security.seed(account, profile, region)
    session = new_session(region_name=REGIONS[0])
    records = []
    for service in SERVICES:
        records += collect(service, REGIONS[0], session=session)
    with pytest.raises(ClientError):
        # No Access Analyzer in the simulator: the unit fails, nothing passes.
        collect("accessanalyzer", REGIONS[0], session=session)
    return records


@pytest.fixture(scope="module")
def scans():
    saved = dict(os.environ)
    server, url = start_moto_server()
    try:
        with use_endpoint(url):
            yield {
                profile: scan_profile(url, profile) for profile in ("security", "dev")
            }
    finally:
        reset_moto_server(url)
        server.stop()
        forget_credentials()
        # start_moto_server sets moto's switches too: leave nothing behind.
        os.environ.clear()
        os.environ.update(saved)


def statuses(records, control_id: str) -> set[Status]:
    return {result.status for result in evaluate(control_id, records).values()}


@pytest.mark.parametrize(
    ("control_id", "good", "bad"),
    [
        ("kms.key.rotation", {Status.PASS, Status.NOT_APPLICABLE}, {Status.FAIL}),
        (
            "kms.key.no-public-policy",
            {Status.PASS, Status.NOT_APPLICABLE},
            {Status.FAIL},
        ),
        ("secretsmanager.rotation-enabled", {Status.PASS}, {Status.FAIL}),
        ("acm.certificate.strong-key", {Status.PASS}, {Status.FAIL}),
        ("backup.vault-locked", {Status.PASS}, {Status.NOT_APPLICABLE}),
        ("account.security-contact", {Status.PASS}, {Status.FAIL}),
    ],
)
def test_security_profile_passes_and_dev_fails(scans, control_id, good, bad):
    assert statuses(scans["security"], control_id) == good
    assert statuses(scans["dev"], control_id) == bad


def test_retired_key_pending_deletion_is_accepted(scans):
    outcome = evaluate("kms.key.not-pending-deletion", scans["security"])
    assert {r.status for r in outcome.values()} == {Status.PASS}
    assert any("lifecycle=retired" in r.reason for r in outcome.values())


def test_region_without_a_backup_plan_fails(scans):
    result = evaluate("backup.plan-with-selection", scans["dev"])[REGIONS[0]]
    assert result.status == Status.FAIL


def test_what_the_simulator_cannot_answer_is_never_a_pass(scans):
    # Backup selections and Trusted Advisor results are not simulated.
    for control_id in (
        "backup.plan-with-selection",
        "trustedadvisor.security-checks-not-red",
    ):
        assert statuses(scans["security"], control_id) == {Status.ERROR}, control_id
