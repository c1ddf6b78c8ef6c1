"""AWS Certificate Manager: the certificates of each region, with their details.

``list_certificates`` returns only RSA_1024 and RSA_2048 certificates unless
asked for every key type, which would hide exactly the certificates a
key-strength control must compare; so every key type is requested. Each
certificate's summary is merged with ``describe_certificate`` (same field
names), which adds the resources using it (InUseBy). When that call fails,
the summary (key algorithm, expiry, status, in-use flag) is still stored and
the failure recorded under ``Certificate``.
"""

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

CERTIFICATE = "AWS::CertificateManager::Certificate"

# Every KeyAlgorithm ACM knows (list_certificates Includes.keyTypes).
KEY_TYPES = [
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
]


@register
class ACMCollector(Collector):
    service = "acm"
    resource_types = (CERTIFICATE,)

    def collect(self) -> Iterator[ResourceRecord]:
        acm = self.client("acm")
        summaries = self.paginate(
            acm,
            "list_certificates",
            "CertificateSummaryList",
            Includes={"keyTypes": KEY_TYPES},
        )
        for summary in summaries:
            record = self._certificate(acm, summary)
            if record is not None:
                yield record

    def _certificate(self, acm: BaseClient, summary: dict) -> ResourceRecord | None:
        arn = summary["CertificateArn"]
        errors: dict[str, str] = {}
        described = self.optional(
            errors,
            "Certificate",
            acm.describe_certificate,
            absent=("ResourceNotFoundException",),
            CertificateArn=arn,
        )
        if described is None and not errors:
            return None  # deleted between the listing and now
        config: dict[str, Any] = to_jsonable(summary)
        config.update(to_jsonable((described or {}).get("Certificate", {})))
        # UpdatedAt moves while ACM retries a renewal; the status says enough.
        (config.get("RenewalSummary") or {}).pop("UpdatedAt", None)
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=CERTIFICATE,
            resource_id=arn,
            config=config,
            arn=arn,
            name=config.get("DomainName", ""),
        )
