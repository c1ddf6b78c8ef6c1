"""SES controls, evaluated on what the real collector reads from moto.

moto verifies every identity at once and reports DKIM as enabled and verified
for all of them, so pending, failed and DKIM-less identities are served as
AWS reports them, through a botocore hook checked against the output shape.
"""

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

DOMAIN = "example.com"
ADDRESS = "alerts@example.com"


def respond(session, operation: str, parsed: dict) -> None:
    """Answer ``ses.operation`` with ``parsed``, an AWS-shaped response."""

    def handler(model, **kwargs):
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.ses.{operation}", handler)


def results(aws, control_id: str) -> dict:
    return evaluate(control_id, collect("ses", session=aws))


def identities(aws) -> None:
    ses = aws.client("ses")
    ses.verify_domain_identity(Domain=DOMAIN)
    ses.verify_email_identity(EmailAddress=ADDRESS)


def test_no_identities_means_no_findings(aws):
    for control_id in (
        "ses.identity.verified",
        "ses.domain.dkim",
        "ses.domain.custom-mail-from",
    ):
        assert results(aws, control_id) == {}


# -- ses.identity.verified ------------------------------------------------------


def test_verified_identities_pass(aws):
    identities(aws)
    found = results(aws, "ses.identity.verified")
    assert {k: v.status for k, v in found.items()} == {
        DOMAIN: Status.PASS,
        ADDRESS: Status.PASS,
    }


def test_pending_and_failed_identities_fail(aws):
    identities(aws)
    respond(
        aws,
        "GetIdentityVerificationAttributes",
        {
            "VerificationAttributes": {
                DOMAIN: {"VerificationStatus": "Pending", "VerificationToken": "tok"},
                ADDRESS: {"VerificationStatus": "Failed"},
            }
        },
    )
    found = results(aws, "ses.identity.verified")
    assert found[DOMAIN].status == Status.FAIL
    assert found[DOMAIN].reason == "verification status is Pending"
    assert found[ADDRESS].reason == "verification status is Failed"


def test_verification_denied_is_error(aws):
    identities(aws)
    deny(aws, "ses", "GetIdentityVerificationAttributes")
    found = results(aws, "ses.identity.verified")
    assert {r.status for r in found.values()} == {Status.ERROR}


# -- ses.domain.dkim ------------------------------------------------------------


def test_domain_with_dkim_passes_and_address_is_not_applicable(aws):
    identities(aws)
    aws.client("ses").verify_domain_dkim(Domain=DOMAIN)
    found = results(aws, "ses.domain.dkim")
    assert found[DOMAIN].status == Status.PASS
    assert found[ADDRESS].status == Status.NOT_APPLICABLE


def test_dkim_disabled_fails(aws):
    identities(aws)
    respond(
        aws,
        "GetIdentityDkimAttributes",
        {
            "DkimAttributes": {
                DOMAIN: {"DkimEnabled": False, "DkimVerificationStatus": "NotStarted"},
                ADDRESS: {"DkimEnabled": False, "DkimVerificationStatus": "NotStarted"},
            }
        },
    )
    result = results(aws, "ses.domain.dkim")[DOMAIN]
    assert result.status == Status.FAIL
    assert result.reason == "DKIM signing is disabled (DKIM verification NotStarted)"


def test_dkim_records_not_verified_fails(aws):
    identities(aws)
    respond(
        aws,
        "GetIdentityDkimAttributes",
        {
            "DkimAttributes": {
                DOMAIN: {
                    "DkimEnabled": True,
                    "DkimVerificationStatus": "TemporaryFailure",
                    "DkimTokens": ["a1", "b2", "c3"],
                }
            }
        },
    )
    result = results(aws, "ses.domain.dkim")[DOMAIN]
    assert result.status == Status.FAIL
    assert "TemporaryFailure" in result.reason


def test_dkim_denied_is_error(aws):
    identities(aws)
    deny(aws, "ses", "GetIdentityDkimAttributes")
    assert results(aws, "ses.domain.dkim")[DOMAIN].status == Status.ERROR


# -- ses.domain.custom-mail-from ------------------------------------------------


def test_verified_custom_mail_from_passes(aws):
    identities(aws)
    aws.client("ses").set_identity_mail_from_domain(
        Identity=DOMAIN, MailFromDomain=f"mail.{DOMAIN}"
    )
    found = results(aws, "ses.domain.custom-mail-from")
    assert found[DOMAIN].status == Status.PASS
    assert (
        found[DOMAIN].reason == "custom MAIL FROM domain mail.example.com is verified"
    )
    assert found[ADDRESS].status == Status.NOT_APPLICABLE


def test_no_custom_mail_from_fails(aws):
    identities(aws)
    result = results(aws, "ses.domain.custom-mail-from")[DOMAIN]
    assert result.status == Status.FAIL
    assert "amazonses.com" in result.reason


def test_custom_mail_from_pending_fails(aws):
    identities(aws)
    respond(
        aws,
        "GetIdentityMailFromDomainAttributes",
        {
            "MailFromDomainAttributes": {
                DOMAIN: {
                    "MailFromDomain": f"bounce.{DOMAIN}",
                    "MailFromDomainStatus": "Pending",
                    "BehaviorOnMXFailure": "UseDefaultValue",
                }
            }
        },
    )
    result = results(aws, "ses.domain.custom-mail-from")[DOMAIN]
    assert result.status == Status.FAIL
    assert result.reason == (
        "custom MAIL FROM domain bounce.example.com has status Pending"
    )


def test_mail_from_denied_is_error(aws):
    identities(aws)
    deny(aws, "ses", "GetIdentityMailFromDomainAttributes")
    result = results(aws, "ses.domain.custom-mail-from")[DOMAIN]
    assert result.status == Status.ERROR
