"""AWS Support: the results of the Trusted Advisor security checks.

One ``AWS::TrustedAdvisor::SecurityChecks`` record per account (the Support
API has a single endpoint, so the collector is global) with, for every check
of category "security", its id, name and status. Accounts on the Basic or
Developer support plan get SubscriptionRequiredException from the Support
API; the record then says so (``SubscriptionRequired``) and the control is
not evaluable there, never a pass.

Snapshot stability: only the status and the number of flagged resources are
kept; the result's timestamp and the flagged resources themselves change
with every Trusted Advisor refresh.
"""

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from accounts.aws_errors import error_code
from collectors.base import ERRORS_KEY, Collector, ResourceRecord, register

TRUSTED_ADVISOR = "AWS::TrustedAdvisor::SecurityChecks"
SECURITY_CATEGORY = "security"
LANGUAGE = "en"
SUBSCRIPTION_REQUIRED = "SubscriptionRequiredException"


@register
class SupportCollector(Collector):
    service = "support"
    is_global = True
    resource_types = (TRUSTED_ADVISOR,)

    def collect(self) -> Iterator[ResourceRecord]:
        support = self.client("support")
        errors: dict[str, str] = {}
        try:
            listing = support.describe_trusted_advisor_checks(language=LANGUAGE)
        except ClientError as exc:
            # Basic and Developer plans get this answer: a fact about the
            # account, recorded. Any other failure fails the unit.
            if error_code(exc) != SUBSCRIPTION_REQUIRED:
                raise
            listing = None
        config: dict[str, Any] = {
            "SubscriptionRequired": listing is None,
            "Checks": None,
        }
        if listing is not None:
            checks = sorted(
                (
                    c
                    for c in listing.get("checks", [])
                    if c.get("category") == SECURITY_CATEGORY
                ),
                key=lambda c: c["id"],
            )
            config["Checks"] = self._results(support, checks, errors)
        if errors:
            config[ERRORS_KEY] = errors
        yield ResourceRecord(
            resource_type=TRUSTED_ADVISOR,
            resource_id=self.account_id,
            config=config,
            name="Trusted Advisor security checks",
        )

    def _results(
        self, support: BaseClient, checks: list[dict], errors: dict[str, str]
    ) -> list[dict]:
        results = []
        for check in checks:
            entry: dict[str, Any] = {"id": check["id"], "name": check.get("name", "")}
            response = None
            if "CheckResults" not in errors:
                response = self.optional(
                    errors,
                    "CheckResults",
                    support.describe_trusted_advisor_check_result,
                    checkId=check["id"],
                    language=LANGUAGE,
                )
            # After one failure the rest are not asked: a denial or an
            # endpoint without the call fails them all the same way, each
            # after its retries. Their status stays unknown (None).
            result = (response or {}).get("result") or {}
            entry["status"] = result.get("status")
            summary = result.get("resourcesSummary") or {}
            if "resourcesFlagged" in summary:
                entry["resourcesFlagged"] = summary["resourcesFlagged"]
            results.append(entry)
        return results
