"""The member-account audit role template (deploy/parapet-audit-role.yaml).

Schema validation is `cfn-lint deploy/parapet-audit-role.yaml` (cfn-lint comes
with moto); it is left out of pytest because importing it takes ~10 s.
"""

from pathlib import Path

import pytest
import yaml

from accounts.models import Organization

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "parapet-audit-role.yaml"


@pytest.fixture(scope="module")
def template() -> dict:
    # Long-form intrinsics keep the template plain YAML: safe_load must read it.
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture
def role(template) -> dict:
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 1
    return roles[0]["Properties"]


def principals(node):
    """Every Principal value anywhere in the template."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Principal", "NotPrincipal"):
                yield value
            yield from principals(value)
    elif isinstance(node, list):
        for item in node:
            yield from principals(item)


def leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from leaves(value)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item)
    else:
        yield node


def test_trust_requires_the_scanner_principal_and_the_external_id(role):
    statements = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1
    trust = statements[0]
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": {"Ref": "ScannerPrincipalArn"}}
    assert trust["Condition"] == {
        "StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}
    }


def test_no_wildcard_principal(template):
    found = list(principals(template))
    assert found
    for principal in found:
        assert principal != "*"
        assert "*" not in list(leaves(principal))


def test_role_is_read_only_through_the_two_managed_policies(template, role):
    arns = [
        entry["Fn::Sub"].replace("${AWS::Partition}", "aws")
        for entry in role["ManagedPolicyArns"]
    ]
    assert sorted(arns) == [
        "arn:aws:iam::aws:policy/SecurityAudit",
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ]
    # Nothing else grants permissions: no inline or extra policies.
    assert "Policies" not in role
    types = {r["Type"] for r in template["Resources"].values()}
    assert types == {"AWS::IAM::Role"}


def test_parameters_and_output(template):
    params = template["Parameters"]
    assert set(params) == {
        "ScannerPrincipalArn",
        "ExternalId",
        "RoleName",
        "MaxSessionDuration",
    }
    assert params["ExternalId"]["MinLength"] == 2
    assert params["ExternalId"].get("NoEcho", False) is False
    # The default role name is the one Parapet assumes by default.
    default_name = Organization._meta.get_field("member_role_name").default
    assert params["RoleName"]["Default"] == default_name
    assert template["Outputs"]["RoleArn"]["Value"] == {
        "Fn::GetAtt": ["AuditRole", "Arn"]
    }


def test_stackset_friendly(template):
    # Nothing tied to one account or region, and no exports (an export name
    # would be the same in every account and region a StackSet touches).
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "AWS::AccountId" not in text
    assert "AWS::Region" not in text
    assert all("Export" not in out for out in template["Outputs"].values())
