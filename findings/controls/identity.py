"""Identity federation control: people sign in through an identity provider.

Kept apart from findings/controls/iam.py (already long) but evaluating the
same ``AWS::IAM::AccountSummary`` record, where the IAM collector stores the
account's SAML and OIDC providers and its IAM Identity Center instances.
"""

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "account-security/individual-user-accounts"
ACCOUNT_SUMMARY = "AWS::IAM::AccountSummary"


@control(
    id="iam.identity-federation-configured",
    title="Human access is federated (IdP or IAM Identity Center)",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "Every person should have an individual identity, managed in one "
        "place. Federating through a SAML identity provider or IAM Identity "
        "Center gives people temporary credentials from the central directory "
        "instead of long-lived IAM users in every account."
    ),
    remediation=(
        "IAM Identity Center console (in the management account) → Enable → "
        "connect the corporate identity source → assign users and groups to "
        "this account with permission sets; or IAM console → Identity providers "
        "→ Add provider → SAML, upload the IdP's metadata and create roles "
        "that trust it."
    ),
    remediation_cli=(
        "aws iam create-saml-provider --name <idp-name> "
        "--saml-metadata-document file://idp-metadata.xml"
    ),
    cis=("1.21", "1.21"),
)
def identity_federation_configured(r: ResourceView, ctx: Context) -> Result:
    # Either source is enough to pass, so one that could not be read only
    # matters when the other does not pass.
    unknown: list[NotEvaluable] = []
    try:
        saml = r.field("SAMLProviders") or []
    except NotEvaluable as exc:
        saml, unknown = [], [*unknown, exc]
    if saml:
        name = str(saml[0].get("Arn", "")).rsplit("/", 1)[-1]
        more = f" (+{len(saml) - 1} more)" if len(saml) > 1 else ""
        return passed(f"SAML identity provider {name}{more}")
    try:
        instances = r.field("IdentityCenterInstances") or []
    except NotEvaluable as exc:
        instances, unknown = [], [*unknown, exc]
    active = [i for i in instances if i.get("Status") == "ACTIVE"]
    if active:
        return passed(
            f"IAM Identity Center instance {active[0].get('InstanceArn')} is ACTIVE"
        )
    if unknown:
        raise unknown[0]
    # OIDC providers usually let workloads (CI pipelines, EKS) assume roles,
    # not people, so they do not count; the reason still names them.
    oidc = r.config.get("OpenIDConnectProviders") or []
    note = (
        f"; the {len(oidc)} OIDC provider(s) serve workloads, not people"
        if oidc
        else ""
    )
    return failed(
        f"no SAML identity provider and no IAM Identity Center instance{note}"
    )
