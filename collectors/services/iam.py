"""IAM: users, credential report, password policy, account summary, policies.

IAM is global, so this collector runs once per account. Account-level settings
are pseudo-resources of their own type (``AWS::IAM::PasswordPolicy`` and
``AWS::IAM::AccountSummary``, both with the account id as resource id) so that
every IAM control is a predicate over one record. The account summary also
lists the SAML and OIDC identity providers and the IAM Identity Center
instances, for the federation control.

Snapshot stability: values that move every time a credential is used are
reduced to a UTC date (last-used times) or dropped (the region and service a
key was last used from), and the credential report's generation time is never
stored.
"""

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from botocore.client import BaseClient

from accounts.aws_errors import ErrorKind
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

USER = "AWS::IAM::User"
POLICY = "AWS::IAM::Policy"
SERVER_CERTIFICATE = "AWS::IAM::ServerCertificate"
PASSWORD_POLICY = "AWS::IAM::PasswordPolicy"
ACCOUNT_SUMMARY = "AWS::IAM::AccountSummary"

ROOT_ROW = "<root_account>"
# AWS managed policies whose attachments CIS asks about (1.17 and 1.22).
WATCHED_MANAGED_POLICIES = ("AWSSupportAccess", "AWSCloudShellFullAccess")

SAML_FIELDS = ("Arn", "CreateDate", "ValidUntil")
SSO_FIELDS = ("InstanceArn", "OwnerAccountId", "Status", "PrimaryRegion")

# Credential-report columns that change whenever a credential is used. The
# last-used times are kept as dates; where they were used from is dropped.
REPORT_LAST_USED = (
    "password_last_used",
    "access_key_1_last_used_date",
    "access_key_2_last_used_date",
)
REPORT_DROPPED = (
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
)

# AWS builds a report in seconds; give up well inside a unit's time budget.
REPORT_WAIT_SECONDS = 60.0
REPORT_FIRST_DELAY = 0.25
REPORT_MAX_DELAY = 5.0


def utc_day(value: datetime | None) -> str | None:
    """A timestamp reduced to its UTC date, so daily use is one change a day."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).date().isoformat()


def _report_day(text: str) -> str:
    """A credential-report timestamp as a date; markers such as N/A unchanged."""
    try:
        return utc_day(datetime.fromisoformat(text)) or text
    except ValueError:
        return text


def parse_credential_report(content: bytes | str) -> dict[str, dict[str, str]]:
    """Rows of the credential report CSV keyed by user name, made stable."""
    if isinstance(content, bytes):
        content = content.decode("utf-8")
    rows: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(content)):
        for column in REPORT_DROPPED:
            row.pop(column, None)
        for column in REPORT_LAST_USED:
            if column in row:
                row[column] = _report_day(row[column])
        rows[row["user"]] = row
    return rows


def decode_policy_document(document: Any) -> Any:
    """The policy document as JSON.

    boto3 decodes IAM documents itself; the raw API returns them URL-encoded,
    so accept that shape too.
    """
    if isinstance(document, str):
        try:
            return json.loads(unquote(document))
        except ValueError:
            return document
    return document


@register
class IAMCollector(Collector):
    service = "iam"
    is_global = True
    resource_types = (
        PASSWORD_POLICY,
        ACCOUNT_SUMMARY,
        USER,
        POLICY,
        SERVER_CERTIFICATE,
    )

    def collect(self) -> Iterator[ResourceRecord]:
        iam = self.client("iam")
        yield self._password_policy(iam)
        # Held for the whole run: each user's row is merged into its record.
        report_errors: dict[str, str] = {}
        report = self._credential_report(iam, report_errors)
        yield self._account_summary(iam, report, report_errors)
        yield from self._users(iam, report, report_errors)
        yield from self._policies(iam)
        yield from self._server_certificates(iam)

    # -- helpers -------------------------------------------------------------

    def _all_pages(self, client: BaseClient, operation: str, **kwargs: Any) -> dict:
        """Every page of a paginated sub-call, merged (used via ``optional``)."""
        paginator = client.get_paginator(operation)
        return paginator.paginate(**kwargs).build_full_result()

    def _record(
        self,
        resource_type: str,
        resource_id: str,
        config: dict,
        errors: dict[str, str],
        **fields: Any,
    ) -> ResourceRecord:
        if errors:
            config[ERRORS_KEY] = dict(errors)
        return ResourceRecord(resource_type, resource_id, config, **fields)

    # -- account level -------------------------------------------------------

    def _password_policy(self, iam: BaseClient) -> ResourceRecord:
        errors: dict[str, str] = {}
        response = self.optional(
            errors,
            "PasswordPolicy",
            iam.get_account_password_policy,
            absent=("NoSuchEntity",),
        )
        config: dict[str, Any] = {}
        if response is not None:
            config = {
                "Exists": True,
                "PasswordPolicy": to_jsonable(response["PasswordPolicy"]),
            }
        elif not errors:
            config = {"Exists": False}
        return self._record(
            PASSWORD_POLICY,
            self.account_id,
            config,
            errors,
            name="IAM password policy",
        )

    def _credential_report(
        self, iam: BaseClient, errors: dict[str, str]
    ) -> dict[str, dict[str, str]] | None:
        """The report's rows by user name, or None with the reason in ``errors``.

        generate_credential_report starts a report (or reuses one under four
        hours old) and is polled until it says COMPLETE, for a bounded time.
        """
        key = "CredentialReport"
        deadline = time.monotonic() + REPORT_WAIT_SECONDS
        delay = REPORT_FIRST_DELAY
        while True:
            started = self.optional(errors, key, iam.generate_credential_report)
            if started is None:
                return None
            state = started.get("State")
            if state == "COMPLETE":
                break
            if time.monotonic() + delay > deadline:
                errors[key] = (
                    f"{ErrorKind.OTHER}: credential report still {state} after "
                    f"{REPORT_WAIT_SECONDS:.0f} s"
                )
                return None
            time.sleep(delay)
            delay = min(delay * 2, REPORT_MAX_DELAY)
        response = self.optional(errors, key, iam.get_credential_report)
        if response is None:
            return None
        # GeneratedTime is left out on purpose: it changes on every regeneration.
        return parse_credential_report(response["Content"])

    def _account_summary(
        self,
        iam: BaseClient,
        report: dict[str, dict[str, str]] | None,
        report_errors: dict[str, str],
    ) -> ResourceRecord:
        errors: dict[str, str] = {}
        config: dict[str, Any] = {}

        summary = self.optional(errors, "SummaryMap", iam.get_account_summary)
        if summary is not None:
            config["SummaryMap"] = to_jsonable(summary["SummaryMap"])

        devices = self.optional(
            errors,
            "RootVirtualMFADevices",
            self._all_pages,
            client=iam,
            operation="list_virtual_mfa_devices",
            AssignmentStatus="Assigned",
        )
        if devices is not None:
            config["RootVirtualMFADevices"] = [
                self._root_mfa_device(device)
                for device in devices.get("VirtualMFADevices", [])
                if device.get("User", {}).get("Arn", "").endswith(":root")
            ]

        key = "RootCredentialReport"
        if report is None:
            errors[key] = report_errors["CredentialReport"]
        elif ROOT_ROW in report:
            config[key] = report[ROOT_ROW]
        else:
            # AWS always lists the root user; an absent row is unknown, not clean.
            errors[key] = f"{ErrorKind.OTHER}: credential report has no {ROOT_ROW} row"

        partition = self.session.get_partition_for_region(self.client_region)
        for policy_name in WATCHED_MANAGED_POLICIES:
            entities = self.optional(
                errors,
                policy_name,
                self._all_pages,
                absent=("NoSuchEntity",),
                client=iam,
                operation="list_entities_for_policy",
                PolicyArn=f"arn:{partition}:iam::aws:policy/{policy_name}",
            )
            if entities is not None:
                config[policy_name] = {
                    kind: to_jsonable(entities.get(kind, []))
                    for kind in ("PolicyGroups", "PolicyUsers", "PolicyRoles")
                }
            elif policy_name not in errors:
                # The policy does not exist here (e.g. another partition).
                config[policy_name] = None

        self._federation(iam, config, errors)
        return self._record(
            ACCOUNT_SUMMARY,
            self.account_id,
            config,
            errors,
            arn=f"arn:{partition}:iam::{self.account_id}:root",
            name="IAM account summary (root user)",
        )

    def _federation(
        self, iam: BaseClient, config: dict[str, Any], errors: dict[str, str]
    ) -> None:
        """Identity providers and IAM Identity Center instances (CIS 1.21)."""
        saml = self.optional(errors, "SAMLProviders", iam.list_saml_providers)
        if saml is not None:
            config["SAMLProviders"] = sorted(
                (_fields(p, SAML_FIELDS) for p in saml.get("SAMLProviderList", [])),
                key=lambda p: p["Arn"],
            )
        oidc = self.optional(
            errors, "OpenIDConnectProviders", iam.list_open_id_connect_providers
        )
        if oidc is not None:
            config["OpenIDConnectProviders"] = sorted(
                p["Arn"] for p in oidc.get("OpenIDConnectProviderList", [])
            )
        # An instance lives in its home region only; ALL_REGIONS finds it
        # from here in one call.
        instances = self.optional(
            errors,
            "IdentityCenterInstances",
            self._all_pages,
            client=self.client("sso-admin"),
            operation="list_instances",
            RegionScope="ALL_REGIONS",
        )
        if instances is not None:
            config["IdentityCenterInstances"] = sorted(
                (_fields(i, SSO_FIELDS) for i in instances.get("Instances", [])),
                key=lambda i: i["InstanceArn"],
            )

    @staticmethod
    def _root_mfa_device(device: dict) -> dict:
        # Only the identifying fields: the embedded User carries the root
        # user's PasswordLastUsed (changes on every sign-in), and simulators
        # even return the seed and QR code.
        return to_jsonable(
            {
                "SerialNumber": device.get("SerialNumber"),
                "EnableDate": device.get("EnableDate"),
                "User": {"Arn": device.get("User", {}).get("Arn")},
            }
        )

    # -- users ---------------------------------------------------------------

    def _users(
        self,
        iam: BaseClient,
        report: dict[str, dict[str, str]] | None,
        report_errors: dict[str, str],
    ) -> Iterator[ResourceRecord]:
        for user in self.paginate(iam, "list_users", "Users"):
            record = self._user(iam, user, report, report_errors)
            if record is not None:
                yield record

    def _user(
        self,
        iam: BaseClient,
        user: dict,
        report: dict[str, dict[str, str]] | None,
        report_errors: dict[str, str],
    ) -> ResourceRecord | None:
        name = user["UserName"]
        errors: dict[str, str] = {}
        config = to_jsonable(user)
        if "PasswordLastUsed" in user:
            config["PasswordLastUsed"] = utc_day(user["PasswordLastUsed"])

        keys = self.optional(
            errors,
            "AccessKeys",
            self._all_pages,
            absent=("NoSuchEntity",),
            client=iam,
            operation="list_access_keys",
            UserName=name,
        )
        if keys is None and "AccessKeys" not in errors:
            return None  # deleted since list_users; the next scan agrees
        if keys is not None:
            metadata = keys.get("AccessKeyMetadata", [])
            config["AccessKeys"] = [
                to_jsonable(
                    {
                        "AccessKeyId": key["AccessKeyId"],
                        "Status": key["Status"],
                        "CreateDate": key["CreateDate"],
                    }
                )
                for key in metadata
            ]
            config["AccessKeyLastUsed"] = self._keys_last_used(iam, metadata, errors)

        mfa = self.optional(
            errors,
            "MFADevices",
            self._all_pages,
            client=iam,
            operation="list_mfa_devices",
            UserName=name,
        )
        if mfa is not None:
            config["MFADevices"] = [
                to_jsonable(
                    {"SerialNumber": d["SerialNumber"], "EnableDate": d["EnableDate"]}
                )
                for d in mfa.get("MFADevices", [])
            ]

        attached = self.optional(
            errors,
            "AttachedPolicies",
            self._all_pages,
            client=iam,
            operation="list_attached_user_policies",
            UserName=name,
        )
        if attached is not None:
            config["AttachedPolicies"] = to_jsonable(
                attached.get("AttachedPolicies", [])
            )

        inline = self.optional(
            errors,
            "InlinePolicyNames",
            self._all_pages,
            client=iam,
            operation="list_user_policies",
            UserName=name,
        )
        if inline is not None:
            config["InlinePolicyNames"] = list(inline.get("PolicyNames", []))

        certificates = self.optional(
            errors,
            "SigningCertificates",
            self._all_pages,
            client=iam,
            operation="list_signing_certificates",
            UserName=name,
        )
        if certificates is not None:
            # The PEM body is left out: large, and the id identifies it.
            config["SigningCertificates"] = [
                to_jsonable(
                    {
                        "CertificateId": c["CertificateId"],
                        "Status": c["Status"],
                        "UploadDate": c.get("UploadDate"),
                    }
                )
                for c in certificates.get("Certificates", [])
            ]

        if report is None:
            errors["CredentialReport"] = report_errors["CredentialReport"]
        elif name in report:
            config["CredentialReport"] = report[name]
        else:
            # AWS reuses a report for up to four hours, so a user created since
            # then has no row yet: unknown, not clean.
            errors["CredentialReport"] = (
                f"{ErrorKind.OTHER}: user is not in the credential report yet "
                "(AWS regenerates it at most every 4 hours)"
            )

        tags = self.optional(
            errors,
            "Tags",
            self._all_pages,
            client=iam,
            operation="list_user_tags",
            UserName=name,
        )
        return self._record(
            USER,
            name,
            config,
            errors,
            arn=user.get("Arn", ""),
            name=name,
            tags=_tag_dict(tags),
        )

    def _keys_last_used(
        self, iam: BaseClient, keys: list[dict], errors: dict[str, str]
    ) -> dict[str, str | None]:
        """Access key id → UTC date of last use (None: never used)."""
        last_used: dict[str, str | None] = {}
        for key in keys:
            key_id = key["AccessKeyId"]
            response = self.optional(
                errors,
                "AccessKeyLastUsed",
                iam.get_access_key_last_used,
                AccessKeyId=key_id,
            )
            if response is not None:
                used = response.get("AccessKeyLastUsed", {}).get("LastUsedDate")
                last_used[key_id] = utc_day(used)
        return last_used

    # -- policies and certificates -------------------------------------------

    def _policies(self, iam: BaseClient) -> Iterator[ResourceRecord]:
        # Attached customer-managed policies only (CIS 1.16 scope): unattached
        # ones grant nothing, and AWS managed ones are AWS's to maintain.
        for policy in self.paginate(
            iam, "list_policies", "Policies", Scope="Local", OnlyAttached=True
        ):
            errors: dict[str, str] = {}
            config = to_jsonable(policy)
            version = self.optional(
                errors,
                "DefaultVersion",
                iam.get_policy_version,
                PolicyArn=policy["Arn"],
                VersionId=policy["DefaultVersionId"],
            )
            if version is not None:
                detail = version["PolicyVersion"]
                config["DefaultVersion"] = to_jsonable(
                    {
                        "VersionId": detail.get("VersionId"),
                        "CreateDate": detail.get("CreateDate"),
                        "Document": decode_policy_document(detail.get("Document")),
                    }
                )
            tags = self.optional(
                errors,
                "Tags",
                self._all_pages,
                client=iam,
                operation="list_policy_tags",
                PolicyArn=policy["Arn"],
            )
            yield self._record(
                POLICY,
                policy["PolicyName"],
                config,
                errors,
                arn=policy["Arn"],
                name=policy["PolicyName"],
                tags=_tag_dict(tags),
            )

    def _server_certificates(self, iam: BaseClient) -> Iterator[ResourceRecord]:
        # No tags: list_server_certificate_tags would cost a call per
        # certificate and the simulator does not implement it.
        for metadata in self.paginate(
            iam, "list_server_certificates", "ServerCertificateMetadataList"
        ):
            name = metadata["ServerCertificateName"]
            yield ResourceRecord(
                SERVER_CERTIFICATE,
                name,
                to_jsonable(metadata),
                arn=metadata.get("Arn", ""),
                name=name,
            )


def _fields(item: dict, fields: tuple[str, ...]) -> dict:
    return to_jsonable({k: item[k] for k in fields if k in item})


def _tag_dict(response: dict | None) -> dict[str, str]:
    if not response:
        return {}
    return {tag["Key"]: tag["Value"] for tag in response.get("Tags", [])}
