"""Amazon Route 53 controls: DNS query logs, DNSSEC, domains, failover health.

The whitepaper's Route 53 notes: highly available DNS with latency, geo and
weighted routing; domain registration with privacy protection; and health
checks that fail traffic over to a backup when the primary is unhealthy.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SECTION = "service/networking/route53"
HOSTED_ZONE = "AWS::Route53::HostedZone"
RECORD_SET = "AWS::Route53::RecordSet"
DOMAIN = "AWS::Route53Domains::Domain"

TRANSFER_LOCK_STATUS = "clientTransferProhibited"
PRIVACY_FIELDS = ("AdminPrivacy", "RegistrantPrivacy", "TechPrivacy")


def _is_private(r: ResourceView) -> bool:
    return bool((r.config.get("Config") or {}).get("PrivateZone"))


@control(
    id="route53.zone.query-logging",
    title="Public hosted zones log DNS queries",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=HOSTED_ZONE,
    rationale=(
        "User-activity logging is a feature to always configure. DNS query "
        "logs show who resolves which names in a public zone, which reveals "
        "reconnaissance, data exfiltration over DNS and misrouted traffic."
    ),
    remediation=(
        "Route 53 console → Hosted zones → choose the public zone → Query "
        "logging → Configure query logging → choose or create a CloudWatch "
        "Logs log group in us-east-1 (/aws/route53/<zone name>) → Create."
    ),
    remediation_cli=(
        "aws route53 create-query-logging-config --hosted-zone-id <zone-id> "
        "--cloud-watch-logs-log-group-arn "
        "arn:aws:logs:us-east-1:<account-id>:log-group:/aws/route53/<zone>"
    ),
    security_hub=("Route53.2",),
)
def zone_query_logging(r: ResourceView, ctx: Context) -> Result:
    if _is_private(r):
        return not_applicable(
            "private zone: Route 53 query logging is for public zones"
        )
    configs = r.field("QueryLoggingConfigs") or []
    if configs:
        arn = str(configs[0].get("CloudWatchLogsLogGroupArn", "?"))
        group = arn.split(":log-group:")[-1].removesuffix(":*")
        return passed(f"DNS queries are logged to log group {group}")
    return failed("no query logging configuration for this public zone")


@control(
    id="route53.zone.dnssec-signing",
    title="Public hosted zones are DNSSEC-signed",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=HOSTED_ZONE,
    rationale=(
        "Without DNSSEC, resolvers cannot tell a genuine answer for the zone "
        "from a spoofed or cache-poisoned one, so clients can be sent to an "
        "attacker's servers under the organisation's names."
    ),
    remediation=(
        "Route 53 console → Hosted zones → choose the public zone → DNSSEC "
        "signing → Enable DNSSEC signing → create a key-signing key backed by "
        "a customer managed KMS key in us-east-1 → Create KSK and enable "
        "signing; then add the DS record at the parent zone or registrar."
    ),
    remediation_cli=(
        "aws route53 create-key-signing-key --hosted-zone-id <zone-id> "
        "--key-management-service-arn <kms-key-arn> --name main-ksk "
        "--status ACTIVE --caller-reference <unique> && "
        "aws route53 enable-hosted-zone-dnssec --hosted-zone-id <zone-id>"
    ),
)
def zone_dnssec_signing(r: ResourceView, ctx: Context) -> Result:
    if _is_private(r):
        return not_applicable("private zone: DNSSEC signing is for public zones")
    dnssec = r.field("DNSSEC") or {}
    status = (dnssec.get("Status") or {}).get("ServeSignature") or "unknown"
    if status == "SIGNING":
        return passed("DNSSEC ServeSignature is SIGNING")
    return failed(f"DNSSEC ServeSignature is {status}")


@control(
    id="route53.failover-health-checks",
    title="Failover primary records have health checks",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=RECORD_SET,
    rationale=(
        "Route 53 fails traffic over to the secondary only when a health check "
        "reports the primary unhealthy; a primary record without one (or, for "
        "an alias, without Evaluate target health) is always treated as "
        "healthy, so the backup is never used."
    ),
    remediation=(
        "Route 53 console → Health checks → Create health check for the "
        "primary endpoint; then Hosted zones → choose the zone → select the "
        "PRIMARY failover record → Edit record → Health check ID: the new "
        "check → Save."
    ),
    remediation_cli=(
        "aws route53 change-resource-record-sets --hosted-zone-id <zone-id> "
        "--change-batch file://upsert-primary-with-health-check.json"
    ),
)
def failover_health_checks(r: ResourceView, ctx: Context) -> Result:
    role = r.config.get("Failover")
    if role != "PRIMARY":
        return not_applicable(
            f"{role or 'non-failover'} record: no health check needed"
        )
    check = r.config.get("HealthCheckId")
    if check:
        return passed(f"PRIMARY record is health-checked by {check}")
    # An alias record can take its target's health instead of a health check
    # of its own (the documented way for load balancer and CloudFront targets).
    alias = r.config.get("AliasTarget") or {}
    if alias.get("EvaluateTargetHealth") is True:
        return passed(
            f"PRIMARY alias record evaluates the health of {alias.get('DNSName', '?')}"
        )
    return failed(
        "PRIMARY failover record has no health check, so Route 53 never fails "
        "over to the SECONDARY"
    )


# -- registered domains -------------------------------------------------------------


@control(
    id="route53domains.transfer-lock",
    title="Registered domains have transfer lock on",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DOMAIN,
    rationale=(
        "A domain transferred to another registrar without the owner's consent "
        "hands its DNS, mail and certificates to whoever moved it. The "
        "transfer lock (clientTransferProhibited) makes the registry refuse "
        "such transfers."
    ),
    remediation=(
        "Route 53 console → Registered domains → choose the domain → Actions → "
        "Turn on transfer lock. If the TLD's registry does not support "
        "locking, suppress this finding with that reason."
    ),
    remediation_cli=(
        "aws route53domains enable-domain-transfer-lock --region us-east-1 "
        "--domain-name <domain>"
    ),
)
def domain_transfer_lock(r: ResourceView, ctx: Context) -> Result:
    detail = r.field("DomainDetail") or {}
    statuses = detail.get("StatusList") or []
    if TRANSFER_LOCK_STATUS in statuses:
        return passed(f"status includes {TRANSFER_LOCK_STATUS}")
    shown = ", ".join(statuses) or "none"
    return failed(f"{TRANSFER_LOCK_STATUS} is not set (statuses: {shown})")


@control(
    id="route53domains.privacy-protection",
    title="Registered domains hide contact details (privacy protection)",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=DOMAIN,
    rationale=(
        "Domain registration offers privacy protection; without it the "
        "registrant's, administrator's and technical contact's names, "
        "addresses and e-mail appear in public WHOIS, ready for phishing and "
        "social engineering."
    ),
    remediation=(
        "Route 53 console → Registered domains → choose the domain → Contacts "
        "→ Edit → Privacy protection: Hide contact information → Save."
    ),
    remediation_cli=(
        "aws route53domains update-domain-contact-privacy --region us-east-1 "
        "--domain-name <domain> --admin-privacy --registrant-privacy "
        "--tech-privacy"
    ),
)
def domain_privacy_protection(r: ResourceView, ctx: Context) -> Result:
    detail = r.field("DomainDetail") or {}
    exposed = [field for field in PRIVACY_FIELDS if detail.get(field) is not True]
    if exposed:
        return failed(f"contact details are public: {', '.join(exposed)} off")
    return passed("admin, registrant and tech contacts are privacy-protected")
