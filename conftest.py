"""Shared fixtures: fake AWS credentials, moto, and the three personas."""

import os

import pytest

# Tests never reach real AWS: fake credentials, and no endpoint inherited from
# the shell (end-to-end tests set their own moto server endpoint).
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.setdefault("PARAPET_AWS_MAX_ATTEMPTS", "2")
# ~1,300 Amazon AMIs per region make every EC2 test slow; tests that need them
# set this themselves.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def _mock_aws(config: dict | None = None):
    from moto import mock_aws

    from accounts.aws import forget_credentials, new_session

    with mock_aws(config=config):
        forget_credentials()
        yield new_session(region_name="us-east-1")
    forget_credentials()


@pytest.fixture
def aws():
    """An in-process moto mock; yields a boto3 session in us-east-1."""
    yield from _mock_aws()


@pytest.fixture
def aws_managed_policies():
    """As ``aws``, with AWS managed IAM policies loaded (about 3 s slower)."""
    yield from _mock_aws({"iam": {"load_aws_managed_policies": True}})


@pytest.fixture(autouse=True)
def _celery_in_process():
    """Tasks run in-process in tests, whatever REDIS_URL the shell has.

    The end-to-end test switches to a real broker and worker itself.
    """
    from django.test import override_settings

    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    # Units on one thread: other threads could not see a test's uncommitted
    # transaction. test_pipeline covers the threaded path.
    with override_settings(PARAPET_INPROCESS_CONCURRENCY=1):
        yield
    app.conf.task_always_eager = previous


@pytest.fixture
def beat_entries(db):
    """The beat entries the migrations create (config/beat.py), made again if
    gone: a transactional test that ran earlier in the same process flushes
    every table, the migrations' rows included."""
    from django.apps import apps
    from django.db.migrations import RunPython
    from django.db.migrations.loader import MigrationLoader

    from config import beat

    for migration in MigrationLoader(None).disk_migrations.values():
        for operation in migration.operations:
            code = getattr(operation, "code", None)
            if isinstance(operation, RunPython) and getattr(code, "func", None) is (
                beat._add
            ):
                code(apps, None)
