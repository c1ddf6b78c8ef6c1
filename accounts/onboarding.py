"""Connecting an organization: who may, the filled-in audit role template and
the commands that deploy it, and the connection test.

The connection test is the one place a web request talks to AWS, so it uses
short timeouts and few retries, and assumes the role afresh every time (see
``try_member_role``).
"""

import json
import re
import shlex
from pathlib import Path

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from accounts.aws import DEFAULT_REGION, base_session, client_config, new_session
from accounts.aws_errors import ErrorKind, classify
from accounts.models import Account, ConnectionTest, Membership, Organization

TEMPLATE_PATH = (
    Path(__file__).resolve().parents[1] / "deploy" / "parapet-audit-role.yaml"
)
STACK_NAME = "parapet-audit-role"
SCANNER_PLACEHOLDER = "arn:aws:iam::<PARAPET-ACCOUNT-ID>:role/<PARAPET-WORKER-ROLE>"
# CloudFormation's bounds on the role's MaxSessionDuration parameter.
MIN_SESSION, MAX_SESSION = 3600, 43200
# The calls accounts.discovery makes in the management account.
DISCOVERY_ACTIONS = [
    "organizations:ListAccounts",
    "organizations:ListParents",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListTagsForResource",
]
# The shortest session STS grants; the test needs it for two calls.
TEST_SESSION_SECONDS = 900
# A button must answer within seconds, not after the scanner's patient retries.
TEST_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 2},
)


# -- Who may see and connect which organization ------------------------------------


def visible_organizations(user) -> QuerySet:
    """Organizations with an account the user may see; staff see all, even
    organizations whose accounts are not discovered yet."""
    if user.is_staff:
        return Organization.objects.all()
    accounts = Account.objects.for_user(user)
    return Organization.objects.filter(pk__in=accounts.values("organization_id"))


def administered_organizations(user) -> QuerySet:
    """Organizations the user may connect: staff all, a team admin those of
    their teams' accounts. The page shows the ExternalId, hence admins only."""
    if not user.is_authenticated:
        return Organization.objects.none()
    if user.is_staff:
        return Organization.objects.all()
    teams = Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values(
        "team_id"
    )
    accounts = Account.objects.filter(teams__in=teams)
    return Organization.objects.filter(pk__in=accounts.values("organization_id"))


def connection_tests_for(user) -> QuerySet:
    """Connection tests of the accounts the user may see (staff: all, including
    tests of a management account that is not discovered yet)."""
    tests = ConnectionTest.objects.all()
    if user.is_staff:
        return tests
    visible = Account.objects.for_user(user).filter(
        organization=OuterRef("organization"), account_id=OuterRef("aws_account_id")
    )
    return tests.filter(Exists(visible))


# -- The audit role template and the commands that deploy it -----------------------


def scanner_principal_arn() -> str:
    return settings.PARAPET_SCANNER_PRINCIPAL_ARN


def template_filename(organization: Organization) -> str:
    return f"parapet-audit-role-{slugify(organization.name) or organization.pk}.yaml"


def audit_role_template(organization: Organization) -> str:
    """deploy/parapet-audit-role.yaml with this organization's values as the
    parameters' defaults, so a console upload needs no typing."""
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    session = min(max(MIN_SESSION, settings.PARAPET_ROLE_SESSION_SECONDS), MAX_SESSION)
    defaults: dict[str, str | int] = {
        "ExternalId": organization.external_id,
        "RoleName": organization.member_role_name,
        "MaxSessionDuration": session,
    }
    if scanner_principal_arn():
        defaults["ScannerPrincipalArn"] = scanner_principal_arn()
    for name, value in defaults.items():
        text = _with_default(text, name, value)
    # The file's own header shows generic commands with placeholders; this
    # copy gets a header of its own instead.
    text = re.sub(r"\A(?:#.*\n)+", "", text)
    return _template_header(organization) + text


def _with_default(template: str, parameter: str, value: str | int) -> str:
    """``template`` with ``Default: value`` on one parameter (replacing any).

    Edited as text, not loaded and dumped, so the template's comments survive.
    A JSON string is a valid YAML double-quoted scalar, so any value is safe.
    """
    start = template.index("\nParameters:\n")
    block = re.compile(rf"^  {re.escape(parameter)}:\n(?:    .*\n)*", re.MULTILINE)
    match = block.search(template, start)
    if match is None:
        raise ValueError(f"{TEMPLATE_PATH.name} has no parameter {parameter}")
    lines = [
        line
        for line in match.group(0).splitlines(keepends=True)
        if not line.startswith("    Default:")
    ]
    lines.insert(1, f"    Default: {json.dumps(value)}\n")
    return template[: match.start()] + "".join(lines) + template[match.end() :]


def _template_header(organization: Organization) -> str:
    name = " ".join(organization.name.split())  # one comment line, whatever was typed
    scanner = (
        "ScannerPrincipalArn"
        if scanner_principal_arn()
        else "(not ScannerPrincipalArn: PARAPET_SCANNER_PRINCIPAL_ARN is not set)"
    )
    return (
        "# The read-only role Parapet assumes in every member account, filled in\n"
        f"# for the organization {name!r}\n"
        f"# (management account {organization.management_account_id}): ExternalId,\n"
        f"# RoleName, MaxSessionDuration and {scanner}\n"
        "# default to its values.\n"
        "#\n"
        "# Deploy it as a service-managed StackSet with stack instances in ONE\n"
        "# region (IAM is global), plus a plain stack in the management account,\n"
        "# which StackSets skip. Parapet's onboarding page shows the commands.\n"
        "#\n"
    )


def _parameter_arguments(organization: Organization) -> str:
    """The stack's parameters as one JSON argument, shell-quoted.

    JSON rather than the CLI's shorthand (``ParameterKey=…,ParameterValue=…``):
    an ExternalId may hold a comma (AWS allows ``+=,.@:/-``), which the
    shorthand would split.
    """
    values = [
        ("ScannerPrincipalArn", scanner_principal_arn() or SCANNER_PLACEHOLDER),
        ("ExternalId", organization.external_id),
        ("RoleName", organization.member_role_name),
    ]
    rows = ",\n".join(
        "    " + json.dumps({"ParameterKey": key, "ParameterValue": value})
        for key, value in values
    )
    return shlex.quote(f"[\n{rows}\n  ]")


def stack_set_commands(organization: Organization) -> str:
    """The StackSet for every member account, with this organization's values.

    IAM is global, so the instances go to one region only; the root id is
    looked up so that the commands run as shown.
    """
    return "\n".join(
        [
            "aws cloudformation create-stack-set \\",
            f"  --stack-set-name {STACK_NAME} \\",
            f"  --template-body file://{template_filename(organization)} \\",
            "  --permission-model SERVICE_MANAGED \\",
            "  --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\",
            "  --capabilities CAPABILITY_NAMED_IAM \\",
            f"  --parameters {_parameter_arguments(organization)}",
            "",
            "ROOT_ID=$(aws organizations list-roots --query 'Roots[0].Id' "
            "--output text)",
            "aws cloudformation create-stack-instances \\",
            f"  --stack-set-name {STACK_NAME} \\",
            '  --deployment-targets OrganizationalUnitIds="$ROOT_ID" \\',
            f"  --regions {DEFAULT_REGION}",
        ]
    )


def management_stack_command(organization: Organization) -> str:
    """A plain stack: service-managed StackSets skip the management account."""
    return "\n".join(
        [
            "aws cloudformation create-stack \\",
            f"  --stack-name {STACK_NAME} \\",
            f"  --template-body file://{template_filename(organization)} \\",
            "  --capabilities CAPABILITY_NAMED_IAM \\",
            f"  --region {DEFAULT_REGION} \\",
            f"  --parameters {_parameter_arguments(organization)}",
        ]
    )


def discovery_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ParapetDiscovery",
                    "Effect": "Allow",
                    "Action": DISCOVERY_ACTIONS,
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def discovery_command(organization: Organization) -> str:
    """add_organization with every current value: it re-runs discovery, and an
    option left out would reset that value (scope included)."""
    options = [
        ("--name", organization.name),
        ("--management-account-id", organization.management_account_id),
        ("--member-role", organization.member_role_name),
        ("--external-id", organization.external_id),
        ("--discovery-role-arn", organization.discovery_role_arn),
        ("--regions", ",".join(organization.regions)),
        ("--services", ",".join(organization.services)),
    ]
    lines = ["python manage.py add_organization"]
    lines += [f"  {flag} {shlex.quote(value)}" for flag, value in options if value]
    if organization.simulated:
        lines.append("  --simulated")
    return " \\\n".join(lines)


# -- The connection test -----------------------------------------------------------


def run_connection_test(
    organization: Organization, aws_account_id: str, user
) -> ConnectionTest:
    """Try the member role in one account and record the outcome."""
    test = ConnectionTest(
        organization=organization,
        aws_account_id=aws_account_id,
        role_arn=organization.member_role_arn(aws_account_id),
        tested_by=user,
        at=timezone.now(),
    )
    try_member_role(test, session_name=f"parapet-connection-test-{user.pk}")
    test.save()
    return test


def _test_client(session, service: str):
    return session.client(
        service,
        region_name=DEFAULT_REGION,
        config=client_config().merge(TEST_CLIENT_CONFIG),
    )


def try_member_role(test: ConnectionTest, *, session_name: str) -> None:
    """Fill ``test`` with the outcome of assuming its role and two cheap reads.

    The role is assumed here, not through ``accounts.aws.assume_role``: that
    one caches sessions (a cached success would hide a trust policy broken
    since) and uses the scanner's long timeouts and many retries, too slow for
    a button. The credentials stay in this function's session object.
    """
    test.step = ConnectionTest.Step.ASSUME
    try:
        response = _test_client(base_session(), "sts").assume_role(
            RoleArn=test.role_arn,
            RoleSessionName=session_name[:64],
            ExternalId=test.organization.external_id,
            DurationSeconds=TEST_SESSION_SECONDS,
        )
        credentials = response["Credentials"]
        session = new_session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=DEFAULT_REGION,
        )
        test.step = ConnectionTest.Step.IDENTITY
        identity = _test_client(session, "sts").get_caller_identity()
        test.identity_arn = identity["Arn"]
        if identity["Account"] != test.aws_account_id:
            test.ok, test.error_kind = False, ErrorKind.OTHER
            test.message = (
                f"the role answered as account {identity['Account']}, "
                f"not {test.aws_account_id}"
            )
            return
        test.step = ConnectionTest.Step.READ
        _test_client(session, "iam").get_account_summary()
    except (BotoCoreError, ClientError) as exc:
        test.ok = False
        test.error_kind, test.message = classify(exc)
        return
    test.ok = True


def fix_hint(test: ConnectionTest) -> str:
    """What to change after a failed test, by the step and the kind of error."""
    if test.ok:
        return ""
    principal = scanner_principal_arn() or "Parapet's scanner principal"
    kind, step = test.error_kind, test.step
    if kind == ErrorKind.ACCESS_DENIED and step == ConnectionTest.Step.ASSUME:
        return (
            f"The role {test.role_arn} must exist (steps 1 and 2), and its trust "
            f"policy must allow {principal} to call sts:AssumeRole with the "
            "condition sts:ExternalId equal to this organization's ExternalId. "
            "Parapet's own credentials must be available and allowed "
            "sts:AssumeRole on that role."
        )
    if kind == ErrorKind.ACCESS_DENIED:
        return (
            "The role was assumed but may not read the account: it needs the "
            "SecurityAudit and ViewOnlyAccess managed policies (the template "
            "attaches both), and no service control policy may deny "
            "iam:GetAccountSummary."
        )
    if kind == ErrorKind.UNREACHABLE:
        return (
            "Parapet could not reach AWS: the server needs outbound HTTPS to "
            "sts.amazonaws.com and iam.amazonaws.com (or to AWS_ENDPOINT_URL when "
            "that is set)."
        )
    if kind == ErrorKind.THROTTLED:
        return "AWS throttled the call; try again in a minute."
    if kind == ErrorKind.UNSUPPORTED:
        return "The endpoint does not implement this call (a local simulator?)."
    if step == ConnectionTest.Step.IDENTITY:
        return "Check the account id and the member role name of the organization."
    return "Run the same call with the AWS CLI as the scanner to see the full error."
