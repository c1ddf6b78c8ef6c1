"""IAM controls: root user, password policy, users, policies, certificates.

Resource types follow collectors/services/iam.py: the root-user and account
wide checks read the ``AWS::IAM::AccountSummary`` pseudo-resource, the
password rules read ``AWS::IAM::PasswordPolicy``, and the per-user checks run
once per ``AWS::IAM::User`` so every user gets a finding of its own.

Credential-report values are AWS's strings ("true", "false", "N/A",
"no_information", "not_supported", ISO timestamps); last-used values arrive
reduced to dates.
"""

from datetime import UTC, date, datetime
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

CREDENTIALS = "account-security/credentials"
INDIVIDUAL_USERS = "account-security/individual-user-accounts"
X509 = "account-security/x509-certificates"

USER = "AWS::IAM::User"
POLICY = "AWS::IAM::Policy"
SERVER_CERTIFICATE = "AWS::IAM::ServerCertificate"
PASSWORD_POLICY = "AWS::IAM::PasswordPolicy"
ACCOUNT_SUMMARY = "AWS::IAM::AccountSummary"

ROOT_RECENT_DAYS = 30
KEY_ROTATION_DAYS = 90
UNUSED_DAYS = 45

# update-account-password-policy replaces the whole policy: any setting left
# out reverts to its default, so every remediation sets all the CIS values.
PASSWORD_POLICY_CLI = (
    "aws iam update-account-password-policy --minimum-password-length 14 "
    "--password-reuse-prevention 24 --require-uppercase-characters "
    "--require-lowercase-characters --require-numbers --require-symbols "
    "--allow-users-to-change-password"
)
PASSWORD_POLICY_CONSOLE = (
    "IAM console → Account settings → Password policy → Edit → Custom: set "
    "{setting}, keep the other requirements, and Save changes."
)


# -- helpers -----------------------------------------------------------------


def _day(value: Any) -> date | None:
    """A date from an ISO date or timestamp; None for markers such as N/A."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _days_ago(day: date, ctx: Context) -> int:
    return (ctx.now.astimezone(UTC).date() - day).days


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _plural(count: int, noun: str, nouns: str = "") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def _summary_value(r: ResourceView, key: str) -> int:
    summary = r.field("SummaryMap")
    if summary is None or key not in summary:
        raise NotEvaluable(f"account summary has no {key}")
    return int(summary[key])


def _report_row(r: ResourceView, key: str = "CredentialReport") -> dict:
    row = r.field(key)
    if not row:
        raise NotEvaluable(f"{key} is missing")
    return row


def _password_policy(r: ResourceView) -> dict | None:
    """The custom password policy, or None when the account has none."""
    policy = r.field("PasswordPolicy")
    if r.config.get("Exists") is False:
        return None
    if policy is None:
        raise NotEvaluable("password policy was not collected")
    return policy


def _active_keys(r: ResourceView) -> list[dict]:
    keys = r.field("AccessKeys")
    if keys is None:
        raise NotEvaluable("access keys were not collected")
    return [key for key in keys if key.get("Status") == "Active"]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- account-security/credentials: root user ---------------------------------


@control(
    id="iam.root.mfa-enabled",
    title="Root user has MFA enabled",
    section=CREDENTIALS,
    severity=Severity.CRITICAL,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "The root user has unrestricted access to the account. The whitepaper "
        "asks that credentials be protected with MFA, so a stolen root password "
        "alone cannot be used."
    ),
    remediation=(
        "Sign in as the root user → account menu → Security credentials → "
        "Multi-factor authentication (MFA) → Assign MFA device, and follow the "
        "steps (a hardware key is preferred)."
    ),
    # Root MFA is assigned in the console; this shows the flag the check reads.
    remediation_cli=(
        "aws iam get-account-summary --query SummaryMap.AccountMFAEnabled"
    ),
    cis=("1.5", "1.5"),
    security_hub=("IAM.9*",),
)
def root_mfa_enabled(r: ResourceView, ctx: Context) -> Result:
    enabled = _summary_value(r, "AccountMFAEnabled")
    if enabled == 1:
        return passed("root user has MFA enabled (AccountMFAEnabled is 1)")
    return failed(f"root user has no MFA device (AccountMFAEnabled is {enabled})")


@control(
    id="iam.root.hardware-mfa",
    title="Root user MFA is a hardware device (not virtual)",
    section=CREDENTIALS,
    severity=Severity.HIGH,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "A virtual MFA app lives on a phone or laptop that can be lost, cloned "
        "or compromised; the account's most powerful credential should be "
        "protected by a dedicated hardware device, as the whitepaper's MFA "
        "guidance intends."
    ),
    remediation=(
        "Sign in as the root user → Security credentials → Multi-factor "
        "authentication: assign a hardware TOTP token or FIDO security key, "
        "then remove the virtual MFA device."
    ),
    remediation_cli=(
        "aws iam list-virtual-mfa-devices --assignment-status Assigned "
        "--query \"VirtualMFADevices[?ends_with(User.Arn, ':root')]\""
    ),
    cis=("1.6", "1.6"),
    security_hub=("IAM.6",),
)
def root_hardware_mfa(r: ResourceView, ctx: Context) -> Result:
    enabled = _summary_value(r, "AccountMFAEnabled")
    if enabled != 1:
        return failed("root user has no MFA device at all (AccountMFAEnabled is 0)")
    devices = r.field("RootVirtualMFADevices")
    if devices is None:
        raise NotEvaluable("virtual MFA devices were not collected")
    if devices:
        serials = ", ".join(d.get("SerialNumber", "?") for d in devices)
        return failed(f"root user MFA is a virtual device: {serials}")
    return passed("root user MFA is enabled and no virtual MFA device is assigned")


@control(
    id="iam.root.no-access-keys",
    title="Root user has no access keys",
    section=CREDENTIALS,
    severity=Severity.CRITICAL,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "Root access keys give unrestricted, long-lived programmatic access that "
        "no IAM policy can limit; the whitepaper's credential guidance is to do "
        "daily work through individual IAM identities instead."
    ),
    remediation=(
        "Sign in as the root user → Security credentials → Access keys: "
        "deactivate, then delete every key (move any automation that used it to "
        "an IAM role first)."
    ),
    remediation_cli=(
        "aws iam delete-access-key --access-key-id <root-key-id>  "
        "# run with the root user's own credentials"
    ),
    cis=("1.4", "1.4"),
    security_hub=("IAM.4",),
)
def root_no_access_keys(r: ResourceView, ctx: Context) -> Result:
    present = _summary_value(r, "AccountAccessKeysPresent")
    if present == 0:
        return passed("root user has no access keys (AccountAccessKeysPresent is 0)")
    return failed(
        f"root user has an access key (AccountAccessKeysPresent is {present})"
    )


@control(
    id="iam.root.not-recently-used",
    title="Root user not used for daily tasks",
    section=CREDENTIALS,
    severity=Severity.HIGH,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "Every use of the root user exposes credentials that cannot be scoped "
        "down; the whitepaper's individual-accounts guidance is to work through "
        "IAM identities and keep root for the few tasks that need it."
    ),
    remediation=(
        "Create IAM roles or IAM Identity Center users for administration, stop "
        "signing in as root, and delete any root access keys. Review CloudTrail "
        "for the recent root activity."
    ),
    remediation_cli=(
        "aws iam generate-credential-report && aws iam get-credential-report "
        "--query Content --output text | base64 -d | grep '<root_account>'"
    ),
    cis=("1.7", "1.7"),
    security_hub=("IAM.20*",),
)
def root_not_recently_used(r: ResourceView, ctx: Context) -> Result:
    row = _report_row(r, "RootCredentialReport")
    uses = {
        "password": "password_last_used",
        "access key 1": "access_key_1_last_used_date",
        "access key 2": "access_key_2_last_used_date",
    }
    recent = []
    for label, column in uses.items():
        day = _day(row.get(column))
        if day is not None and _days_ago(day, ctx) <= ROOT_RECENT_DAYS:
            recent.append(
                f"{label} used {day.isoformat()} ({_ago(_days_ago(day, ctx))})"
            )
    if recent:
        return failed("root user used within 30 days: " + "; ".join(recent))
    return passed(f"root user not used in the last {ROOT_RECENT_DAYS} days")


# -- account-security/credentials: password policy --------------------------


@control(
    id="iam.password-policy.min-length-14",
    title="Password policy requires 14+ characters",
    section=CREDENTIALS,
    severity=Severity.MEDIUM,
    resource_type=PASSWORD_POLICY,
    rationale=(
        "Long passwords resist guessing and brute force; the whitepaper's "
        "credential guidance starts with strong passwords for IAM users."
    ),
    remediation=PASSWORD_POLICY_CONSOLE.format(setting="Password minimum length to 14"),
    remediation_cli=PASSWORD_POLICY_CLI,
    cis=("1.8", "1.8"),
    security_hub=("IAM.15*",),
)
def password_min_length(r: ResourceView, ctx: Context) -> Result:
    policy = _password_policy(r)
    if policy is None:
        return failed("no password policy is set (the AWS default allows 8 characters)")
    length = policy.get("MinimumPasswordLength")
    if length is not None and length >= 14:
        return passed(f"MinimumPasswordLength is {length}")
    return failed(f"MinimumPasswordLength is {length}, below 14")


@control(
    id="iam.password-policy.reuse-24",
    title="Password policy prevents reuse of last 24 passwords",
    section=CREDENTIALS,
    severity=Severity.LOW,
    resource_type=PASSWORD_POLICY,
    rationale=(
        "Preventing reuse stops users cycling back to a password that may "
        "already have leaked, part of protecting credentials as the whitepaper "
        "asks."
    ),
    remediation=PASSWORD_POLICY_CONSOLE.format(setting="Prevent password reuse to 24"),
    remediation_cli=PASSWORD_POLICY_CLI,
    cis=("1.9", "1.9"),
    security_hub=("IAM.16*",),
)
def password_reuse(r: ResourceView, ctx: Context) -> Result:
    policy = _password_policy(r)
    if policy is None:
        return failed("no password policy is set, so password reuse is allowed")
    reuse = policy.get("PasswordReusePrevention")
    if reuse is None:
        return failed("PasswordReusePrevention is not set: old passwords can be reused")
    if reuse >= 24:
        return passed(f"PasswordReusePrevention is {reuse}")
    return failed(f"PasswordReusePrevention is {reuse}, below 24")


@control(
    id="iam.password-policy.complexity",
    title="Password policy requires upper, lower, number and symbol",
    section=CREDENTIALS,
    severity=Severity.MEDIUM,
    resource_type=PASSWORD_POLICY,
    rationale=(
        "Requiring every character class widens the search space an attacker "
        "must cover, complementing length in protecting IAM user passwords."
    ),
    remediation=PASSWORD_POLICY_CONSOLE.format(
        setting=(
            "Require at least one uppercase letter, one lowercase letter, one "
            "number and one non-alphanumeric character"
        )
    ),
    remediation_cli=PASSWORD_POLICY_CLI,
    security_hub=("IAM.7",),
)
def password_complexity(r: ResourceView, ctx: Context) -> Result:
    policy = _password_policy(r)
    if policy is None:
        return failed("no password policy is set, so no character classes are required")
    required = (
        "RequireUppercaseCharacters",
        "RequireLowercaseCharacters",
        "RequireNumbers",
        "RequireSymbols",
    )
    problems = [f"{flag} is off" for flag in required if not policy.get(flag)]
    length = policy.get("MinimumPasswordLength")
    if length is None or length < 8:
        problems.append(f"MinimumPasswordLength is {length}, below 8")
    if problems:
        return failed("; ".join(problems))
    return passed(
        f"all four character classes required, MinimumPasswordLength is {length}"
    )


# -- account-security/credentials: users -------------------------------------


@control(
    id="iam.user.console-mfa",
    title="Every IAM user with a console password has MFA",
    section=CREDENTIALS,
    severity=Severity.HIGH,
    resource_type=USER,
    rationale=(
        "The whitepaper recommends protecting credentials with MFA; a console "
        "password without a second factor is one phishing email away from "
        "account access."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → Multi-factor "
        "authentication (MFA) → Assign MFA device. Or require MFA through an "
        "IAM policy condition (aws:MultiFactorAuthPresent)."
    ),
    remediation_cli=(
        "aws iam enable-mfa-device --user-name <user> --serial-number <mfa-arn> "
        "--authentication-code1 <code1> --authentication-code2 <code2>"
    ),
    cis=("1.10", "1.10"),
    security_hub=("IAM.5",),
)
def user_console_mfa(r: ResourceView, ctx: Context) -> Result:
    row = _report_row(r)
    if row.get("password_enabled") != "true":
        return not_applicable("user has no console password")
    if row.get("mfa_active") == "true":
        return passed("console password is protected by MFA")
    return failed("user has a console password but no MFA device")


@control(
    id="iam.user.access-key-rotated-90d",
    title="Active access keys are rotated within 90 days",
    section=CREDENTIALS,
    severity=Severity.MEDIUM,
    resource_type=USER,
    rationale=(
        "Long-lived access keys accumulate exposure in scripts, logs and "
        "laptops; rotating them limits how long a leaked key stays useful."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → Create access "
        "key; move applications to the new key, then deactivate and delete the "
        "old one."
    ),
    remediation_cli=(
        "aws iam create-access-key --user-name <user> && aws iam "
        "update-access-key --user-name <user> --access-key-id <old-key-id> "
        "--status Inactive"
    ),
    cis=("1.14", "1.14"),
    security_hub=("IAM.3",),
)
def user_access_key_rotated(r: ResourceView, ctx: Context) -> Result:
    active = _active_keys(r)
    if not active:
        return not_applicable("user has no active access keys")
    stale = []
    for key in active:
        created = _moment(key.get("CreateDate"))
        if created is None:
            raise NotEvaluable(f"access key {key.get('AccessKeyId')} has no CreateDate")
        age = (ctx.now - created).days
        if age > KEY_ROTATION_DAYS:
            stale.append(
                f"{key['AccessKeyId']} is {age} days old "
                f"(created {created.date().isoformat()})"
            )
    if stale:
        return failed("access key not rotated in 90 days: " + "; ".join(stale))
    return passed(f"{_plural(len(active), 'active access key')} created within 90 days")


@control(
    id="iam.user.single-active-access-key",
    title="No IAM user has more than one active access key",
    section=CREDENTIALS,
    severity=Severity.MEDIUM,
    resource_type=USER,
    rationale=(
        "A second active key is usually a rotation left unfinished, doubling "
        "the credentials that can leak for one individual user."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → Access keys: "
        "find the key no longer in use (see Last used), deactivate it, then "
        "delete it."
    ),
    remediation_cli=(
        "aws iam update-access-key --user-name <user> --access-key-id <key-id> "
        "--status Inactive"
    ),
    cis=("1.13", "1.13"),
)
def user_single_active_key(r: ResourceView, ctx: Context) -> Result:
    active = _active_keys(r)
    if len(active) <= 1:
        return passed(f"{_plural(len(active), 'active access key')}")
    ids = ", ".join(key["AccessKeyId"] for key in active)
    return failed(f"{len(active)} active access keys: {ids}")


@control(
    id="iam.user.no-initial-access-key",
    title="No unused access key created at setup for console users",
    section=CREDENTIALS,
    severity=Severity.LOW,
    resource_type=USER,
    rationale=(
        "Keys created by default when a console user is set up are usually "
        "never needed; an unused credential is exposure with no benefit."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → Access keys: "
        "delete each key whose Last used is N/A, and create keys only when the "
        "user needs programmatic access."
    ),
    remediation_cli=(
        "aws iam delete-access-key --user-name <user> --access-key-id <key-id>"
    ),
    cis=("1.11", "1.11"),
)
def user_no_initial_key(r: ResourceView, ctx: Context) -> Result:
    row = _report_row(r)
    if row.get("password_enabled") != "true":
        return not_applicable("user has no console password")
    unused = [
        f"access key {n}"
        for n in (1, 2)
        if row.get(f"access_key_{n}_active") == "true"
        and row.get(f"access_key_{n}_last_used_date") == "N/A"
    ]
    if unused:
        return failed(
            "console user has an active access key that was never used: "
            + ", ".join(unused)
        )
    return passed("console user has no active, never-used access key")


@control(
    id="iam.user.console-password-unused-45d",
    title="Console passwords unused for 45+ days are disabled",
    section=CREDENTIALS,
    severity=Severity.MEDIUM,
    resource_type=USER,
    rationale=(
        "A password nobody uses is a credential nobody watches; disabling it "
        "keeps user accounts individual and accounted for."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → Console "
        "sign-in → Manage console access → Disable."
    ),
    remediation_cli="aws iam delete-login-profile --user-name <user>",
    cis=("1.12", "1.12"),
    security_hub=("IAM.22*",),
)
def user_console_password_unused(r: ResourceView, ctx: Context) -> Result:
    row = _report_row(r)
    if row.get("password_enabled") != "true":
        return not_applicable("user has no console password")
    used = _day(row.get("password_last_used"))
    if used is not None:
        days = _days_ago(used, ctx)
        what = f"console password last used {used.isoformat()} ({_ago(days)})"
    else:
        # Never used: count from when the password was set.
        since = _day(row.get("password_last_changed")) or _day(
            row.get("user_creation_time")
        )
        if since is None:
            raise NotEvaluable("credential report has no password dates")
        days = _days_ago(since, ctx)
        what = f"console password never used since set on {since.isoformat()}"
    if days > UNUSED_DAYS:
        return failed(f"{what}, more than {UNUSED_DAYS} days")
    return passed(what)


@control(
    id="iam.user.access-key-unused-45d",
    title="Access keys unused for 45+ days are deactivated",
    section=CREDENTIALS,
    severity=Severity.MEDIUM,
    resource_type=USER,
    rationale=(
        "An active key nobody uses can only serve an attacker; deactivating it "
        "removes a credential without affecting any workload."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → Access keys: "
        "check Last used, then Actions → Deactivate (delete it once nothing "
        "breaks)."
    ),
    remediation_cli=(
        "aws iam update-access-key --user-name <user> --access-key-id <key-id> "
        "--status Inactive"
    ),
    cis=("1.12", "1.12"),
    security_hub=("IAM.22*",),
)
def user_access_key_unused(r: ResourceView, ctx: Context) -> Result:
    active = _active_keys(r)
    if not active:
        return not_applicable("user has no active access keys")
    last_used = r.field("AccessKeyLastUsed")
    if last_used is None:
        raise NotEvaluable("access key last-used dates were not collected")
    stale = []
    for key in active:
        key_id = key["AccessKeyId"]
        if key_id not in last_used:
            raise NotEvaluable(f"last use of access key {key_id} was not collected")
        used = _day(last_used[key_id])
        if used is not None:
            days = _days_ago(used, ctx)
            what = f"{key_id} last used {used.isoformat()} ({_ago(days)})"
        else:
            created = _day(key.get("CreateDate"))
            if created is None:
                raise NotEvaluable(f"access key {key_id} has no CreateDate")
            days = _days_ago(created, ctx)
            what = f"{key_id} never used since created {created.isoformat()}"
        if days > UNUSED_DAYS:
            stale.append(what)
    if stale:
        return failed(
            f"active access key unused for more than {UNUSED_DAYS} days: "
            + "; ".join(stale)
        )
    return passed(
        f"every active access key was used (or created) in the last {UNUSED_DAYS} days"
    )


# -- account-security/individual-user-accounts --------------------------------


@control(
    id="iam.user.no-direct-policies",
    title="IAM users get permissions only through groups",
    section=INDIVIDUAL_USERS,
    severity=Severity.LOW,
    resource_type=USER,
    rationale=(
        "The whitepaper has IAM manage the permissions of individual users; "
        "granting them through groups (or roles) keeps access consistent and "
        "reviewable as people join and leave."
    ),
    remediation=(
        "IAM console → User groups: create a group with the needed policies and "
        "add the user; then on the user's Permissions tab remove the directly "
        "attached and inline policies."
    ),
    remediation_cli=(
        "aws iam detach-user-policy --user-name <user> --policy-arn <policy-arn> "
        "&& aws iam delete-user-policy --user-name <user> --policy-name <name>"
    ),
    cis=("1.15", "1.15"),
    security_hub=("IAM.2",),
)
def user_no_direct_policies(r: ResourceView, ctx: Context) -> Result:
    attached = r.field("AttachedPolicies")
    inline = r.field("InlinePolicyNames")
    if attached is None or inline is None:
        raise NotEvaluable("user policies were not collected")
    problems = []
    if attached:
        names = ", ".join(p.get("PolicyName", "?") for p in attached)
        count = _plural(len(attached), "managed policy", "managed policies")
        problems.append(f"{count} attached directly ({names})")
    if inline:
        count = _plural(len(inline), "inline policy", "inline policies")
        problems.append(f"{count} ({', '.join(inline)})")
    if problems:
        return failed(" and ".join(problems))
    return passed("no managed or inline policies attached to the user directly")


@control(
    id="iam.policy.no-full-admin",
    title='No attached customer policy grants "*:*"',
    section=INDIVIDUAL_USERS,
    severity=Severity.HIGH,
    resource_type=POLICY,
    rationale=(
        "IAM manages what each identity may do; a policy allowing every action "
        "on every resource removes that control for everyone it is attached "
        "to, against least privilege."
    ),
    remediation=(
        "IAM console → Policies → the policy → Edit: replace the Allow * on * "
        "statement with the actions and resources actually needed, save as the "
        "default version (or detach the policy)."
    ),
    remediation_cli=(
        "aws iam create-policy-version --policy-arn <policy-arn> "
        "--policy-document file://least-privilege.json --set-as-default"
    ),
    cis=("1.16", "1.16"),
    security_hub=("IAM.1",),
)
def policy_no_full_admin(r: ResourceView, ctx: Context) -> Result:
    version = r.field("DefaultVersion")
    if not version:
        raise NotEvaluable("default policy version was not collected")
    document = version.get("Document")
    if not isinstance(document, dict):
        raise NotEvaluable("policy document is not valid JSON")
    version_id = version.get("VersionId", "default version")
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        # "*:*" is not documented but IAM accepts it as every action.
        actions = {a for a in _as_list(statement.get("Action")) if a in ("*", "*:*")}
        if actions and "*" in _as_list(statement.get("Resource")):
            sid = statement.get("Sid")
            label = f'statement "{sid}"' if sid else f"statement {index + 1}"
            return failed(
                f'{version_id} {label} allows Action "{sorted(actions)[0]}" '
                'on Resource "*" (full administrator)'
            )
    return passed(f'{version_id} has no statement allowing "*" on "*"')


@control(
    id="iam.role.support-role-exists",
    title="A role can manage incidents with AWS Support",
    section=INDIVIDUAL_USERS,
    severity=Severity.LOW,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "Incidents are handled faster when an authorised role can open and "
        "manage AWS Support cases, without sharing root or personal "
        "credentials."
    ),
    remediation=(
        "IAM console → Roles → Create role: trusted entity your account (or "
        "your identity provider), attach the AWSSupportAccess managed policy, "
        "name it (e.g. aws-support) and create."
    ),
    remediation_cli=(
        "aws iam create-role --role-name aws-support --assume-role-policy-document "
        "file://trust.json && aws iam attach-role-policy --role-name aws-support "
        "--policy-arn arn:aws:iam::aws:policy/AWSSupportAccess"
    ),
    cis=("1.17", "1.17"),
    security_hub=("IAM.18*",),
)
def support_role_exists(r: ResourceView, ctx: Context) -> Result:
    entities = r.field("AWSSupportAccess")
    if entities is None:
        if "AWSSupportAccess" not in r.config:
            raise NotEvaluable("AWSSupportAccess attachments were not collected")
        return failed("the AWSSupportAccess policy does not exist, so no role has it")
    roles = [role.get("RoleName", "?") for role in entities.get("PolicyRoles", [])]
    if roles:
        return passed(f"AWSSupportAccess is attached to role {', '.join(roles)}")
    others = [u.get("UserName", "?") for u in entities.get("PolicyUsers", [])] + [
        g.get("GroupName", "?") for g in entities.get("PolicyGroups", [])
    ]
    if others:
        return failed(
            "AWSSupportAccess is attached to no role, only to users or groups: "
            + ", ".join(others)
        )
    return failed("AWSSupportAccess is attached to no role")


@control(
    id="iam.policy.cloudshell-full-access-restricted",
    title="AWSCloudShellFullAccess is attached to no identity",
    section=INDIVIDUAL_USERS,
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT_SUMMARY,
    rationale=(
        "AWSCloudShellFullAccess allows uploading and downloading files "
        "through CloudShell, a data-exfiltration path outside the permissions "
        "IAM otherwise grants each user."
    ),
    remediation=(
        "IAM console → Policies → AWSCloudShellFullAccess → Entities attached: "
        "detach it from every user, group and role; grant a narrower custom "
        "policy where CloudShell is needed."
    ),
    remediation_cli=(
        "aws iam detach-role-policy --role-name <role> "
        "--policy-arn arn:aws:iam::aws:policy/AWSCloudShellFullAccess"
    ),
    cis=("1.22", "1.22"),
    security_hub=("IAM.27*",),
)
def cloudshell_full_access_restricted(r: ResourceView, ctx: Context) -> Result:
    entities = r.field("AWSCloudShellFullAccess")
    if entities is None:
        if "AWSCloudShellFullAccess" not in r.config:
            raise NotEvaluable("AWSCloudShellFullAccess attachments were not collected")
        return passed("the AWSCloudShellFullAccess policy does not exist here")
    attached = (
        [f"user {e.get('UserName', '?')}" for e in entities.get("PolicyUsers", [])]
        + [f"group {e.get('GroupName', '?')}" for e in entities.get("PolicyGroups", [])]
        + [f"role {e.get('RoleName', '?')}" for e in entities.get("PolicyRoles", [])]
    )
    if attached:
        return failed("AWSCloudShellFullAccess is attached to " + ", ".join(attached))
    return passed("AWSCloudShellFullAccess is attached to no user, group or role")


# -- account-security/x509-certificates ----------------------------------------


@control(
    id="iam.server-certificate.not-expired",
    title="No expired SSL/TLS certificates stored in IAM",
    section=X509,
    severity=Severity.MEDIUM,
    resource_type=SERVER_CERTIFICATE,
    rationale=(
        "An expired X.509 certificate left in IAM can be deployed to a load "
        "balancer or CloudFront by mistake, breaking TLS or undermining trust "
        "in the service."
    ),
    remediation=(
        "Replace the certificate where it is in use (ideally with an ACM "
        "certificate), then delete the expired one from IAM (server "
        "certificates are managed only through the CLI or API)."
    ),
    remediation_cli=(
        "aws iam delete-server-certificate --server-certificate-name <name>"
    ),
    cis=("1.19", "1.19"),
    security_hub=("IAM.26*",),
)
def server_certificate_not_expired(r: ResourceView, ctx: Context) -> Result:
    expiration = _moment(r.config.get("Expiration"))
    if expiration is None:
        raise NotEvaluable("certificate has no Expiration")
    days = (expiration - ctx.now).days
    when = expiration.date().isoformat()
    if expiration > ctx.now:
        return passed(f"certificate expires {when} (in {_plural(days, 'day')})")
    return failed(f"certificate expired on {when} ({_ago(-days)})")


@control(
    id="iam.user.no-active-signing-certificate",
    title="No active X.509 signing certificates on IAM users (legacy SOAP signing)",
    section=X509,
    severity=Severity.LOW,
    resource_type=USER,
    rationale=(
        "X.509 signing certificates were used to sign SOAP requests; SOAP is "
        "retired, so an active certificate is a leftover credential that "
        "serves no purpose."
    ),
    remediation=(
        "IAM console → Users → the user → Security credentials → X.509 signing "
        "certificates: make each certificate inactive, then delete it."
    ),
    remediation_cli=(
        "aws iam update-signing-certificate --user-name <user> "
        "--certificate-id <certificate-id> --status Inactive"
    ),
)
def user_no_active_signing_certificate(r: ResourceView, ctx: Context) -> Result:
    certificates = r.field("SigningCertificates")
    if certificates is None:
        raise NotEvaluable("signing certificates were not collected")
    active = [c for c in certificates if c.get("Status") == "Active"]
    if active:
        ids = ", ".join(c.get("CertificateId", "?") for c in active)
        return failed(f"active X.509 signing certificate: {ids}")
    return passed(
        f"no active signing certificate ({_plural(len(certificates), 'certificate')} "
        "in total)"
    )
