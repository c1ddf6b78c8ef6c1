"""s3.macie-enabled: Macie on in every region that holds S3 buckets."""

from botocore.awsrequest import AWSResponse

from findings.testing import collect, deny, evaluate

CONTROL = "s3.macie-enabled"


def _records(session, regions=("us-east-1",)):
    records = collect("s3", session=session)
    for region in regions:
        records += collect("macie", region, session=session)
    return records


def test_enabled_where_buckets_live_passes(aws):
    aws.client("s3").create_bucket(Bucket="macie-data-bucket")
    aws.client("macie2").enable_macie()
    result = evaluate(CONTROL, _records(aws))["us-east-1"]
    assert result.status == "PASS"
    assert "1 bucket" in result.reason


def test_disabled_fails(aws):
    aws.client("s3").create_bucket(Bucket="macie-data-bucket")
    aws.client("macie2").disable_macie()
    result = evaluate(CONTROL, _records(aws))["us-east-1"]
    assert result.status == "FAIL"
    assert "not enabled" in result.reason


def test_an_empty_answer_is_not_read_as_enabled(aws):
    # Older moto answered 200 with no status when Macie was off.
    aws.client("s3").create_bucket(Bucket="macie-data-bucket")

    def empty(**kwargs):
        return AWSResponse("https://macie2.invalid", 200, {}, None), {
            "ResponseMetadata": {"HTTPStatusCode": 200}
        }

    aws.events.register("before-call.macie2.GetMacieSession", empty)
    result = evaluate(CONTROL, _records(aws))["us-east-1"]
    assert result.status == "FAIL"


def test_awss_not_enabled_denial_fails(aws):
    aws.client("s3").create_bucket(Bucket="macie-data-bucket")

    def not_enabled(**kwargs):
        http = AWSResponse("https://macie2.invalid", 403, {}, None)
        return http, {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "Macie is not enabled for this AWS account.",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    aws.events.register("before-call.macie2.GetMacieSession", not_enabled)
    result = evaluate(CONTROL, _records(aws))["us-east-1"]
    assert result.status == "FAIL"


def test_region_without_buckets_is_not_applicable(aws):
    aws.client("s3").create_bucket(Bucket="macie-data-bucket")
    records = _records(aws, regions=("us-east-1", "eu-west-1"))
    results = evaluate(CONTROL, records, regions=["us-east-1", "eu-west-1"])
    assert results["eu-west-1"].status == "NOT_APPLICABLE"


def test_other_denial_is_an_error_not_a_pass(aws):
    aws.client("s3").create_bucket(Bucket="macie-data-bucket")
    aws.client("macie2").enable_macie()
    deny(aws, "macie2", "GetMacieSession")
    result = evaluate(CONTROL, _records(aws))["us-east-1"]
    assert result.status == "ERROR"
