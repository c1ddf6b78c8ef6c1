"""AWS Data Pipeline controls: pipeline logs and the power of pipeline roles.

Data Pipeline moves and processes data on schedules and creates the IAM roles
it needs (DataPipelineDefaultRole, DataPipelineDefaultResourceRole). It has
been closed to new customers since 2024-07-25, but existing pipelines run on.
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
from findings.controls.policy import as_list, statements

SECTION = "service/analytics/data-pipeline"
PIPELINE = "AWS::DataPipeline::Pipeline"

ROLE_FIELDS = ("role", "resourceRole")
ADMIN_POLICY_NAME = "AdministratorAccess"
ADMIN_POLICY = f"policy/{ADMIN_POLICY_NAME}"
DEFAULT_OBJECT = "Default"


def _objects(r: ResourceView) -> list[dict]:
    objects = r.field("PipelineObjects")
    if objects is None:
        raise NotEvaluable("the pipeline definition was not collected")
    return objects


def _full_access(document: object) -> str | None:
    """The Sid (or position) of an Allow of "*" on "*", if any."""
    if not isinstance(document, dict):
        return None
    for index, statement in enumerate(statements(document), start=1):
        if statement.get("Effect") != "Allow":
            continue
        actions = {str(a) for a in as_list(statement.get("Action"))}
        if actions & {"*", "*:*"} and "*" in as_list(statement.get("Resource")):
            return f'"{statement["Sid"]}"' if statement.get("Sid") else f"{index}"
    return None


def _role_problems(name: str, role: dict) -> list[str]:
    if not role.get("Exists", True):
        return []  # a deleted role grants nothing (the pipeline will fail)
    problems = []
    for policy in role.get("AttachedPolicies") or []:
        arn = str(policy.get("PolicyArn", ""))
        parts = arn.split(":")
        # The AWS managed policy (account field "aws"), in any partition.
        if len(parts) > 5 and parts[4] == "aws" and parts[5] == ADMIN_POLICY:
            problems.append(f"role {name} has {ADMIN_POLICY_NAME} attached")
    for policy_name, document in sorted((role.get("InlinePolicies") or {}).items()):
        where = _full_access(document)
        if where:
            problems.append(
                f"role {name} inline policy {policy_name} statement {where} allows "
                'Action "*" on Resource "*"'
            )
    return problems


@control(
    id="datapipeline.pipeline.logging",
    title="Data Pipeline pipelines write logs to S3",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=PIPELINE,
    rationale=(
        "User-activity logging is a feature to always configure. A pipeline "
        "log URI keeps the task runner's logs of every activity in S3, which "
        "the console's run history does not retain."
    ),
    remediation=(
        "Data Pipeline console → choose the pipeline → Edit in Architect → "
        "Others → Default → Add an optional field → Pipeline Log Uri → "
        "s3://<log-bucket>/<prefix>/ → Save and activate."
    ),
    remediation_cli=(
        "aws datapipeline put-pipeline-definition --pipeline-id <pipeline-id> "
        "--pipeline-definition file://definition-with-pipelineLogUri.json"
    ),
)
def pipeline_logging(r: ResourceView, ctx: Context) -> Result:
    objects = _objects(r)
    if not objects:
        return not_applicable("pipeline has no definition yet, so nothing runs")
    default = next((o for o in objects if o.get("id") == DEFAULT_OBJECT), None)
    if default is None:
        return failed("definition has no Default object, so no pipelineLogUri")
    uri = default.get("pipelineLogUri")
    if uri:
        return passed(f"logs go to {uri}")
    return failed("the Default object has no pipelineLogUri: logs are not kept")


@control(
    id="datapipeline.pipeline.roles-not-admin",
    title="Data Pipeline roles are not administrators",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=PIPELINE,
    rationale=(
        "Data Pipeline runs activities with the pipeline role and on "
        "instances with the resource role. An administrator role lets any "
        "activity, script or compromised instance do anything in the account."
    ),
    remediation=(
        "IAM console → Roles → the pipeline's role and resource role → "
        "Permissions → detach AdministratorAccess and remove inline statements "
        'allowing "*" on "*"; attach AWSDataPipelineRole and '
        "AmazonEC2RoleforDataPipelineRole (or narrower policies) instead."
    ),
    remediation_cli=(
        "aws iam detach-role-policy --role-name <role> "
        "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
    ),
)
def pipeline_roles_not_admin(r: ResourceView, ctx: Context) -> Result:
    objects = _objects(r)
    named: set[str] = set()
    for item in objects:
        for key in ROLE_FIELDS:
            value = str(item.get(key) or "").strip()
            if not value:
                continue
            if "#{" in value:
                raise NotEvaluable(
                    f"{item.get('id')}.{key} is an unresolved parameter ({value})"
                )
            # A role given as an ARN is named by its last path segment.
            named.add(value.rsplit("/", 1)[-1])
    if not named:
        return passed("the definition names no role")
    roles = r.field("Roles")
    if roles is None:
        raise NotEvaluable("the roles' policies were not collected")
    problems = []
    for name in sorted(named):
        role = roles.get(name)
        if role is None:
            raise NotEvaluable(f"role {name} was not collected")
        problems.extend(_role_problems(name, role))
    if problems:
        return failed("; ".join(problems))
    return passed(f"no pipeline role is an administrator ({', '.join(sorted(named))})")
