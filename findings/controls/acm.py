"""AWS Certificate Manager controls: renewal before expiry, key strength.

X.509 certificates carry a public key plus metadata; TLS to load balancers,
CloudFront and API Gateway rests on the ACM certificates attached to them.
"""

from datetime import UTC, datetime
from typing import Any

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SECTION = "account-security/x509-certificates"
CERTIFICATE = "AWS::CertificateManager::Certificate"

RENEWAL_MARGIN_DAYS = 30
STRONG_KEY_ALGORITHMS = frozenset(
    {
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "EC_prime256v1",
        "EC_secp384r1",
        "EC_secp521r1",
    }
)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _value(r: ResourceView, key: str) -> Any:
    """A certificate field from the listing or, failing that, the description."""
    if key in r.config:
        return r.config[key]
    r.field("Certificate")  # ERROR when describe_certificate failed
    raise NotEvaluable(f"ACM returned no {key}")


def _users(r: ResourceView) -> list[str] | None:
    """The resources using the certificate; None when only the flag is known."""
    if "InUseBy" in r.config:
        return list(r.config["InUseBy"])
    if _value(r, "InUse"):
        return None
    return []


@control(
    id="acm.certificate.not-expiring",
    title="ACM certificates are renewed before expiry",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CERTIFICATE,
    rationale=(
        "SSL/TLS protects data in transit only while the certificate is valid; "
        "an expired certificate breaks every connection to the resources using "
        "it or trains users to click through warnings. ACM renews the "
        "certificates it issued; imported ones must be replaced by hand."
    ),
    remediation=(
        "ACM console → List certificates → choose the certificate → for an "
        "Amazon issued certificate fix the domain validation (DNS CNAME record) "
        "that blocks renewal; for an imported one, Reimport certificate with "
        "the renewed certificate, key and chain."
    ),
    remediation_cli=(
        "aws acm import-certificate --certificate-arn <certificate-arn> "
        "--certificate fileb://cert.pem --private-key fileb://key.pem "
        "--certificate-chain fileb://chain.pem"
    ),
    security_hub=("ACM.1",),
)
def certificate_not_expiring(r: ResourceView, ctx: Context) -> Result:
    users = _users(r)
    if users == []:
        return not_applicable("not in use by any AWS resource")
    using = f"in use by {users[0]}" if users else "in use"
    if users and len(users) > 1:
        using += f" and {len(users) - 1} more"
    status = _value(r, "Status")
    if status not in ("ISSUED", "EXPIRED"):
        return not_applicable(f"status is {status}, not an issued certificate")
    not_after = _moment(_value(r, "NotAfter"))
    if not_after is None:
        raise NotEvaluable("the certificate has no NotAfter date")
    days = (not_after - ctx.now).days
    expiry = not_after.date().isoformat()
    if status == "EXPIRED" or not_after <= ctx.now:
        return failed(f"expired on {expiry} and still {using}")
    if days > RENEWAL_MARGIN_DAYS:
        return passed(f"valid until {expiry} ({days} days)")
    renewal = (
        "; imported certificates are not renewed by ACM"
        if r.config.get("Type") == "IMPORTED"
        else ""
    )
    return failed(f"expires on {expiry}, in {days} days, and is {using}{renewal}")


@control(
    id="acm.certificate.strong-key",
    title="ACM certificates use RSA-2048+ or ECDSA keys",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=CERTIFICATE,
    rationale=(
        "A certificate is only as strong as its key: RSA keys under 2,048 bits "
        "can be factored with affordable computing power, which lets an "
        "attacker impersonate the site and read its TLS traffic."
    ),
    remediation=(
        "ACM console → Request a certificate (or import one) with key algorithm "
        "RSA 2048 or stronger or ECDSA P-256/P-384 → attach it to the load "
        "balancers or distributions using the weak one → delete the weak one."
    ),
    remediation_cli=(
        "aws acm request-certificate --domain-name <domain> "
        "--validation-method DNS --key-algorithm EC_prime256v1"
    ),
    security_hub=("ACM.2",),
)
def certificate_strong_key(r: ResourceView, ctx: Context) -> Result:
    algorithm = _value(r, "KeyAlgorithm")
    if algorithm in STRONG_KEY_ALGORITHMS:
        return passed(f"key algorithm is {algorithm}")
    return failed(f"key algorithm is {algorithm}, weaker than RSA-2048 or ECDSA")
