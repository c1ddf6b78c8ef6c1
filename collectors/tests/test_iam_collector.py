"""The IAM collector against moto (and AWS-shaped answers where moto fakes)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from collectors.services import iam as iam_module
from findings.testing import ACCOUNT_ID, collect, deny

ADMIN_DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
)
READ_DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
    }
)
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,"
    "password_last_changed,password_next_rotation,mfa_active,access_key_1_active,"
    "access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
# Rows as AWS documents them: the root row exists in every real report.
ROOT_ROW = (
    "<root_account>,arn:aws:iam::123456789012:root,2019-04-01T10:00:00+00:00,"
    "not_supported,2026-11-20T08:15:42+00:00,not_supported,not_supported,true,"
    "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)


def respond(session, operation: str, parsed: dict) -> None:
    """Answer every ``iam.operation`` call with ``parsed`` (an AWS-shaped reply)."""

    def answer(**kwargs):
        http = AWSResponse("https://iam.amazonaws.com", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.iam.{operation}", answer)


def by_type(records) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for record in records:
        out.setdefault(record.resource_type, {})[record.resource_id] = record
    return out


def test_empty_account_still_has_its_account_level_records(aws):
    records = by_type(collect("iam", session=aws))

    assert set(records) == {"AWS::IAM::PasswordPolicy", "AWS::IAM::AccountSummary"}
    policy = records["AWS::IAM::PasswordPolicy"][ACCOUNT_ID]
    assert policy.config == {"Exists": False}
    summary = records["AWS::IAM::AccountSummary"][ACCOUNT_ID].config
    assert summary["SummaryMap"]["AccountMFAEnabled"] == 0
    assert summary["RootVirtualMFADevices"] == []
    assert summary["AWSSupportAccess"] == {
        "PolicyGroups": [],
        "PolicyUsers": [],
        "PolicyRoles": [],
    }
    assert set(summary["_errors"]) == {"RootCredentialReport"}


def test_password_policy_is_recorded_with_awss_field_names(aws):
    aws.client("iam").update_account_password_policy(
        MinimumPasswordLength=14, PasswordReusePrevention=24, RequireSymbols=True
    )

    record = by_type(collect("iam", session=aws))["AWS::IAM::PasswordPolicy"]
    config = record[ACCOUNT_ID].config

    assert config["Exists"] is True
    assert config["PasswordPolicy"]["MinimumPasswordLength"] == 14
    assert config["PasswordPolicy"]["PasswordReusePrevention"] == 24
    assert config["PasswordPolicy"]["RequireSymbols"] is True


def test_user_record_merges_keys_mfa_policies_certificates_and_report(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "payments"}])
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice-phone")
    serial = device["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alice",
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    ops = iam.create_policy(PolicyName="ops", PolicyDocument=READ_DOCUMENT)
    iam.attach_user_policy(UserName="alice", PolicyArn=ops["Policy"]["Arn"])
    iam.put_user_policy(
        UserName="alice", PolicyName="own", PolicyDocument=READ_DOCUMENT
    )

    record = by_type(collect("iam", session=aws))["AWS::IAM::User"]["alice"]
    config = record.config

    assert record.arn == "arn:aws:iam::123456789012:user/alice"
    assert record.tags == {"team": "payments"}
    assert [k["AccessKeyId"] for k in config["AccessKeys"]] == [key["AccessKeyId"]]
    assert config["AccessKeys"][0]["Status"] == "Active"
    assert config["AccessKeyLastUsed"] == {key["AccessKeyId"]: None}
    assert [d["SerialNumber"] for d in config["MFADevices"]] == [serial]
    assert [p["PolicyName"] for p in config["AttachedPolicies"]] == ["ops"]
    assert config["InlinePolicyNames"] == ["own"]
    assert config["SigningCertificates"] == []
    assert config["CredentialReport"]["password_enabled"] == "true"
    assert config["CredentialReport"]["mfa_active"] == "true"
    assert "_errors" not in config


def test_no_secret_material_reaches_the_config(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    iam.create_access_key(UserName="alice")
    # moto returns the seed and QR code of assigned devices from the list call.
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice-phone")
    iam.enable_mfa_device(
        UserName="alice",
        SerialNumber=device["VirtualMFADevice"]["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )

    text = json.dumps([r.config for r in collect("iam", session=aws)])

    assert "SecretAccessKey" not in text
    assert "Base32StringSeed" not in text
    assert "QRCodePNG" not in text


def test_last_used_dates_are_days_and_report_time_is_not_stored(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    key_id = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    used = datetime(2026, 11, 20, 8, 15, 42, tzinfo=UTC)
    # moto never records key use; this is AWS's documented reply shape.
    respond(
        aws,
        "GetAccessKeyLastUsed",
        {
            "UserName": "alice",
            "AccessKeyLastUsed": {
                "LastUsedDate": used,
                "ServiceName": "s3",
                "Region": "eu-west-1",
            },
        },
    )

    records = collect("iam", session=aws)
    config = by_type(records)["AWS::IAM::User"]["alice"].config

    assert config["AccessKeyLastUsed"] == {key_id: "2026-11-20"}
    assert "eu-west-1" not in json.dumps(config)
    assert "GeneratedTime" not in json.dumps([r.config for r in records])


def test_unchanged_account_gives_identical_configs_on_rescan(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    iam.create_access_key(UserName="alice")
    policy = iam.create_policy(PolicyName="ops", PolicyDocument=READ_DOCUMENT)
    iam.attach_user_policy(UserName="alice", PolicyArn=policy["Policy"]["Arn"])

    def canonical(records):
        return json.dumps(
            {(r.resource_type + r.resource_id): r.config for r in records},
            sort_keys=True,
        )

    first = canonical(collect("iam", session=aws))
    second = canonical(
        collect("iam", session=aws, now=datetime.now(UTC) + timedelta(hours=1))
    )

    assert first == second


def test_root_row_of_the_credential_report_goes_to_the_account_summary(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    alice = (
        "alice,arn:aws:iam::123456789012:user/alice,2026-01-05T09:00:00+00:00,"
        "true,2026-11-28T17:45:10+00:00,2026-01-05T09:00:00+00:00,N/A,true,"
        "true,2026-01-05T09:00:00+00:00,2026-11-27T23:59:59+00:00,us-east-1,s3,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )
    # moto's report has no <root_account> row; AWS's always does.
    respond(
        aws,
        "GetCredentialReport",
        {
            "Content": f"{REPORT_HEADER}\n{ROOT_ROW}\n{alice}\n".encode(),
            "ReportFormat": "text/csv",
            "GeneratedTime": datetime(2026, 11, 29, 4, 0, tzinfo=UTC),
        },
    )

    records = by_type(collect("iam", session=aws))
    root = records["AWS::IAM::AccountSummary"][ACCOUNT_ID].config
    row = records["AWS::IAM::User"]["alice"].config["CredentialReport"]

    assert root["RootCredentialReport"]["password_last_used"] == "2026-11-20"
    assert root["RootCredentialReport"]["mfa_active"] == "true"
    assert row["password_last_used"] == "2026-11-28"
    assert row["access_key_1_last_used_date"] == "2026-11-27"
    assert "access_key_1_last_used_service" not in row
    assert "access_key_1_last_used_region" not in row
    assert row["access_key_1_last_rotated"] == "2026-01-05T09:00:00+00:00"


def test_missing_rows_are_recorded_as_errors_not_as_clean(aws):
    aws.client("iam").create_user(UserName="newcomer")
    # A report generated before the user existed (AWS reuses one for 4 hours).
    respond(
        aws,
        "GetCredentialReport",
        {"Content": f"{REPORT_HEADER}\n".encode(), "ReportFormat": "text/csv"},
    )

    records = by_type(collect("iam", session=aws))
    user = records["AWS::IAM::User"]["newcomer"].config
    root = records["AWS::IAM::AccountSummary"][ACCOUNT_ID].config

    assert "CredentialReport" not in user
    assert "not in the credential report" in user["_errors"]["CredentialReport"]
    assert "<root_account>" in root["_errors"]["RootCredentialReport"]


def test_credential_report_wait_is_bounded(aws, monkeypatch):
    aws.client("iam").create_user(UserName="alice")
    calls = []
    # Registered before the stubbed answer, which ends the before-call chain.
    aws.events.register(
        "before-call.iam.GenerateCredentialReport", lambda **kwargs: calls.append(1)
    )
    respond(aws, "GenerateCredentialReport", {"State": "STARTED"})
    monkeypatch.setattr(iam_module, "REPORT_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(iam_module, "REPORT_FIRST_DELAY", 0.01)

    records = by_type(collect("iam", session=aws))
    errors = records["AWS::IAM::User"]["alice"].config["_errors"]

    assert "still STARTED" in errors["CredentialReport"]
    assert 2 <= len(calls) <= 10


def test_only_attached_customer_policies_with_their_default_document(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    attached = iam.create_policy(PolicyName="admin", PolicyDocument=ADMIN_DOCUMENT)
    iam.create_policy(PolicyName="unused", PolicyDocument=ADMIN_DOCUMENT)
    iam.attach_user_policy(UserName="alice", PolicyArn=attached["Policy"]["Arn"])

    policies = by_type(collect("iam", session=aws))["AWS::IAM::Policy"]

    assert set(policies) == {"admin"}
    version = policies["admin"].config["DefaultVersion"]
    assert version["VersionId"] == "v1"
    assert version["Document"]["Statement"][0]["Action"] == "*"


def test_url_encoded_policy_documents_are_decoded():
    encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D"

    document = iam_module.decode_policy_document(encoded)

    assert document == {"Statement": [{"Effect": "Allow"}]}


def test_managed_policy_attachments_are_recorded(aws_managed_policies):
    aws = aws_managed_policies
    iam = aws.client("iam")
    iam.create_role(RoleName="support", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(
        RoleName="support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess"
    )
    iam.create_user(UserName="dev")
    iam.attach_user_policy(
        UserName="dev", PolicyArn="arn:aws:iam::aws:policy/AWSCloudShellFullAccess"
    )

    summary = by_type(collect("iam", session=aws))["AWS::IAM::AccountSummary"]
    config = summary[ACCOUNT_ID].config

    support = config["AWSSupportAccess"]
    assert [r["RoleName"] for r in support["PolicyRoles"]] == ["support"]
    assert support["PolicyUsers"] == support["PolicyGroups"] == []
    users = config["AWSCloudShellFullAccess"]["PolicyUsers"]
    assert [u["UserName"] for u in users] == ["dev"]


def test_managed_policy_missing_from_the_partition_is_absent_not_an_error(aws):
    # AWS answers NoSuchEntity for a policy ARN that does not exist (moto
    # answers with empty lists instead).
    deny(aws, "iam", "ListEntitiesForPolicy", code="NoSuchEntity")

    summary = by_type(collect("iam", session=aws))["AWS::IAM::AccountSummary"]
    config = summary[ACCOUNT_ID].config

    assert config["AWSSupportAccess"] is None
    assert config["AWSCloudShellFullAccess"] is None
    assert set(config["_errors"]) == {"RootCredentialReport"}


def test_server_certificates_are_recorded(aws):
    # moto ignores the certificate body (any text is accepted here).
    aws.client("iam").upload_server_certificate(
        ServerCertificateName="www", CertificateBody="body", PrivateKey="key"
    )

    certs = by_type(collect("iam", session=aws))["AWS::IAM::ServerCertificate"]

    assert set(certs) == {"www"}
    assert certs["www"].arn == "arn:aws:iam::123456789012:server-certificate/www"
    assert "Expiration" in certs["www"].config


def test_policies_are_collected_across_pages(aws):
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    for n in range(5):
        policy = iam.create_policy(PolicyName=f"p{n}", PolicyDocument=READ_DOCUMENT)
        iam.attach_user_policy(UserName="alice", PolicyArn=policy["Policy"]["Arn"])
    requests = []

    def two_per_page(params, **kwargs):
        params["MaxItems"] = 2

    aws.events.register("provide-client-params.iam.ListPolicies", two_per_page)
    aws.events.register(
        "before-call.iam.ListPolicies", lambda **kwargs: requests.append(1)
    )

    policies = by_type(collect("iam", session=aws))["AWS::IAM::Policy"]

    assert set(policies) == {f"p{n}" for n in range(5)}
    assert len(requests) == 3


def test_denied_user_listing_fails_the_unit(aws):
    aws.client("iam").create_user(UserName="alice")
    deny(aws, "iam", "ListUsers")

    with pytest.raises(ClientError):
        collect("iam", session=aws)


def test_denied_sub_calls_are_recorded_on_the_record(aws):
    aws.client("iam").create_user(UserName="alice")
    deny(aws, "iam", "ListAccessKeys")
    deny(aws, "iam", "GetAccountPasswordPolicy")

    records = by_type(collect("iam", session=aws))
    user = records["AWS::IAM::User"]["alice"].config
    policy = records["AWS::IAM::PasswordPolicy"][ACCOUNT_ID].config

    assert user["_errors"]["AccessKeys"].startswith("access_denied")
    assert "AccessKeys" not in user
    assert "MFADevices" in user
    assert policy["_errors"]["PasswordPolicy"].startswith("access_denied")
    assert "Exists" not in policy
