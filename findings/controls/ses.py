"""Amazon SES controls: verified identities, DKIM, and a custom MAIL FROM domain.

The whitepaper's SES notes: AWS scans mail for malware and runs complaint
feedback loops (AWS's side); customers prove they own the addresses and
domains they send from, through DNS, and use SPF and DKIM (checkable).
"""

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

SECTION = "service/app-integration/ses"
IDENTITY = "AWS::SES::EmailIdentity"
SUCCESS = "Success"


def _attributes(r: ResourceView, key: str) -> dict:
    attributes = r.field(key)
    if attributes is None:
        # SES answers for every identity it still has; none means it was
        # deleted while the scan ran.
        raise NotEvaluable(f"SES returned no {key} for {r.resource_id}")
    return attributes


def _is_domain(r: ResourceView) -> bool:
    return r.config.get("IdentityType") == "Domain"


@control(
    id="ses.identity.verified",
    title="All SES identities are verified",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=IDENTITY,
    rationale=(
        "SES sends only from addresses and domains whose ownership was proven "
        "through email or DNS. An identity stuck unverified, or whose "
        "verification failed, points at a DNS record that was removed or "
        "never published, and mail from it is rejected."
    ),
    remediation=(
        "SES console → Identities → choose the identity → for a domain, "
        "publish the shown DNS records (or Easy DKIM CNAMEs) at your DNS "
        "provider; for an address, resend and follow the verification email. "
        "Delete identities that are no longer used."
    ),
    remediation_cli="aws ses verify-domain-identity --domain <domain>",
)
def identity_verified(r: ResourceView, ctx: Context) -> Result:
    status = _attributes(r, "VerificationAttributes").get("VerificationStatus")
    if status == SUCCESS:
        return passed("verification status is Success")
    return failed(f"verification status is {status or 'not reported'}")


@control(
    id="ses.domain.dkim",
    title="Domain identities sign with DKIM",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=IDENTITY,
    rationale=(
        "DKIM signs each message with a key published in the domain's DNS, so "
        "receivers can prove mail really came from the domain and was not "
        "altered; without it, spoofed mail is harder to reject."
    ),
    remediation=(
        "SES console → Identities → choose the domain → Authentication → "
        "DomainKeys Identified Mail (DKIM) → Edit → Easy DKIM → publish the "
        "three CNAME records at your DNS provider → DKIM signatures Enabled → "
        "Save."
    ),
    remediation_cli=(
        "aws ses verify-domain-dkim --domain <domain> && aws ses "
        "set-identity-dkim-enabled --identity <domain> --dkim-enabled"
    ),
)
def domain_dkim(r: ResourceView, ctx: Context) -> Result:
    if not _is_domain(r):
        return not_applicable("email-address identity: DKIM is set on its domain")
    dkim = _attributes(r, "DkimAttributes")
    status = dkim.get("DkimVerificationStatus") or "not reported"
    if not dkim.get("DkimEnabled"):
        return failed(f"DKIM signing is disabled (DKIM verification {status})")
    if status != SUCCESS:
        return failed(f"DKIM is enabled but its DNS records verify as {status}")
    return passed("DKIM signing is enabled and verified")


@control(
    id="ses.domain.custom-mail-from",
    title="Domain identities use a verified custom MAIL FROM (SPF-aligned)",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=IDENTITY,
    rationale=(
        "With a custom MAIL FROM subdomain of the sending domain, the SPF "
        "check is made against the customer's own domain and aligns with it "
        "for DMARC, instead of passing only for amazonses.com."
    ),
    remediation=(
        "SES console → Identities → choose the domain → Custom MAIL FROM "
        "domain → Edit → Use a custom MAIL FROM domain (e.g. mail.<domain>) → "
        "publish the shown MX and SPF TXT records → Save."
    ),
    remediation_cli=(
        "aws ses set-identity-mail-from-domain --identity <domain> "
        "--mail-from-domain mail.<domain>"
    ),
)
def domain_custom_mail_from(r: ResourceView, ctx: Context) -> Result:
    if not _is_domain(r):
        return not_applicable("email-address identity: MAIL FROM is set on its domain")
    mail_from = _attributes(r, "MailFromDomainAttributes")
    domain = mail_from.get("MailFromDomain")
    status = mail_from.get("MailFromDomainStatus") or "not reported"
    if not domain:
        return failed("no custom MAIL FROM domain: mail is sent from amazonses.com")
    if status != SUCCESS:
        return failed(f"custom MAIL FROM domain {domain} has status {status}")
    return passed(f"custom MAIL FROM domain {domain} is verified")
