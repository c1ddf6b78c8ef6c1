"""The database demo seed, scanned by the real collectors through a moto server.

The well-run "security" profile and the careless "dev" profile are seeded
into one account (their resource names do not overlap); the security
profile's databases must pass and dev's must fail.
"""

import os

import pytest

from accounts.aws import forget_credentials, new_session
from demo.seed import _Account
from demo.services import db
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint
from findings.controls.base import Status
from findings.testing import collect, evaluate

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


@pytest.fixture(scope="module")
def records():
    saved = dict(os.environ)
    server, url = start_moto_server()
    try:
        with use_endpoint(url):
            reset_moto_server(url)
            forget_credentials()
            account = _Account.management(url, (REGION, "eu-west-1"), ACCOUNT_ID)
            for profile in ("security", "dev"):
                for region in account.regions:
                    db.seed(account, profile, region)
            session = new_session(region_name=REGION)
            yield [
                record
                for service in ("rds", "redshift", "elasticache", "dynamodb", "dax")
                for record in collect(service, REGION, session=session)
            ] + collect("ec2", REGION, session=session)
    finally:
        reset_moto_server(url)
        server.stop()
        forget_credentials()
        # start_moto_server sets moto's switches too: leave nothing behind.
        os.environ.clear()
        os.environ.update(saved)


SECURITY_PASSES = [
    ("rds.storage-encrypted", "orders-db"),
    ("rds.not-public", "orders-db"),
    ("rds.multi-az", "orders-db"),
    ("rds.backup-retention-7d", "orders-db"),
    ("rds.deletion-protection", "orders-db"),
    ("rds.auto-minor-upgrade", "orders-db"),
    ("rds.iam-auth", "orders-db"),
    ("rds.logs-exported", "orders-db"),
    ("rds.sg-no-public-ingress", "orders-db"),
    ("rds.tls-enforced", "postgres-tls"),
    ("rds.snapshot.not-public", "orders-db-before-migration"),
    ("elasticache.custom-subnet-group", "page-cache"),
    ("elasticache.at-rest-encryption", "sessions"),
    ("elasticache.transit-encryption", "sessions"),
    ("elasticache.auth-enabled", "sessions"),
    ("elasticache.backups", "sessions"),
    ("elasticache.multi-az-failover", "sessions"),
    ("dynamodb.table.pitr", "orders"),
    ("dynamodb.table.kms-encryption", "orders"),
    ("dynamodb.table.deletion-protection", "orders"),
    ("dax.cluster.encrypted", "orders-cache"),
]

DEV_FAILS = [
    ("rds.storage-encrypted", "scratch-db"),
    ("rds.not-public", "scratch-db"),
    ("rds.sg-no-public-ingress", "scratch-db"),
    ("rds.tls-enforced", "mysql-plain"),
    ("rds.snapshot.not-public", "scratch-db-export"),
    ("redshift.not-public", "analytics"),
    ("redshift.encrypted", "analytics"),
    ("redshift.audit-logging", "analytics"),
    ("elasticache.custom-subnet-group", "scratch-memcached"),
    ("elasticache.auth-enabled", "scratch-cache"),
    ("elasticache.multi-az-failover", "scratch-cache"),
    ("dynamodb.table.pitr", "scratch-events"),
    ("dynamodb.table.deletion-protection", "scratch-events"),
    ("dax.cluster.encrypted", "scratch-cache"),
]


@pytest.mark.parametrize(("control_id", "resource_id"), SECURITY_PASSES)
def test_security_profile_passes(records, control_id, resource_id):
    outcome = evaluate(control_id, records)[resource_id]
    assert outcome.status == Status.PASS, outcome.reason


@pytest.mark.parametrize(("control_id", "resource_id"), DEV_FAILS)
def test_dev_profile_fails(records, control_id, resource_id):
    outcome = evaluate(control_id, records)[resource_id]
    assert outcome.status == Status.FAIL, outcome.reason


def test_only_the_first_region_is_seeded(records):
    session = new_session(region_name="eu-west-1")
    assert collect("dynamodb", "eu-west-1", session=session) == []
