"""Shared fixtures: fake AWS credentials, moto, and the three personas."""

import os

import boto3
import pytest

# Tests never reach real AWS: fake credentials, and no endpoint inherited from
# the shell (end-to-end tests set their own moto server endpoint).
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.setdefault("PARAPET_AWS_MAX_ATTEMPTS", "2")


@pytest.fixture
def aws():
    """An in-process moto mock; yields a boto3 session in us-east-1."""
    from moto import mock_aws

    from accounts.aws import forget_credentials

    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        forget_credentials()
        yield boto3.Session(region_name="us-east-1")
    forget_credentials()
