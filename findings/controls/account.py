"""Account-level controls: a reachable security contact, Organizations membership."""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

INCIDENT_RESPONSE = "business-continuity/incident-response"
INDIVIDUAL_USERS = "account-security/individual-user-accounts"
ACCOUNT = "AWS::::Account"


@control(
    id="account.security-contact",
    title="A security alternate contact is registered",
    section=INCIDENT_RESPONSE,
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    rationale=(
        "AWS runs incident response around the clock, but when it sees abuse "
        "or a compromise in an account it can only warn whoever is registered. "
        "A security alternate contact sends those notices to the security team "
        "rather than to the billing or root mailbox alone."
    ),
    remediation=(
        "AWS console → account menu → Account → Alternate contacts → Edit → "
        "Security contact: a monitored team mailbox, name, title and phone → "
        "Update."
    ),
    remediation_cli=(
        "aws account put-alternate-contact --alternate-contact-type SECURITY "
        "--email-address security@example.com --name 'Security team' "
        "--title 'Security' --phone-number '+1-555-0100'"
    ),
    cis=("1.2", "1.2"),
    security_hub=("Account.1",),
)
def security_contact(r: ResourceView, ctx: Context) -> Result:
    contact = r.field("SecurityContact")
    if not contact or not contact.get("EmailAddress"):
        return failed("no security alternate contact is registered")
    name = contact.get("Name")
    who = f"{name} <{contact['EmailAddress']}>" if name else contact["EmailAddress"]
    return passed(f"security contact: {who}")


@control(
    id="account.organizations-member",
    title="Account belongs to an AWS Organizations organization",
    section=INDIVIDUAL_USERS,
    severity=Severity.HIGH,
    resource_type=ACCOUNT,
    rationale=(
        "Individual identities and their permissions are best governed from "
        "one place. An account in an AWS Organizations organization gets the "
        "organization's service control policies, trails and delegated "
        "security services; a standalone account is governed by no one else."
    ),
    remediation=(
        "From the organization's management account: AWS Organizations console "
        "→ AWS accounts → Add an AWS account → Invite an existing account; then "
        "accept the invitation in this account (Organizations console → "
        "Invitations)."
    ),
    remediation_cli=(
        "aws organizations invite-account-to-organization "
        "--target Id=<account-id>,Type=ACCOUNT  # from the management account"
    ),
    security_hub=("Account.2*",),
)
def organizations_member(r: ResourceView, ctx: Context) -> Result:
    organization = r.field("Organization")
    if not organization:
        return failed("the account belongs to no AWS Organizations organization")
    role = (
        "management account"
        if organization.get("MasterAccountId") == r.resource_id
        else "member"
    )
    features = organization.get("FeatureSet")
    feature_set = f" (feature set {features})" if features else ""
    return passed(f"{role} of organization {organization.get('Id')}{feature_set}")
