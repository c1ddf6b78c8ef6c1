"""Kinesis controls, evaluated on what the real collector reads from moto."""

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate


def make_stream(aws, name: str = "clicks") -> object:
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis


def check(aws, control_id: str, stream: str = "clicks"):
    return evaluate(control_id, collect("kinesis", session=aws))[stream]


def test_no_streams_means_no_findings(aws):
    records = collect("kinesis", session=aws)
    assert evaluate("kinesis.stream.sse", records) == {}
    assert evaluate("kinesis.stream.retention-7d", records) == {}


# -- kinesis.stream.sse ---------------------------------------------------------


def test_kms_encrypted_stream_passes(aws):
    kinesis = make_stream(aws)
    kinesis.start_stream_encryption(
        StreamName="clicks", EncryptionType="KMS", KeyId="alias/aws/kinesis"
    )
    result = check(aws, "kinesis.stream.sse")
    assert result.status == Status.PASS
    assert result.reason == "encrypted with KMS key alias/aws/kinesis"


def test_unencrypted_stream_fails(aws):
    make_stream(aws)
    result = check(aws, "kinesis.stream.sse")
    assert result.status == Status.FAIL
    assert result.reason == "server-side encryption is NONE"


def test_summary_denied_is_error_for_encryption(aws):
    make_stream(aws)
    deny(aws, "kinesis", "DescribeStreamSummary")
    assert check(aws, "kinesis.stream.sse").status == Status.ERROR


# -- kinesis.stream.retention-7d ------------------------------------------------


def test_seven_day_retention_passes(aws):
    kinesis = make_stream(aws)
    kinesis.increase_stream_retention_period(
        StreamName="clicks", RetentionPeriodHours=168
    )
    result = check(aws, "kinesis.stream.retention-7d")
    assert result.status == Status.PASS
    assert result.reason == "retention is 168 hours (7 days)"


def test_default_day_of_retention_fails(aws):
    make_stream(aws)
    result = check(aws, "kinesis.stream.retention-7d")
    assert result.status == Status.FAIL
    assert result.reason == "retention is 24 hours (1 day), under 168 hours (7 days)"


def test_six_days_fails(aws):
    kinesis = make_stream(aws)
    kinesis.increase_stream_retention_period(
        StreamName="clicks", RetentionPeriodHours=144
    )
    assert check(aws, "kinesis.stream.retention-7d").status == Status.FAIL


def test_summary_denied_is_error_for_retention(aws):
    make_stream(aws)
    deny(aws, "kinesis", "DescribeStreamSummary")
    assert check(aws, "kinesis.stream.retention-7d").status == Status.ERROR
